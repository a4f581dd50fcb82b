"""The online decoder: live predictions equal offline ones; streams that do not fit are refused."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from rtdecode.config import PipelineConfig
from rtdecode.decoder import OnlineDecoder, StreamMismatch, predict_recording, validate_stream
from rtdecode.io.bundle import ModelBundle
from rtdecode.io.markers import block_marker, parse_marker, stimulus_marker
from rtdecode.io.recording import Marker, Recording
from rtdecode.models.student import StudentCNN, StudentConfig
from rtdecode.signal.preprocess import epoch_start_time
from rtdecode.signal.standardize import Standardizer
from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.session import simulate_session
from rtdecode.streams.reader import RingBuffer
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


def test_a_replay_faster_than_real_time_decodes_the_same_and_says_latency_is_not_measurable(recording):
    bundle = _bundle(recording, 4)
    offline = predict_recording(bundle, recording, device="cpu")
    live, reader, _, _ = decode_replay(recording, bundle, speed=8.0)
    assert [p.label for p in live] == [p.label for p in offline]
    assert reader.health.gaps == 0
    # the stamps run ahead of the local clock: no negative "latency", a reason instead
    late = [p for p in live if p.t_last_sample - live[0].t_last_sample > 0.5]
    assert late and all(p.latency_ms is None for p in late)
    assert "ahead of this machine's clock" in late[-1].latency_note
    record = late[-1].to_json()
    assert record["latency_ms"] is None and record["latency_note"] == late[-1].latency_note
    assert all(p.latency_arrival_ms is not None and p.latency_arrival_ms >= 0 for p in live)


def _two_runs(recording, pause_s: float, block_markers: bool):
    """The recording cut in two runs, the second ``pause_s`` later (no samples between them)."""
    half = recording.n_samples // 2
    stamps = recording.timestamps.copy()
    stamps[half:] += pause_s
    markers = []
    for m in recording.markers:
        event = parse_marker(m.text)
        if event["event"] in ("block_start", "block_end"):
            continue  # the simulator's own block markers: replaced by the runs' below
        markers.append(Marker(m.timestamp + (pause_s if m.timestamp >= stamps[half - 1] else 0.0), m.text))
    if block_markers:
        markers += [
            Marker(stamps[0], block_marker("block_start", 0)),
            Marker(stamps[half - 1], block_marker("block_end", 0)),
            Marker(stamps[half], block_marker("block_start", 1)),
            Marker(stamps[-1], block_marker("block_end", 1)),
        ]
    return Recording(recording.data, stamps, recording.sfreq, recording.channel_names, markers)


@pytest.mark.parametrize(
    ("pause_s", "block_markers", "pauses", "gaps", "lost"),
    [
        (1.0, True, 1, 0, 0),  # a short pause, announced by block_end: a pause, not lost samples
        (1.0, False, 0, 1, 0),  # the same hole unannounced: samples not delivered
        (8.0, True, 1, 0, 1),  # 2 s of silence at a block_end: lost meanwhile, said as a note
        (8.0, False, 1, 0, 1),  # unannounced: a lost stream while silent, a pause once it resumes
    ],
)
def test_pauses_between_runs_are_no_gaps_live(recording, pause_s, block_markers, pauses, gaps, lost, caplog):
    runs = _two_runs(recording, pause_s, block_markers)
    bundle = _bundle(runs, 4)
    with caplog.at_level(logging.INFO, logger="rtdecode.streams.reader"):
        _, reader, _, _ = decode_replay(runs, bundle, speed=4.0)
    assert (reader.health.pauses, reader.health.gaps, reader.health.lost) == (pauses, gaps, lost)
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("not delivered" in w for w in warned) == bool(gaps)
    assert any("no samples from" in w for w in warned) == bool(lost and not block_markers)
    # the offline time base of the same recording says the same
    assert (len(runs.time_base.pauses), len(runs.time_base.gaps)) == (pauses, gaps)


def test_an_epoch_waits_for_its_last_sample_on_a_device_clock_slower_than_nominal(recording):
    """A slow device clock stretches the stamps: the time an epoch should end comes a sample early.

    The epoch's last sample is due n - 1 *device* periods after its first; judged by the nominal
    period alone, a chunk that ends one sample short looked complete and the epoch was skipped
    as a gap (a flaky live test on a loaded CI machine).
    """
    bundle = _bundle(recording, 4)
    config = bundle.pipeline
    n = config.epoch_samples
    period = (1 + 1e-4) / recording.sfreq  # the device clock is 100 ppm slow

    class FakeReader:
        channel_names = recording.channel_names
        sfreq = recording.sfreq
        n_channels = recording.n_channels
        buffer = RingBuffer(4 * n, recording.n_channels)

    class OneMarker:
        def __init__(self, onset):
            self.items = [(onset, stimulus_marker("img", 1, "class 1"))]

        def get(self):
            return self.items.pop() if self.items else None

    first = epoch_start_time(10.0, config)
    # The first sample of the epoch lies 0.99 of a period after the time it should start.
    stamps = first + 0.99 / recording.sfreq + period * np.arange(-n // 2, 2 * n)
    start = n // 2
    reader = FakeReader()
    decoder = OnlineDecoder(bundle, reader, OneMarker(10.0), mode="marker", device="cpu")
    data = np.zeros((len(stamps), recording.n_channels), dtype=np.float32)

    def deliver(stop):
        lo = reader.buffer.total
        reader.buffer.write(data[lo:stop], data[lo:stop], stamps[lo:stop], 0.0)
        decoder._collect_markers()
        decoder._decode_ready_markers()

    deliver(start + n - 1)  # one sample short: the epoch is not ready
    assert decoder.skipped == {} and decoder.predictions.empty()
    deliver(start + n)
    assert decoder.skipped == {}
    prediction = decoder.predictions.get_nowait()
    assert prediction.t_last_sample == stamps[start + n - 1]


def test_the_live_decoder_keeps_torch_and_blas_to_one_thread_on_the_cpu(recording):
    """Per-epoch work is too small to share: extra threads only fight the acquisition thread."""
    from threadpoolctl import threadpool_info, threadpool_limits

    bundle = _bundle(recording, 4)

    class FakeReader:
        channel_names = recording.channel_names
        sfreq = recording.sfreq

    torch_threads = torch.get_num_threads()
    try:
        with threadpool_limits(limits=2, user_api="blas"):
            OnlineDecoder(bundle, FakeReader(), None, mode="sliding", device="cpu", cpu_threads=1)
            blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
            assert blas and set(blas) == {1}
            assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(torch_threads)
