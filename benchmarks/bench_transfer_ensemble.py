"""The next step measured: the templates and the fine-tuned EEGNet together, at 10 trials per class.

Reads a transfer study's folder made by ``benchmarks/bench_transfer.py --classes 10`` (its
prepared subjects and EEGNet bases) and, leave-one-subject-out, for each held-out subject's first
``--trials`` trials per class (the study's calibration trials; aligned on them, no label):

- **templates**: a templates base on the other subjects (:class:`rtdecode.models.templates.SharedTemplates`,
  K and ridge chosen on them), the subject's mixing refitted on its calibration trials;
- **eegnet**: the study's EEGNet base fine-tuned on them (all layers, the study's training);
- **product**: both, their log-probabilities summed (a product of experts: the templates see the
  phase-locked class responses, EEGNet also the induced power they cannot).

Each is scored on the study's ``common`` trials (the full session's test blocks), so the figures
compare with its ``eegnet: subject @all``. Not a product path yet: calibration serves one model.

Run:  python benchmarks/bench_transfer_ensemble.py --study /tmp/rtdecode-transfer/study_10c
      [--trials 10] [--json benchmarks/results/transfer_ensemble_10c.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def held_out(study: Path, held: int, n: int, threads: int) -> dict:
    import torch

    from calibration.networks import network, network_inputs
    from calibration.study import load_prepared
    from calibration.train import TrainConfig, predict_proba
    from calibration.transfer import aligned_standardizer
    from calibration.transfer_calibrate import calibration_trials
    from calibration.transfer_study import _TrialIndex, fine_tune
    from rtdecode.config import PipelineConfig
    from rtdecode.io.bundle import load_bundle
    from rtdecode.models.templates import SharedTemplates

    torch.set_num_threads(threads)
    folders = sorted((study / "prepared").iterdir())
    data = [load_prepared(f) for f in folders]
    n_classes = len(data[0]["meta"]["class_names"])

    def inputs(view: str, i: int, index=None) -> np.ndarray:
        epochs = np.asarray(data[i]["epochs"])
        standardizer = aligned_standardizer(epochs if index is None else epochs[index])
        return network_inputs(
            view, epochs, standardizer, PipelineConfig.from_dict(data[i]["meta"]["pipeline"])
        )

    sources = [i for i in range(len(data)) if i != held]
    started = time.perf_counter()
    x_src = np.concatenate([inputs("raw_ct", i) for i in sources])
    y_src = np.concatenate([data[i]["labels"] for i in sources])
    s_src = np.concatenate([np.full(len(data[i]["labels"]), i) for i in sources])
    templates = SharedTemplates(n_classes=n_classes, sfreq=data[held]["meta"]["pipeline"]["sfreq"])
    templates.fit(x_src, y_src, s_src)
    del x_src
    y = data[held]["labels"]
    index = _TrialIndex(y, data[held]["blocks"], data[held]["onsets"])
    trials = calibration_trials(index, n, 0.2, 0)
    common = np.intersect1d(trials.test, calibration_trials(index, None, 0.2, 0).test)
    x_ct = inputs("raw_ct", held, trials.calibration)
    subject = templates.fit_subject(x_ct[trials.calibration], y[trials.calibration])
    p_templates = subject.predict_proba(x_ct)
    x = inputs("raw", held, trials.calibration)
    spec = network("eegnet")
    train = TrainConfig(max_epochs=30, patience=6, threads=threads, progress=False, seed=0)
    base = load_bundle(study / "bases" / f"{folders[held].name}-eegnet").model
    model, _ = fine_tune(spec, base, x, y, trials, n_classes, train, None, "all-layers")
    p_eegnet = predict_proba(model.cpu().eval(), x)

    def top1(p: np.ndarray) -> float:
        return float(np.mean(p[common].argmax(1) == y[common]))

    def product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.log(a + 1e-9) + np.log(b + 1e-9)

    out = {
        "subject": data[held]["meta"]["subject"],
        "templates": top1(p_templates),
        "eegnet": top1(p_eegnet),
        "product": top1(product(p_templates, p_eegnet)),
        "n_common": int(len(common)),
    }
    out["seconds"] = time.perf_counter() - started
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--study", required=True, help="a bench_transfer.py study folder (prepared/, bases/)")
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "transfer_ensemble_10c.json"))
    args = p.parse_args()
    from bench_common import write_result  # noqa: E402 (a sibling script)

    from calibration.transfer_study_analysis import t_interval

    study = Path(args.study)
    subjects = []
    for held in range(len(list((study / "prepared").iterdir()))):
        subjects.append(held_out(study, held, args.trials, args.threads))
        print(json.dumps(subjects[-1]), flush=True)
    arms = [k for k in subjects[0] if k not in ("subject", "n_common", "seconds")]
    result = {
        "study": str(study),
        "trials_per_class": args.trials,
        "per_subject": subjects,
        "mean": {arm: t_interval([s[arm] for s in subjects]) for arm in arms},
        "load_average": os.getloadavg(),
    }
    full = json.loads((study / "report.json").read_text())["curves"]["eegnet"]["common"]["subject"].get("all")
    if full:
        result["eegnet_subject_only_all"] = full
        result["product_minus_eegnet_all"] = t_interval(
            [s["product"] - full["per_subject"][s["subject"]] for s in subjects]
        )
    write_result(result, Path(args.json))
    for arm, v in result["mean"].items():
        print(f"{arm}: {v['mean']:.3f} {v.get('ci95')}")
    if full:
        print(f"product - eegnet subject-only @all: {result['product_minus_eegnet_all']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
