"""A classical ERP bundle decodes a live replay exactly as `predict` decodes the file."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.epochs import epochs_from_recording
from calibration.fitting import erp_pipeline
from rtdecode.config import PipelineConfig
from rtdecode.decoder import predict_recording
from rtdecode.io.bundle import ModelBundle
from rtdecode.models.classical import XdawnTangentSpaceLR
from rtdecode.signal.standardize import Standardizer
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.session import simulate_session
from tests.live_replay import decode_replay


@pytest.fixture(scope="module")
def recording():
    # One 24-image block of an 8-channel subject whose class information is slow and evoked.
    return simulate_session(
        SimulationConfig(
            n_classes=2,
            images_per_class=12,
            n_channels=8,
            sfreq=256.0,
            seed=7,
            lead_in_s=1.0,
            class_information="evoked_low",
            snr=1.0,
        )
    )


def test_live_decoding_of_a_replay_with_an_xdawn_bundle_matches_predict(recording):
    pipeline = erp_pipeline(PipelineConfig(sfreq=recording.sfreq))
    epochs = epochs_from_recording(recording, pipeline)
    x = np.swapaxes(epochs.epochs, 1, 2)  # the estimators take (n, n_channels, n_times)
    standardizer = Standardizer().fit(x)
    model = XdawnTangentSpaceLR(n_classes=2).fit(standardizer.transform(x), epochs.labels)
    bundle = ModelBundle(
        model, None, pipeline, standardizer, epochs.class_names, recording.channel_names, recording.sfreq
    )
    offline = predict_recording(bundle, recording, device="cpu")
    assert len(offline) == 24

    live = decode_replay(recording, bundle).predictions
    assert len(live) == len(offline)
    for a, b in zip(live, offline, strict=True):
        assert a.marker == b.marker and a.label == b.label
        np.testing.assert_allclose(a.proba, b.proba, rtol=1e-3, atol=1e-4)
