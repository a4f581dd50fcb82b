"""The transfer learning-curve study: leave-one-subject-out, journalled, resumable."""

from __future__ import annotations

import json

import numpy as np
import pytest

from calibration.study import Journal
from calibration.train import TrainConfig
from calibration.transfer_study import JOURNAL, RUN_FIELDS, VARYING, TransferStudyConfig, run_transfer_study
from calibration.transfer_study_analysis import t_interval
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.session import save_simulated_session


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    # Three tiny subjects: 3 classes x 20 images in 10-image blocks (6 blocks), 16 channels.
    folder = tmp_path_factory.mktemp("transfer_sessions")
    paths = []
    for s in (1, 2, 3):
        config = SimulationConfig(
            n_classes=3, images_per_class=20, n_channels=16, subject=s, seed=s, block_s=5.0, break_s=1.0
        )
        path = folder / f"s{s}.xdf"
        save_simulated_session(config, path)
        paths.append(path)
    return paths


def _config(tiny_model_name, **changes):
    settings = {
        "networks": ("eegnet", "templates"),
        "seeds": (0,),
        "trials": (3, None),
        "train": TrainConfig(max_epochs=2, patience=2, batch_size=16, progress=False, threads=1),
        "teacher": tiny_model_name,
        "teacher_weights": "random",
        "soft_target_folds": 2,
    }
    return TransferStudyConfig(**{**settings, **changes})


@pytest.fixture(scope="module")
def study(sessions, tmp_path_factory, tiny_model_name):
    folder = tmp_path_factory.mktemp("transfer_study")
    with pytest.warns(UserWarning, match="random"):
        report = run_transfer_study(sessions, folder, _config(tiny_model_name))
    return report, folder


def test_the_study_runs_leave_one_subject_out_and_reports_the_curve(study):
    report, folder = study
    runs = [json.loads(line) for line in (folder / "runs.jsonl").read_text().splitlines()]
    bases = [r for r in runs if r["kind"] == "base" and r["network"] == "eegnet"]
    assert len(bases) == 3 and all(r["subject"] not in r["sources_subjects"] for r in bases)
    curve = [r for r in runs if r["kind"] == "run" and r["network"] == "eegnet"]
    assert len(curve) == 3 * 2 * 2 * 2  # subjects x N x (subject-only, transfer) x (kd, plain)
    # The templates: no recipe but their refit, no distillation (they have no soft-target loss).
    templates = [r for r in runs if r["kind"] == "run" and r["network"] == "templates"]
    assert len(templates) == 3 * 2 * 2 and not any(r["distill"] for r in templates)
    assert {r["recipe"] for r in templates if r["path"] == "transfer"} == {"refit"}
    assert set(report["curves"]["templates"]["common"]) == {"subject", "transfer (refit)"}

    by = {(r["subject"], r["trials"], r["path"], r["distill"]): r for r in curve}
    a, b = by[("1", 3, "transfer", True)], by[("1", 3, "subject", False)]
    assert a["test_index"] == b["test_index"]  # every arm of one N is scored on the same trials
    assert a["n_calibration"] == 9 and len(a["test_index"]) == 60 - 9
    assert "pred_zero_shot" in a and "pred_zero_shot" not in b
    full = by[("1", None, "subject", False)]
    assert set(full["test_index"]).isdisjoint(range(0)) and len(full["test_index"]) < 60
    # The common trials of every N lie in the full session's test blocks.
    common = np.asarray(a["test_index"])[np.asarray(a["common"], dtype=bool)]
    assert set(common) <= set(full["test_index"])
    curves = report["curves"]["eegnet"]["common"]
    assert set(curves) == {"subject +kd", "subject", "transfer (all-layers) +kd", "transfer (all-layers)"}
    assert set(curves["subject"]) == {"3", "all"} and "ci95" in curves["subject"]["3"]
    kd = report["kd_minus_plain"]["eegnet"]["rest"]["transfer (all-layers)"]["3"]
    expected = np.mean(
        [
            by[(s, 3, "transfer", True)]["metrics"]["top1"] - by[(s, 3, "transfer", False)]["metrics"]["top1"]
            for s in ("1", "2", "3")
        ]
    )
    assert kd["mean"] == pytest.approx(expected) and len(kd["ci95"]) == 2 and len(kd["ci95_trials"]) == 2
    assert "transfer (all-layers) - subject" in report["transfer_minus_subject"]["eegnet"]["rest"]
    assert report["zero_shot"]["eegnet"]["n"] == 3
    assert report["seconds_to_model"]["eegnet"]["transfer (all-layers)"]["3"]["seconds_to_model"] > 0
    text = (folder / "report.md").read_text()
    assert "Zero-shot base" in text and "distilled minus not" in text
    assert (folder / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((folder / "report.json").read_text())["subjects"] == ["1", "2", "3"]


def test_a_stopped_study_resumes_without_rerunning_finished_runs(
    study, sessions, tiny_model_name, monkeypatch
):
    import calibration.transfer_study as ts

    report, folder = study
    journal = folder / JOURNAL
    lines = journal.read_text().splitlines()
    # Stopped midway: the last two runs never finished.
    journal.write_text("\n".join(lines[:-2]) + "\n")
    ran = []
    real = ts.run_transfer_task

    def counting(task, config):
        ran.append(task)
        return real(task, config)

    monkeypatch.setattr(ts, "run_transfer_task", counting)
    monkeypatch.setattr(ts, "run_base", lambda task, config: pytest.fail("a finished base ran again"))
    again = run_transfer_study(sessions, folder, _config(tiny_model_name))
    assert len(ran) == 2
    assert len(journal.read_text().splitlines()) == len(lines)
    assert again["zero_shot"] == report["zero_shot"]
    # More N values reuse the runs already there; another training configuration does not.
    grown = Journal(journal, _config(tiny_model_name, trials=(3, 5, None)), RUN_FIELDS, VARYING)
    other = Journal(
        journal,
        _config(tiny_model_name, base_max_epochs=1),
        RUN_FIELDS,
        VARYING,
    )
    assert grown.key == Journal(journal, _config(tiny_model_name), RUN_FIELDS, VARYING).key
    assert other.key != grown.key


def test_a_subject_only_study_needs_no_base(sessions, tmp_path, tiny_model_name):
    config = _config(tiny_model_name, networks=("templates",), paths=("subject",), kd=(False,))
    report = run_transfer_study(sessions, tmp_path, config)
    runs = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert {r["kind"] for r in runs} == {"run"} and len(runs) == 3 * 2
    assert not (tmp_path / "bases").exists() and report["zero_shot"] == {}
    assert set(report["curves"]["templates"]["common"]) == {"subject"}
    assert (tmp_path / "learning_curve.png").is_file()


def test_the_target_compares_each_models_transfer_with_every_models_full_session():
    from calibration.transfer_study_analysis import _target

    def run(correct: list[bool], test_index: list[int]) -> dict:
        return {
            "seed": 0,
            "test_index": test_index,
            "y_test": [0] * len(correct),
            "pred_test": [0 if ok else 1 for ok in correct],
            "common": [True] * len(correct),
        }

    runs = {
        ("templates", "transfer (refit)", 10): run([True, True, True, False], [4, 5, 6, 7]),
        ("eegnet", "subject", None): run([True, False, True, True, False, False], [2, 3, 4, 5, 6, 7]),
        ("templates", "subject", None): run([False] * 6, [2, 3, 4, 5, 6, 7]),
    }

    def runs_of(net, arm, n, subject):
        return [runs[(net, arm, n)]] if (net, arm, n) in runs else []

    target = _target(runs_of, ["templates", "eegnet"], ["subject", "transfer (refit)"], ["1"], None)
    # On the trials both score (4-7): 3 of 4 against eegnet's 2 of 4, against the templates' 0 of 4.
    assert target["templates: transfer (refit) @10 - eegnet: subject @all"]["mean"] == pytest.approx(0.25)
    assert target["templates: transfer (refit) @10 - subject @all"]["mean"] == pytest.approx(0.75)


def test_t_interval():
    out = t_interval([0.1, 0.2, 0.3])
    assert out["mean"] == pytest.approx(0.2) and out["ci95"][0] < 0.2 < out["ci95"][1]
    assert "ci95" not in t_interval([0.5])
