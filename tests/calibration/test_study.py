"""The study: subjects x seeds x networks, paired distillation differences, sequential and on Ray."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from calibration.networks import NETWORKS, fit_network, network, network_inputs
from calibration.study import StudyConfig, run_study
from calibration.study_analysis import paired_difference
from calibration.train import TrainConfig
from rtdecode.models.student import StudentConfig
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.session import save_simulated_session

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    # Two subjects, 3 classes x 30 images in 10-image blocks (9 blocks), 16 channels: seconds to make.
    folder = tmp_path_factory.mktemp("study_sessions")
    paths = []
    for subject in (1, 2):
        config = SimulationConfig(
            n_classes=3,
            images_per_class=30,
            n_channels=16,
            snr=1.5,
            subject=subject,
            block_s=5.0,
            break_s=1.0,
        )
        path = folder / f"s{subject}.xdf"
        save_simulated_session(config, path)
        paths.append(path)
    return paths


def _config(tiny_model_name, threads=1):
    return StudyConfig(
        networks=("student",),
        seeds=(0, 1),
        train=TrainConfig(max_epochs=3, patience=3, batch_size=16, progress=False, threads=threads),
        student=StudentConfig(widths=(8, 8)),
        teacher=tiny_model_name,
        teacher_weights="random",
        soft_target_folds=3,
    )


@pytest.fixture(scope="module")
def sequential(sessions, tmp_path_factory, tiny_model_name):
    folder = tmp_path_factory.mktemp("sequential_study")
    with pytest.warns(UserWarning, match="random"):
        report = run_study(sessions, folder, _config(tiny_model_name))
    return report, folder


def test_sequential_study_reports_subjects_table_and_paired_differences(sequential):
    report, tmp_path = sequential
    assert report["subjects"] == ["1", "2"]
    assert set(report["summary"]) == {"student+kd", "student"}
    assert set(report["summary"]["student"]["top1"]) == {"mean", "sd"}
    runs = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert len(runs) == 2 * 2 * 2  # subjects x seeds x (distilled, plain)
    # Paired runs share the split; different seeds give different splits.
    by = {(r["subject"], r["seed"], r["model"]): r for r in runs}
    assert by[("1", 0, "student+kd")]["y_test"] == by[("1", 0, "student")]["y_test"]
    assert by[("1", 0, "student")]["test_blocks"] != by[("1", 1, "student")]["test_blocks"]
    d = report["distillation"]["student"]
    for s in ("1", "2"):
        expected = np.mean(
            [
                by[(s, k, "student+kd")]["metrics"]["top1"] - by[(s, k, "student")]["metrics"]["top1"]
                for k in (0, 1)
            ]
        )
        assert d["per_subject"][s]["mean"] == pytest.approx(expected)
        low, high = d["per_subject"][s]["ci95"]
        assert low <= d["per_subject"][s]["mean"] <= high
    assert "ci95_subjects_t" in d["overall"] and len(d["overall"]["ci95_trials"]) == 2
    per_run = [v for s in ("1", "2") for v in d["per_subject"][s]["per_seed"]]
    low, high = d["overall"]["ci95_runs_t"]
    assert low <= np.mean(per_run) <= high and d["overall"]["sd_runs"] == pytest.approx(
        np.std(per_run, ddof=1)
    )
    text = (tmp_path / "study.md").read_text()
    assert "Table 1" in text and "| student+kd |" in text and "Distilled minus not distilled" in text
    assert (tmp_path / "study.png").read_bytes()[:4] == b"\x89PNG"
    assert len(list((tmp_path / "prepared").iterdir())) == 2  # each subject prepared once


def test_ray_study_equals_the_sequential_study(sessions, sequential, tmp_path, tiny_model_name):
    ray = pytest.importorskip("ray")
    from calibration.study_ray import RayExecutor

    sequential, seq_folder = sequential
    # A study stopped midway: its first run is already in the journal and must not run again.
    first = json.loads((seq_folder / "runs.jsonl").read_text().splitlines()[0])
    first["prepared"] = first["prepared"].replace(str(seq_folder), str(tmp_path))
    first["seconds"] = -1.0
    (tmp_path / "runs.partial.jsonl").write_text(json.dumps(first) + "\n")
    try:
        with pytest.warns(UserWarning, match="random"):  # its own preparation, in its own folder
            on_ray = run_study(
                sessions, tmp_path, _config(tiny_model_name), executor=RayExecutor("local", cpus=2)
            )
    finally:
        ray.shutdown()
    assert on_ray["executor"]["kind"] == "ray" and on_ray["executor"]["cluster"]["CPU"] == 2
    for key in ("per_subject", "summary", "distillation"):
        assert on_ray[key] == sequential[key]
    seq_runs = (seq_folder / "runs.jsonl").read_text().splitlines()
    ray_runs = (tmp_path / "runs.jsonl").read_text().splitlines()
    strip = ("prepared", "seconds", "train_seconds", "config_key")
    assert [{k: v for k, v in json.loads(r).items() if k not in strip} for r in seq_runs] == [
        {k: v for k, v in json.loads(r).items() if k not in strip} for r in ray_runs
    ]
    assert json.loads(ray_runs[0])["seconds"] == -1.0  # taken from the journal, not run again
    journal = [json.loads(r) for r in (tmp_path / "runs.partial.jsonl").read_text().splitlines()]
    assert len(journal) == len(ray_runs)  # each Ray result written as it came back


def test_paired_difference_of_identical_models_is_exactly_zero():
    run = {"y_test": [0, 1, 2, 1], "pred_test": [0, 2, 2, 1]}
    d = paired_difference([run], [run], np.random.default_rng(0), 200)
    assert d["mean"] == 0 and d["ci95"] == [0.0, 0.0]
    better = {"y_test": [0, 1, 2, 1], "pred_test": [0, 1, 2, 1]}
    d = paired_difference([better], [run], np.random.default_rng(0), 500)
    assert d["mean"] == pytest.approx(0.25) and d["ci95"][0] >= 0.0 and d["ci95"][1] <= 1.0


def test_every_registered_network_can_be_distilled():
    rng = np.random.default_rng(0)
    n, n_classes = 24, 3
    epochs = rng.normal(size=(n, 440, 4)).astype(np.float32)
    y = np.arange(n) % n_classes
    soft = np.full((n, n_classes), 1 / n_classes, dtype=np.float32)
    from rtdecode.config import PipelineConfig
    from rtdecode.signal.standardize import Standardizer

    std = Standardizer().fit(np.swapaxes(epochs, 1, 2))
    config = TrainConfig(max_epochs=1, patience=1, batch_size=8, progress=False, alpha=0.5)
    for name, spec in NETWORKS.items():
        x = network_inputs(spec.input, epochs, std, PipelineConfig())
        model, history = fit_network(
            spec,
            x,
            y,
            np.arange(16),
            np.arange(16, 24),
            n_classes,
            config,
            soft,
            {"student": StudentConfig(widths=(4, 4))},
        )
        assert len(history.train_loss) == 1, name
    with pytest.raises(ValueError, match="unknown network"):
        network("cnn3d")


def test_study_is_a_registered_subcommand():
    import argparse

    from calibration.study_cli import register

    entry_points = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert entry_points["rtdecode.commands"]["study"] == "calibration.study_cli:register"
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["study", "a.xdf", "b.xdf", "--out", "x", "--ray", "auto", "--seeds", "5"])
    assert args.recordings == ["a.xdf", "b.xdf"] and args.ray == "auto" and args.seeds == 5
    assert args.teacher == "auto" and not hasattr(args, "baselines")


def test_an_interrupted_sequential_study_resumes_from_its_journal(sequential, tiny_model_name, monkeypatch):
    import calibration.study as study

    report, folder = sequential
    tasks_run = []

    def fake_run(task, config):
        tasks_run.append(task)
        return {
            "prepared": task.prepared,
            "seed": task.seed,
            "network": task.network,
            "distill": task.distill,
        }

    monkeypatch.setattr(study, "run_task", fake_run)
    prepared = [(s, p) for s, p in {(r["subject"], r["prepared"]) for r in report["runs"]}]
    tasks = study.study_tasks(sorted(prepared), _config(tiny_model_name), distill=True)

    def run(tasks, config):
        return study.run_sequential(tasks, config, study.Journal(folder / study.JOURNAL, config))

    results, where = run(tasks, _config(tiny_model_name))
    assert tasks_run == [] and len(results) == len(tasks)  # every run came from the journal
    assert where == {"kind": "sequential"}
    grown = StudyConfig(**{**_config(tiny_model_name).__dict__, "seeds": (0, 1, 2)})
    run(tasks, grown)
    assert tasks_run == []  # a study grown by a seed keeps the runs it has
    other = StudyConfig(**{**_config(tiny_model_name).__dict__, "seeds": (0, 1, 2), "soft_target_folds": 4})
    run(tasks[:1], other)
    assert len(tasks_run) == 1  # another configuration is not taken from the journal
