"""Live alignment adaptation: channel gains that change mid-session cost accuracy without it and
not with it; where its setting comes from; offline and live adapt alike.

The simulated subject has no drift of its own (real subjects' sessions do: impedances, gains,
electrodes that move), so the change is applied to the recording's samples here, from a moment
halfway through the held-out trials on. The filters are linear and causal, so gains on the raw
samples are gains on the filtered epochs after a transient of a few samples.
"""

from __future__ import annotations

import copy
import dataclasses
import logging

import numpy as np
import pytest
import torch

from calibration.epochs import epochs_from_recording
from rtdecode.cli_args import forgetting
from rtdecode.config import PipelineConfig
from rtdecode.decoder import FROM_BUNDLE, Decoder, adaptation_setting, predict_recording
from rtdecode.io.bundle import ModelBundle
from rtdecode.models.classical import XdawnTangentSpaceLR
from rtdecode.models.student import StudentCNN, StudentConfig
from rtdecode.signal.standardize import Standardizer
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.session import simulate_session
from tests.live_replay import decode_replay

# 600 trials of 4 classes on 16 channels at 256 Hz (~5 min of EEG, simulated in about a second);
# slow evoked waves decoded by xDAWN + tangent space in the ERP band, as calibration's candidate.
SESSION = SimulationConfig(
    n_classes=4,
    images_per_class=150,
    n_channels=16,
    sfreq=256.0,
    snr=1.0,
    class_information="evoked_low",
    block_s=20.0,
    break_s=2.0,
    seed=3,
    lead_in_s=1.0,
)
ERP = PipelineConfig(sfreq=256.0).with_overrides(
    filter={"band_low_hz": 0.5, "band_high_hz": 30.0, "drift_highpass_hz": 0.0},
    epoch={"tmin_s": -0.1, "tmax_s": 0.6},
)
TRAIN_FRACTION = 0.4
FORGETTING = 0.05
BURN_IN = round(1 / FORGETTING)  # post-change trials left out: the reference needs ~1/f epochs to follow


@dataclasses.dataclass
class Calibrated:
    recording: object
    bundle: ModelBundle
    held_out_from: float  # LSL time of the first trial calibration did not see
    change_at: float  # LSL time of the change, between two held-out trials


@pytest.fixture(scope="module")
def calibrated() -> Calibrated:
    """The model calibration would save: fitted on the first 40 % of trials, ``align="track"``."""
    recording = simulate_session(SESSION)
    epochs = epochs_from_recording(recording, ERP)
    n_train = int(len(epochs) * TRAIN_FRACTION)
    x = np.swapaxes(epochs.epochs[:n_train], 1, 2)
    standardizer = Standardizer(align="track").fit(x)
    model = XdawnTangentSpaceLR(n_classes=SESSION.n_classes).fit(
        standardizer.transform(x), epochs.labels[:n_train]
    )
    bundle = ModelBundle(
        model, None, ERP, standardizer, epochs.class_names, list(recording.channel_names), recording.sfreq
    )
    middle = n_train + (len(epochs) - n_train) // 2
    change_at = float(epochs.onsets[middle - 1] + epochs.onsets[middle]) / 2
    return Calibrated(recording, bundle, float(epochs.onsets[n_train]), change_at)


def _changed(recording, at: float, matrix: np.ndarray):
    """``recording`` with its samples from LSL time ``at`` on mixed by ``matrix`` (n_channels, n_channels)."""
    data = recording.data.copy()
    after = recording.smoothed_timestamps >= at
    data[after] = (data[after] @ matrix.T).astype(data.dtype)
    return dataclasses.replace(recording, data=data)


def _accuracy(predictions, calibrated: Calibrated) -> tuple[float, float]:
    """Top-1 on the held-out trials before the change, and on those after it past the burn-in."""
    correct = np.array([p.index == p.marker["label"] for p in predictions])
    onsets = np.array([p.onset for p in predictions])
    held_out = onsets >= calibrated.held_out_from
    before = correct[held_out & (onsets < calibrated.change_at)]
    after = correct[onsets > calibrated.change_at][BURN_IN:]
    assert len(before) > 100 and len(after) > 100
    return float(before.mean()), float(after.mean())


def _change(kind: str) -> np.ndarray:
    """Gains of 0.3-3 on every channel (impedances, amplifier settings), and for ``"shift"`` also
    some of the other channels' signals mixed into each (electrodes that moved, a gel bridge)."""
    rng = np.random.default_rng(0)
    n = SESSION.n_channels
    change = np.diag(np.exp(rng.uniform(np.log(0.3), np.log(3.0), n)))
    if kind == "shift":
        change = change @ (np.eye(n) + 0.075 * rng.standard_normal((n, n)))
    return change


@pytest.mark.parametrize("kind", ["gains", "shift"])
def test_accuracy_recovers_after_a_mid_session_change_with_adaptation_and_not_without(calibrated, kind):
    # Measured (this session, f = 0.05, 160 post-change trials after a burn-in of 20):
    #   before the change: 0.911 (0.906 adapting);
    #   after it, on the same trials: no change 0.856; gains 0.394 not adapted, 0.875 adapted;
    #   gains and shift 0.469 not adapted, 0.881 adapted.
    # Thresholds sit 0.035 (6 trials) or more from these, most 0.06-0.2 (chance 0.25).
    changed = _changed(calibrated.recording, calibrated.change_at, _change(kind))
    bundle = calibrated.bundle
    _, reference = _accuracy(
        predict_recording(bundle, calibrated.recording, "cpu", adaptation=None), calibrated
    )
    before, fixed = _accuracy(predict_recording(bundle, changed, "cpu", adaptation=None), calibrated)
    before_adapting, adapted = _accuracy(
        predict_recording(bundle, changed, "cpu", adaptation=FORGETTING), calibrated
    )
    assert before > 0.85 and reference > 0.8  # the model decodes, before the change and without it
    assert fixed < reference - 0.25, f"the change should cost accuracy: {fixed:.3f} vs {reference:.3f}"
    assert adapted > reference - 0.05, f"adaptation should recover: {adapted:.3f} vs {reference:.3f}"
    assert adapted > before - 0.1  # near the pre-change level (the later trials are harder: 0.856)
    assert before_adapting > before - 0.04  # and it costs nothing while nothing changes


def test_the_setting_comes_from_the_bundle_unless_overridden_and_never_changes_the_bundle(calibrated):
    bundle = copy.copy(calibrated.bundle)
    assert adaptation_setting(bundle) is None  # absent: off
    bundle.extra = {"adaptation": {"forgetting": 0.02}}
    assert adaptation_setting(bundle) == 0.02 and adaptation_setting(bundle, FROM_BUNDLE) == 0.02
    assert adaptation_setting(bundle, None) is None and adaptation_setting(bundle, 0.1) == 0.1
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        adaptation_setting(bundle, 1.5)
    bundle.extra = {"adaptation": {"rate": 0.02}}
    with pytest.raises(ValueError, match="extra\\['adaptation'\\]"):
        adaptation_setting(bundle)

    # A decoder adapts its own copy: the bundle's alignment is the calibrated one after decoding.
    bundle.extra = {"adaptation": {"forgetting": FORGETTING}}
    calibrated_reference = bundle.standardizer.alignment_.reference_.copy()
    changed = _changed(calibrated.recording, calibrated.change_at, _change("gains"))
    from_bundle = predict_recording(bundle, changed, "cpu")
    explicit = predict_recording(bundle, changed, "cpu", adaptation=FORGETTING)
    assert [p.index for p in from_bundle] == [p.index for p in explicit]
    assert bundle.standardizer.alignment_.n_updates_ == 0
    np.testing.assert_array_equal(bundle.standardizer.alignment_.reference_, calibrated_reference)
    decoder = Decoder(bundle, "cpu")
    assert decoder.adaptation_text() == f"alignment adapting (f={FORGETTING:g}, 0 epochs)"
    decoder.adapt(np.zeros((3, ERP.epoch_samples, SESSION.n_channels), np.float32) + 1.0)
    assert decoder.adapted_epochs == 3 and bundle.standardizer.alignment_.n_updates_ == 0
    assert Decoder(bundle, "cpu", adaptation=None).adaptation_text() == "alignment fixed (no adaptation)"


def test_a_bundle_without_alignment_is_refused_in_one_line_that_says_to_recalibrate(calibrated):
    old = copy.copy(calibrated.bundle)
    old.standardizer = Standardizer.from_dict(calibrated.bundle.standardizer.to_dict() | {"alignment": None})
    assert adaptation_setting(old, None) is None  # off is fine
    with pytest.raises(ValueError, match="recalibrate") as refused:
        predict_recording(old, calibrated.recording, "cpu", adaptation=0.02)
    assert "\n" not in str(refused.value)


def test_the_option_reads_a_factor_off_or_bundle():
    assert forgetting("0.02") == 0.02 and forgetting("1") == 1.0
    assert forgetting("off") is None and forgetting("OFF") is None
    assert forgetting("bundle") == FROM_BUNDLE
    for bad in ("0", "-0.1", "1.5", "nan", "fast"):
        with pytest.raises(Exception, match="forgetting factor|expected a number"):
            forgetting(bad)


def test_live_decoding_over_lsl_adapts_as_predict_does():
    # 20 stimuli of a 16-channel subject (~12 s of EEG, replayed 8 times faster), gains changed after
    # the 10th, a random-weight student: live and offline fold the same epochs in the same order,
    # so they must decode the same.
    session = simulate_session(
        SimulationConfig(n_classes=4, images_per_class=5, n_channels=16, seed=7, lead_in_s=1.0, break_s=1.0)
    )
    pipeline = PipelineConfig(sfreq=session.sfreq)
    epochs = epochs_from_recording(session, pipeline)
    recording = _changed(session, float(epochs.onsets[10] - 0.3), _change("gains"))
    torch.manual_seed(0)
    config = StudentConfig(n_channels=16, n_classes=4, widths=(16, 16, 32))
    bundle = ModelBundle(
        StudentCNN(config).eval(),
        config,
        pipeline,
        Standardizer(align="track").fit(np.swapaxes(epochs.epochs, 1, 2)),
        epochs.class_names,
        list(recording.channel_names),
        recording.sfreq,
        extra={"adaptation": {"forgetting": 0.2}},
    )
    offline = predict_recording(bundle, recording, "cpu")
    fixed = predict_recording(bundle, recording, "cpu", adaptation=None)
    # The adaptation changes what the model sees (else this test could not tell).
    assert max(np.abs(a.proba - b.proba).max() for a, b in zip(offline, fixed, strict=True)) > 1e-3
    live = decode_replay(recording, bundle, speed=8.0)
    assert live.reader.health.gaps == 0 and len(live.predictions) == len(offline) == 20
    for a, b in zip(live.predictions, offline, strict=True):
        assert a.marker == b.marker
        np.testing.assert_allclose(a.proba, b.proba, rtol=1e-3, atol=1e-4)
    assert live.decoder.decoder.adaptation_text() == "alignment adapting (f=0.2, 20 epochs)"


def test_predict_adapts_as_the_saved_bundle_says_unless_told_off_and_logs_it(tmp_path, caplog):
    from rtdecode.cli import build_parser
    from rtdecode.io.bundle import load_bundle, save_bundle
    from rtdecode.io.xdf import write_xdf

    session = simulate_session(
        SimulationConfig(
            n_classes=2, images_per_class=5, n_channels=8, sfreq=256.0, seed=2, lead_in_s=1.0, break_s=1.0
        )
    )
    epochs = epochs_from_recording(session, ERP)
    model = XdawnTangentSpaceLR(n_classes=2).fit(np.swapaxes(epochs.epochs, 1, 2), epochs.labels)
    standardizer = Standardizer(align="track").fit(np.swapaxes(epochs.epochs, 1, 2))
    bundle = ModelBundle(
        model,
        None,
        ERP,
        standardizer,
        epochs.class_names,
        list(session.channel_names),
        session.sfreq,
        extra={"adaptation": {"forgetting": 0.1}},
    )
    folder = save_bundle(bundle, tmp_path / "model")
    assert load_bundle(folder).extra["adaptation"] == {"forgetting": 0.1}
    write_xdf(tmp_path / "s.xdf", session)
    for option, expected in (
        ([], "alignment adapting (f=0.1, 10 epochs)"),
        (["--adapt-alignment", "off"], None),
    ):
        caplog.clear()
        argv = ["predict", str(tmp_path / "s.xdf"), "--model", str(folder), *option]
        args = build_parser().parse_args(argv)
        with caplog.at_level(logging.INFO, logger="rtdecode"):
            assert args.handler(args) == 0
        adapting = [r.getMessage() for r in caplog.records if "alignment adapting" in r.getMessage()]
        assert adapting == ([expected] if expected else [])
