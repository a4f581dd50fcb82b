"""A whole calibration run on a short simulated session: report, plots and a loadable bundle."""

from __future__ import annotations

import json

import numpy as np
import pytest

from calibration.calibrate import CalibrationConfig, calibrate
from calibration.train import TrainConfig
from rtdecode.decoder import predict_recording
from rtdecode.io.bundle import load_bundle
from rtdecode.models.student import StudentConfig
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.session import simulate_session
from rtdecode.sim.subject import SimulatedSubject


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    # 3 classes x 50 images at a high snr: three 50-image blocks, about 2 minutes of EEG.
    config = SimulationConfig(n_classes=3, images_per_class=50, snr=1.5, n_channels=32, seed=3)
    folder = tmp_path_factory.mktemp("session")
    SimulatedSubject(config).write_images(folder / "stimuli")
    return simulate_session(config), folder / "stimuli"


def test_calibration_writes_report_plots_and_a_bundle_that_decodes(session, tmp_path, tiny_model_name):
    recording, images = session
    config = CalibrationConfig(
        train=TrainConfig(max_epochs=4, patience=4, batch_size=32, progress=False),
        student=StudentConfig(widths=(16, 16, 32)),
        teacher_model=tiny_model_name,
        teacher_pretrained="random",
        baselines=("logreg_standardized", "cnn2d_stft"),
        evaluation="split",
    )
    with pytest.warns(UserWarning, match="random"):
        result = calibrate(recording, images, tmp_path, config)
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report["results"]) == {
        "student+kd",
        "student",
        "logreg_standardized",
        "eegnet",
        "xdawn",
        "lda",
        "oracle (simulator ground truth)",
    }
    # The bundle holds the model chosen on the validation blocks, and the report says why.
    selection = report["selection"]
    assert set(selection["validation"]) == {"student+kd", "eegnet", "xdawn", "lda"}
    assert selection["chosen"] == max(selection["validation"], key=selection["validation"].get)
    assert result.bundle.extra["model"] == selection["chosen"]
    assert report["mains"]["detected_hz"] == 50.0
    assert report["n_classes"] == 3 and report["chance_top1"] == pytest.approx(1 / 3)
    # Blocks never straddle splits: three blocks, one each.
    assert (
        len(
            {
                *report["split"]["train_blocks"],
                *report["split"]["val_blocks"],
                *report["split"]["test_blocks"],
            }
        )
        == 3
    )
    assert report["results"]["oracle (simulator ground truth)"]["top1"] > 0.6
    assert report["results"]["logreg_standardized"]["top1"] > 0.5  # high snr: clearly above chance
    assert report["teacher"]["used"] and "held_out_accuracy" in report["teacher"]
    teacher = report["teacher"]
    assert teacher["folds"] == 5 and teacher["weight_source"].startswith("random weights")
    assert 1 / 3 <= teacher["targets"]["mean_max_prob"] <= 1.0
    assert any("out-of-fold soft targets" in note for note in report["notes"])
    text = (tmp_path / "report.md").read_text()
    assert "| distilled student (STFT) |" in text
    for code in report["results"]:
        # Code names: JSON only (the paper model's code name "student" is also the word).
        assert code.startswith("oracle") or code == "student" or code not in text
    # Three classes: top-3 would be 1.000 by definition, so the table leaves it out.
    assert "top-3" not in text and "top-5" not in text and "Chance: top-1 0.333." in text
    split = report["split"]
    assert f"validation block {split['val_blocks'][0]}; test block {split['test_blocks'][0]}" in text
    for png in ("confusion.png", "learning_curves.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"

    bundle = load_bundle(tmp_path / "model")
    assert bundle.channel_names == recording.channel_names and bundle.class_names == result.bundle.class_names
    predictions = predict_recording(bundle, recording)
    assert len(predictions) == len(recording.stimulus_events())
    top1 = np.mean([p.index == p.marker["label"] for p in predictions])
    assert 0.0 <= top1 <= 1.0 and all(len(p.topk) == 3 for p in predictions)


def test_without_images_trains_without_distillation(session, tmp_path):
    recording, _ = session
    config = CalibrationConfig(
        train=TrainConfig(max_epochs=2, patience=2, batch_size=32, progress=False),
        student=StudentConfig(widths=(8, 8)),
        baselines=(),
        candidates=(),
        evaluation="split",
    )
    result = calibrate(recording, None, tmp_path, config)
    assert set(result.report["results"]) == {"student", "oracle (simulator ground truth)"}
    assert any("without distillation" in note for note in result.report["notes"])
    header = (tmp_path / "report.md").read_text().split("| model |")[0]
    assert "No teacher (no stimulus images given)" in header and "nan" not in header
    assert result.report["max_epochs"] == 2 and result.report["student"] == "student"


def test_the_readmes_calibrate_command_uses_a_pretrained_teacher_without_warning(tmp_path, capsys):
    import re
    import warnings
    from pathlib import Path

    from calibration.image_encoder import RandomWeightsWarning
    from rtdecode.cli import main
    from rtdecode.sim.session import save_simulated_session

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    command = re.search(r"`rtdecode calibrate (session\.xdf --out run/)", readme).group(1).split()
    config = SimulationConfig(
        n_classes=3, images_per_class=30, n_channels=16, snr=1.5, block_s=5.0, break_s=1.0
    )
    save_simulated_session(config, tmp_path / "session.xdf")
    argv = ["calibrate", str(tmp_path / command[0]), "--out", str(tmp_path / command[2])]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Short training keeps the test fast; the teacher is the README command's default.
        assert main([*argv, "--max-epochs", "1", "--baselines", "none"]) == 0
    assert not [w for w in caught if issubclass(w.category, RandomWeightsWarning)]
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["teacher"]["pretrained"] is True and report["teacher"]["weight_source"]
    assert "student+kd" in report["results"]
    capsys.readouterr()
