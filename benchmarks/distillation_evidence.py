"""What can distillation pass on the simulated subject? The teacher's targets against the simulator's truth.

Distillation helps a student only with information beyond the label that is also in the EEG.
The simulator knows both sides: every image has a latent vector ``z = prototype[class] +
variation`` that drives the EEG response linearly and the image's appearance. This script
measures, on one simulated session:

1. the *ideal* soft targets: the class posterior given the image's true latent,
   ``p*(c | z) ~ exp(-|z - prototype_c|^2 / (2 * IMAGE_SCALE^2))`` - how ambiguous the images
   really are (if it is one-hot, no teacher can add image-level knowledge beyond the label);
2. the teacher's targets: in-fold (the head scores the images it was fitted on: what the
   calibration did before) and out-of-fold, at T = 1 and higher T: accuracy, mean max
   probability, entropy, the mass they put on the true class;
3. whether the teacher's off-class mass follows the truth: Spearman correlation between the
   teacher's class-similarity matrix (mean target of class c on class c') and the prototypes'
   similarity (negative distance), and between per-image off-class targets and ``p*`` at a
   flatter temperature;
4. how much image-level (within-class) signal the EEG carries: the energy of the noise-free
   evoked responses within classes vs between classes, against the background per trial.

With ``--study DIR`` (a finished or running ``rtdecode study`` folder) it also asks the runs:

5. is the teacher's confusion structure the EEG's? Spearman correlation, over class pairs, of the
   plain student's confusion matrix (pooled over runs) with the teacher's class-similarity matrix
   and with the prototypes' similarity;
6. where does distillation change the student? top-1 of distilled and plain runs on test trials
   whose image the teacher gets right vs wrong (out of fold).

Run:  python benchmarks/distillation_evidence.py SESSION.xdf [--study DIR] [--out bench-results/distillation_evidence.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from bench_common import write_result  # noqa: E402 (a sibling script)
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]


def _spearman_offdiag(a: np.ndarray, b: np.ndarray) -> float:
    mask = ~np.eye(len(a), dtype=bool)
    return float(stats.spearmanr(a[mask], b[mask]).statistic)


def _study_evidence(folder: Path, protos: np.ndarray) -> dict:
    """Confusion alignment and teacher-right/wrong accuracies from a study's runs."""
    from calibration.splits import block_split
    from calibration.study import JOURNAL, StudyConfig

    runs_file = folder / "runs.jsonl" if (folder / "runs.jsonl").is_file() else folder / JOURNAL
    runs = [json.loads(line) for line in runs_file.read_text(encoding="utf-8").splitlines()]
    cfg = StudyConfig()
    n_classes = len(protos)
    confusion = np.zeros((n_classes, n_classes))
    teacher_matrix = np.zeros((n_classes, n_classes))
    groups: dict[str, dict[str, list[float]]] = {}
    wrong, total = 0, 0
    for r in runs:
        prepared = Path(r["prepared"])
        labels = np.load(prepared / "labels.npy")
        soft = np.load(prepared / "soft.npy")
        split = block_split(np.load(prepared / "blocks.npy"), cfg.test_fraction, cfg.val_fraction, r["seed"])
        y, pred = np.asarray(r["y_test"]), np.asarray(r["pred_test"])
        assert np.array_equal(labels[split.test], y), "the study used other split fractions"
        teacher_right = soft[split.test].argmax(1) == y
        wrong, total = wrong + int((~teacher_right).sum()), total + len(y)
        for name, mask in (("teacher_right", teacher_right), ("teacher_wrong", ~teacher_right)):
            if mask.any():
                groups.setdefault(r["model"], {}).setdefault(name, []).append(
                    float(np.mean(pred[mask] == y[mask]))
                )
        if not r["distill"]:
            np.add.at(confusion, (y, pred), 1)
        for c in range(n_classes):
            teacher_matrix[c] += soft[labels == c].mean(0)
    confusion /= np.maximum(confusion.sum(1, keepdims=True), 1)
    proto_sim = -np.sqrt(((protos[:, None] - protos[None]) ** 2).sum(-1))
    return {
        "runs": len(runs),
        "eeg_confusion_vs_teacher_spearman": _spearman_offdiag(confusion, teacher_matrix),
        "eeg_confusion_vs_prototypes_spearman": _spearman_offdiag(confusion, proto_sim),
        "top1_by_teacher_correctness": {
            model: {name: float(np.mean(v)) for name, v in g.items()} for model, g in groups.items()
        },
        "teacher_wrong_fraction_of_test_trials": wrong / max(total, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("session", help="a simulated session (.xdf) with its <stem>_images folder")
    p.add_argument("--teacher", default="auto")
    p.add_argument("--teacher-weights", default=None)
    p.add_argument("--temperatures", default="1,2,4")
    p.add_argument("--study", default=None, help="a study folder (runs.jsonl or runs.partial.jsonl)")
    p.add_argument("--out", default=str(ROOT / "bench-results" / "distillation_evidence.json"))
    args = p.parse_args(argv)

    from calibration.image_encoder import load_image_encoder
    from calibration.soft_targets import (
        cached_embeddings,
        fit_linear,
        image_paths,
        out_of_fold_logits,
        softmax,
        target_statistics,
    )
    from calibration.teacher_choice import resolve_teacher
    from rtdecode.io import read_recording
    from rtdecode.sim.evoked import snr_channels
    from rtdecode.sim.oracle import subject_from_recording
    from rtdecode.sim.stimuli import IMAGE_SCALE

    session = Path(args.session)
    recording = read_recording(session)
    subject = subject_from_recording(recording)
    ids, labels = list(subject.image_ids), np.asarray(subject.image_labels)
    z, protos = subject.image_latents, subject.prototypes
    n_classes = len(protos)
    d2 = ((z[:, None, :] - protos[None]) ** 2).sum(-1)  # (n_images, n_classes)

    result: dict = {"session": str(session), "n_classes": n_classes, "n_images": len(ids)}
    # 1. The ideal targets: the Bayes posterior of the class given the true latent.
    ideal = softmax(-d2 / (2 * IMAGE_SCALE**2))
    result["ideal_latent_posterior"] = target_statistics(ideal, labels)
    nearest_other = np.sort(np.where(np.eye(n_classes, dtype=bool)[labels], np.inf, d2), axis=1)[:, 0]
    own = d2[np.arange(len(labels)), labels]
    result["latent_margin"] = {
        "mean_distance_to_own_prototype": float(np.sqrt(own).mean()),
        "mean_distance_to_nearest_other_prototype": float(np.sqrt(nearest_other).mean()),
    }

    # 2. The teacher's targets.
    choice = resolve_teacher(args.teacher, args.teacher_weights)
    image_folder = session.parent / recording.metadata["image_dir"]
    paths = image_paths(image_folder)
    encoder = load_image_encoder(choice.model_name, choice.pretrained, "cpu")
    emb = cached_embeddings(encoder, [paths[i] for i in ids]).astype(np.float64)
    result["teacher"] = {"encoder": encoder.name, "weight_source": choice.source}
    w, b = fit_linear(emb, labels, n_classes, 1.0)
    in_fold = emb @ w.T + b
    oof = out_of_fold_logits(emb, labels, n_classes, folds=5, seed=0)
    temps = [float(t) for t in args.temperatures.split(",")]
    result["in_fold_targets"] = {f"T={t:g}": target_statistics(softmax(in_fold, t), labels) for t in temps}
    result["out_of_fold_targets"] = {f"T={t:g}": target_statistics(softmax(oof, t), labels) for t in temps}

    # 3. Does the teacher's similarity structure follow the truth?
    proto_sim = -np.sqrt(((protos[:, None] - protos[None]) ** 2).sum(-1))
    agreement = {}
    for t in temps:
        soft = softmax(oof, t)
        class_matrix = np.stack([soft[labels == c].mean(0) for c in range(n_classes)])
        flat_ideal = softmax(-d2 / (2 * IMAGE_SCALE**2), t * 10)  # a flatter truth: its off-class order
        off = ~np.eye(n_classes, dtype=bool)[labels]
        per_image = [
            stats.spearmanr(soft[i, off[i]], flat_ideal[i, off[i]]).statistic for i in range(len(labels))
        ]
        agreement[f"T={t:g}"] = {
            "class_similarity_spearman_vs_prototypes": _spearman_offdiag(class_matrix, proto_sim),
            "per_image_offclass_spearman_vs_latent": float(np.nanmean(per_image)),
        }
    result["teacher_vs_truth"] = agreement
    emb_sim = emb @ emb.T
    same = labels[:, None] == labels[None]
    result["embedding_class_structure"] = {
        "mean_cosine_within_class": float(emb_sim[same & ~np.eye(len(labels), dtype=bool)].mean()),
        "mean_cosine_between_classes": float(emb_sim[~same].mean()),
    }

    # 4. Image-level signal in the EEG: noise-free evoked responses of every image.
    # Over the occipito-parietal channels where the background RMS (the snr unit) is measured.
    channels = snr_channels(subject.montage)
    responses = np.stack([subject.evoked_response(i)[:, channels] for i in range(len(ids))])
    class_means = np.stack([responses[labels == c].mean(0) for c in range(n_classes)])
    within = ((responses - class_means[labels]) ** 2).mean()
    between = ((class_means - class_means.mean(0)) ** 2).mean()
    background = subject.background_band_rms() ** 2
    result["eeg_signal"] = {
        "within_class_image_energy_per_sample": float(within),
        "between_class_energy_per_sample": float(between),
        "background_band_power_per_sample": float(background),
        "image_to_class_energy_ratio": float(within / between),
        "image_energy_over_background": float(within / background),
        "class_energy_over_background": float(between / background),
        "note": "noise-free evoked (phase-locked) responses before the pipeline's filters, per trial; "
        "the induced gamma follows the same latent",
    }
    if args.study:
        result["study"] = _study_evidence(Path(args.study), protos)
    print(json.dumps(result, indent=2))
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
