"""The online decoder: live predictions equal offline ones; streams that do not fit are refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rtdecode.config import PipelineConfig
from rtdecode.decoder import OnlineDecoder, StreamMismatch, predict_recording, validate_stream
from rtdecode.io.bundle import ModelBundle
from rtdecode.models.student import StudentCNN, StudentConfig
from rtdecode.signal.standardize import Standardizer
from rtdecode.sim.simulate import SimulationConfig, simulate_session
from tests.live_replay import decode_replay


def _bundle(recording, n_classes: int) -> ModelBundle:
    torch.manual_seed(0)
    config = StudentConfig(n_channels=recording.n_channels, n_classes=n_classes, widths=(16, 16, 32))
    model = StudentCNN(config).eval()
    std = Standardizer.from_dict(
        {"mean": np.zeros(recording.n_channels), "std": np.full(recording.n_channels, 5.0)}
    )
    names = [f"class {i}" for i in range(n_classes)]
    return ModelBundle(
        model,
        config,
        PipelineConfig(sfreq=recording.sfreq),
        std,
        names,
        recording.channel_names,
        recording.sfreq,
    )


@pytest.fixture(scope="module")
def recording():
    # One 20-image block of a 16-channel subject: about 12 s of EEG.
    return simulate_session(
        SimulationConfig(n_classes=4, images_per_class=5, n_channels=16, seed=7, lead_in_s=1.0)
    )


def test_marker_locked_live_decoding_of_a_replay_matches_predict_on_the_file(recording):
    bundle = _bundle(recording, 4)
    offline = predict_recording(bundle, recording, device="cpu")
    assert len(offline) == 20

    live, reader, _, _ = decode_replay(recording, bundle)
    assert reader.health.gaps == 0 and reader.health.resets == 0
    assert len(live) == len(offline)
    for a, b in zip(live, offline, strict=True):
        assert a.marker == b.marker
        np.testing.assert_allclose(a.proba, b.proba, rtol=1e-3, atol=1e-4)
        assert a.label == b.label
        assert a.latency_ms >= 0


def test_stream_validation_says_what_differs():
    names = ["Fp1", "Fz", "Cz", "Oz"]
    config = StudentConfig(n_channels=4, n_classes=2, widths=(4, 4))
    bundle = ModelBundle(
        StudentCNN(config),
        config,
        PipelineConfig(),
        Standardizer.from_dict({"mean": np.zeros(4), "std": np.ones(4)}),
        ["a", "b"],
        names,
        1000.0,
    )
    validate_stream(bundle, names, 1000.0)  # a match passes
    with pytest.raises(StreamMismatch, match="sampling rate: stream 500 Hz, model 1000 Hz"):
        validate_stream(bundle, names, 500.0)
    with pytest.raises(StreamMismatch, match="channel count: stream 3, model 4"):
        validate_stream(bundle, names[:3], 1000.0)
    with pytest.raises(StreamMismatch, match="only in case"):
        validate_stream(bundle, [n.upper() for n in names], 1000.0)
    with pytest.raises(StreamMismatch, match="another order"):
        validate_stream(bundle, names[::-1], 1000.0)
    with pytest.raises(StreamMismatch, match=r"missing from the stream \['Oz'\]"):
        validate_stream(bundle, ["Fp1", "Fz", "Cz", "Pz"], 1000.0)


def test_sliding_mode_needs_no_markers_and_marker_mode_does(recording):
    bundle = _bundle(recording, 4)

    class FakeReader:
        channel_names = recording.channel_names
        sfreq = recording.sfreq

    with pytest.raises(ValueError, match="marker stream"):
        OnlineDecoder(bundle, FakeReader(), None, mode="marker", device="cpu")
    OnlineDecoder(bundle, FakeReader(), None, mode="sliding", device="cpu")
