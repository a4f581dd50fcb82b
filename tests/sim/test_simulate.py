"""The simulated subject: determinism, streaming, protocol, physiology and ground truth."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image
from scipy import signal

from rtdecode.config import PipelineConfig
from rtdecode.io.markers import BLOCK_END, BLOCK_START, STIMULUS, parse_marker
from rtdecode.signal.filters import design_filter_bank
from rtdecode.signal.preprocess import filter_recording
from rtdecode.sim.config import DEFAULT_SNR, SimulationConfig
from rtdecode.sim.montage import CHANNELS_128, standard_montage
from rtdecode.sim.oracle import oracle_accuracy, subject_from_recording
from rtdecode.sim.session import simulate_session
from rtdecode.sim.subject import SimulatedSubject

SFREQ = 1000.0
# 4 classes x 25 images: two full 50-image blocks, 72 s in all.
SMALL = SimulationConfig(n_classes=4, images_per_class=25)


@pytest.fixture(scope="module")
def session():
    return simulate_session(SMALL)


@pytest.fixture(scope="module")
def background():
    """Background only (no evoked response), 72 s."""
    return simulate_session(SimulationConfig(n_classes=4, images_per_class=25, snr=0.0))


def _onset_samples(recording) -> list[int]:
    return [
        int(round((t - recording.timestamps[0]) * recording.sfreq)) for t, _ in recording.stimulus_events()
    ]


# Config ------------------------------------------------------------------------------------------


def test_config_round_trip_and_validation():
    config = SimulationConfig(n_classes=3, minutes=1.5, line_freq=60.0)
    assert SimulationConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown simulator keys"):
        SimulationConfig.from_dict({"snr": 1.0, "colour": "red"})
    for bad in ({"n_channels": 200}, {"snr": -1.0}, {"minutes": 0.0}, {"line_freq": 600.0}):
        with pytest.raises(ValueError):
            SimulationConfig(**bad)


# Recording shape and determinism -----------------------------------------------------------------


def test_session_shapes_timestamps_and_metadata(session):
    assert session.data.dtype == np.float32
    assert session.data.shape == (72_000, 128)
    assert session.channel_names == list(CHANNELS_128)
    assert session.sfreq == SFREQ
    np.testing.assert_allclose(np.diff(session.timestamps), 1 / SFREQ)
    assert np.isfinite(session.data).all()
    meta = session.metadata
    assert (meta["subject"], meta["seed"], meta["snr"]) == (1, 0, DEFAULT_SNR)
    assert meta["class_names"] == ["sorrel", "parachute", "iron", "anemone fish"]
    assert SimulationConfig.from_dict(meta["simulator"]) == SMALL
    assert subject_from_recording(session).config == SMALL
    # Background tens of microvolts, not millivolts.
    assert 5 < np.median(session.data.std(axis=0)) < 60


def test_t0_shifts_timestamps_and_markers():
    config = SimulationConfig(n_classes=2, images_per_class=5, break_s=1.0)
    shifted, plain = simulate_session(config, t0=1000.0), simulate_session(config)
    np.testing.assert_array_equal(shifted.data, plain.data)
    np.testing.assert_allclose(shifted.timestamps, plain.timestamps + 1000.0)
    assert [m.timestamp - 1000.0 for m in shifted.markers] == pytest.approx(
        [m.timestamp for m in plain.markers]
    )


def test_same_config_gives_identical_samples():
    a = SimulatedSubject(SMALL).generator().next_chunk(3000)
    b = SimulatedSubject(SMALL).generator().next_chunk(3000)
    np.testing.assert_array_equal(a, b)


def test_seed_and_subject_change_the_signal_but_subjects_share_the_world():
    base = SimulatedSubject(SMALL)
    other_subject = SimulatedSubject(SimulationConfig(n_classes=4, images_per_class=25, subject=2))
    other_seed = SimulatedSubject(SimulationConfig(n_classes=4, images_per_class=25, seed=1))
    chunk = base.generator().next_chunk(2000)
    assert not np.allclose(chunk, other_subject.generator().next_chunk(2000))
    assert not np.allclose(chunk, other_seed.generator().next_chunk(2000))
    # Subjects differ in their brains, not in what they see.
    np.testing.assert_array_equal(base.prototypes, other_subject.prototypes)
    np.testing.assert_array_equal(base.render_image(3), other_subject.render_image(3))
    assert not np.allclose(base.evoked_response(0), other_subject.evoked_response(0))
    assert not np.allclose(base.prototypes, other_seed.prototypes)


def test_small_simulation_shares_classes_and_images_with_the_full_one():
    small, full = SimulatedSubject(SMALL), SimulatedSubject(SimulationConfig())
    np.testing.assert_array_equal(small.prototypes, full.prototypes[:4])
    np.testing.assert_array_equal(small.render_image("img_0002_007"), full.render_image("img_0002_007"))


# Streaming ---------------------------------------------------------------------------------------


def test_random_chunking_gives_the_same_samples_as_one_chunk(session):
    subject = SimulatedSubject(SMALL)
    n = 40_000  # covers the lead-in, blinks and the first block's evoked responses
    rng = np.random.default_rng(5)
    generator = subject.generator()
    for event in subject.schedule():
        if event.image is not None:
            generator.present(event.image, event.sample)
    chunks = []
    while generator.sample_index < n:
        size = int(min(rng.integers(1, 3000), n - generator.sample_index))
        chunks.append(generator.next_chunk(size))
    chunks.append(generator.next_chunk(0))
    np.testing.assert_allclose(np.concatenate(chunks), session.data[:n], rtol=0, atol=1e-3)


def test_stream_yields_the_session(session):
    chunks = list(SimulatedSubject(SMALL).stream(7_777))
    assert all(c.shape == (7_777, 128) for c in chunks[:-1])
    np.testing.assert_allclose(np.concatenate(chunks), session.data, rtol=0, atol=1e-3)


def test_present_adds_the_evoked_response_at_the_requested_sample():
    subject = SimulatedSubject(SimulationConfig(n_classes=4, images_per_class=25, snr=2.0))
    quiet, stimulated = subject.generator(), subject.generator()
    quiet.next_chunk(500)
    stimulated.next_chunk(500)
    stimulated.present("img_0001_003", at_sample=1200)
    difference = stimulated.next_chunk(2000) - quiet.next_chunk(2000)
    jitter = 30  # latency jitter is a few ms
    assert np.all(difference[: 700 - jitter] == 0)
    assert np.abs(difference[700 + 50 : 700 + 450]).max() > 1.0
    assert np.all(difference[700 + 600 + jitter :] == 0)
    with pytest.raises(ValueError, match="unknown image"):
        stimulated.present("img_9999_000")


# Protocol ----------------------------------------------------------------------------------------


def test_schedule_follows_the_protocol(session):
    events = [(m.timestamp, parse_marker(m.text)) for m in session.markers]
    kinds = [e["event"] for _, e in events]
    assert kinds.count(BLOCK_START) == kinds.count(BLOCK_END) == 2
    stimuli = [(t, e) for t, e in events if e["event"] == STIMULUS]
    assert len(stimuli) == 100
    assert len({e["image"] for _, e in stimuli}) == 100
    for block in (0, 1):
        onsets = np.array([t for t, e in stimuli if e["block"] == block])
        assert len(onsets) == 50
        np.testing.assert_allclose(np.diff(onsets), 0.5)
        start = [t for t, e in events if e["event"] == BLOCK_START and e["block"] == block][0]
        end = [t for t, e in events if e["event"] == BLOCK_END and e["block"] == block][0]
        assert start == pytest.approx(onsets[0])
        assert end - start == pytest.approx(25.0)
    first_end = [t for t, e in events if e["event"] == BLOCK_END and e["block"] == 0][0]
    second_start = [t for t, e in events if e["event"] == BLOCK_START and e["block"] == 1][0]
    assert second_start - first_end == pytest.approx(10.0)
    # The order is shuffled, and markers agree with the subject's ground truth.
    subject = SimulatedSubject(SMALL)
    labels = [e["label"] for _, e in stimuli]
    assert labels != sorted(labels)
    for _, e in stimuli:
        image = subject.image_index(e["image"])
        assert e["label"] == subject.image_labels[image]
        assert e["class"] == subject.class_names[e["label"]]


def test_minutes_truncates_to_whole_blocks():
    def blocks(**kwargs) -> int:
        schedule = SimulatedSubject(SimulationConfig(**kwargs)).schedule()
        return sum(parse_marker(e.marker)["event"] == BLOCK_START for e in schedule)

    assert blocks() == 40
    assert blocks(minutes=0.5) == 1  # never less than one block
    assert blocks(minutes=2.0) == 3
    assert blocks(n_classes=4, images_per_class=10) == 1  # 40 images: one short block


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"minutes": 2.0},
        {"n_classes": 4, "images_per_class": 10},
        {"n_classes": 3, "images_per_class": 7, "block_s": 2.0, "break_s": 0.5, "sfreq": 512.0},
    ],
)
def test_config_knows_the_session_length_before_the_schedule(kwargs):
    config = SimulationConfig(**kwargs)
    schedule = SimulatedSubject(config).schedule()
    assert config.session_samples == schedule[-1].sample + round(config.break_s * config.sfreq)
    assert config.n_blocks == sum(parse_marker(e.marker)["event"] == BLOCK_START for e in schedule)
    assert config.n_shown == sum(e.image is not None for e in schedule)


# Physiology --------------------------------------------------------------------------------------


def _psd(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return signal.welch(data.astype(float), fs=SFREQ, nperseg=4000, axis=0)


def test_spectrum_has_line_noise_and_posterior_alpha(background):
    montage = standard_montage()
    freqs, power = _psd(background.data)

    def band(lo: float, hi: float, channel: str) -> float:
        return float(power[(freqs >= lo) & (freqs <= hi), montage.index(channel)].mean())

    for channel in ("Oz", "Cz", "Fp1"):
        line = power[np.argmin(np.abs(freqs - 50.0)), montage.index(channel)]
        assert line > 10 * np.median(power[(freqs > 40) & (freqs < 60), montage.index(channel)])
    alpha_peak = {ch: band(9, 12, ch) / (0.5 * (band(5, 7, ch) + band(14, 17, ch))) for ch in ("Oz", "Fp1")}
    assert alpha_peak["Oz"] > 2.0 > alpha_peak["Fp1"]
    assert band(9, 12, "Oz") > 3 * band(9, 12, "Fz")


def test_line_frequency_is_configurable():
    subject = SimulatedSubject(SimulationConfig(n_classes=2, images_per_class=2, line_freq=60.0, snr=0.0))
    freqs, power = _psd(subject.generator().next_chunk(20_000))
    oz = power[:, subject.montage.index("Oz")]
    assert oz[np.argmin(np.abs(freqs - 60))] > 10 * oz[np.argmin(np.abs(freqs - 50))]


def test_blinks_are_frontal(background):
    montage = standard_montage()
    slow = signal.sosfilt(
        signal.butter(2, [0.5, 5], "bandpass", fs=SFREQ, output="sos"), background.data.astype(float), axis=0
    )[3000:]
    peak = np.abs(slow).max(axis=0)
    frontal = peak[[montage.index(c) for c in ("Fp1", "Fpz", "Fp2")]]
    occipital = peak[[montage.index(c) for c in ("O1", "Oz", "O2")]]
    assert frontal.min() > 80  # 100-200 uV blinks
    assert frontal.min() > 3 * occipital.max()


def test_evoked_response_is_occipito_parietal(session):
    montage = standard_montage()
    sos = signal.butter(2, [1, 30], "bandpass", fs=SFREQ, output="sos")
    slow = signal.sosfilt(sos, session.data.astype(float), axis=0)
    epochs = np.stack([slow[o - 100 : o + 500] for o in _onset_samples(session)])
    average = (epochs - epochs[:, :100].mean(axis=1, keepdims=True)).mean(axis=0)
    rms = np.sqrt(np.mean(average[150:550] ** 2, axis=0))  # 50-450 ms after onset
    assert rms[montage.occipitoparietal_mask()].mean() > 1.5 * rms[montage.frontal_mask()].mean()
    # The noise-free response agrees.
    truth = np.sqrt(np.mean(SimulatedSubject(SMALL).evoked_response(0)[50:450] ** 2, axis=0))
    assert truth[montage.occipitoparietal_mask()].mean() > 5 * truth[montage.frontal_mask()].mean()


def test_class_information_is_mostly_in_the_pipeline_band():
    subject = SimulatedSubject(SimulationConfig(n_classes=40, images_per_class=1))
    responses = subject.class_mean_responses()
    deviation = responses - responses.mean(axis=0)
    freqs, power = signal.periodogram(deviation, fs=SFREQ, axis=1, nfft=2000)
    power = power.sum(axis=(0, 2))
    in_band = power[(freqs >= 14) & (freqs <= 70)].sum()
    assert in_band > 0.5 * power.sum()


# Ground truth ------------------------------------------------------------------------------------


def test_oracle_decodes_classes_and_falls_to_chance_without_signal(session, background):
    assert oracle_accuracy(session) > 0.6  # 4 classes: chance is 0.25
    assert oracle_accuracy(background) < 0.45


def test_oracle_is_invariant_to_channel_standardization(session):
    subject = SimulatedSubject(SMALL)
    sos = design_filter_bank(PipelineConfig())
    filtered = filter_recording(session.data, PipelineConfig())
    scale = filtered.std(axis=0)
    epochs = np.stack([filtered[o + 20 : o + 460] for o in _onset_samples(session)])
    plain = subject.oracle_predict(epochs, 0.020, sos)
    standardized = subject.oracle_predict((epochs - filtered.mean(axis=0)) / scale, 0.020, sos, scale)
    assert np.mean(plain == standardized) > 0.95
    ids = [e["image"] for _, e in session.stimulus_events()]
    assert subject.oracle_accuracy(epochs, ids, 0.020, sos) == pytest.approx(oracle_accuracy(session))


def test_nearest_class_mean_across_blocks_beats_chance():
    config = SimulationConfig(n_classes=4, images_per_class=50, snr=1.0)
    recording = simulate_session(config)
    filtered = filter_recording(recording.data, PipelineConfig())
    events = recording.stimulus_events()
    onsets = _onset_samples(recording)
    # 20-460 ms, averaged into 20 ms bins over the occipito-parietal channels.
    posterior = standard_montage().occipitoparietal_mask()
    features = np.stack(
        [filtered[o + 20 : o + 460, posterior].reshape(22, 20, -1).mean(axis=1).ravel() for o in onsets]
    )
    labels = np.array([e["label"] for _, e in events])
    train = np.array([e["block"] for _, e in events]) < 3
    means = np.stack([features[train & (labels == c)].mean(axis=0) for c in range(4)])
    distances = ((features[~train, None, :] - means[None]) ** 2).sum(axis=2)
    assert np.mean(distances.argmin(axis=1) == labels[~train]) > 0.4


def test_super_categories_cluster_the_prototypes():
    subject = SimulatedSubject(SimulationConfig())
    prototypes = subject.prototypes
    supers = np.array(subject.super_categories)
    distances = np.linalg.norm(prototypes[:, None] - prototypes[None], axis=2)
    same = supers[:, None] == supers[None]
    off_diagonal = ~np.eye(len(supers), dtype=bool)
    assert distances[same & off_diagonal].mean() < 0.8 * distances[~same].mean()
    # Images scatter around their prototype less than prototypes scatter around each other.
    within = np.linalg.norm(subject.image_latents - prototypes[subject.image_labels], axis=1).mean()
    assert within < 0.5 * distances[same & off_diagonal].mean()


# Images ------------------------------------------------------------------------------------------


def test_images_are_deterministic_and_follow_the_classes():
    subject = SimulatedSubject(SimulationConfig(n_classes=8, images_per_class=6))
    image = subject.render_image("img_0000_000")
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, SimulatedSubject(subject.config).render_image(0))
    pixels = np.stack([subject.render_image(i).astype(float).ravel() for i in range(len(subject.image_ids))])
    distances = np.linalg.norm(pixels[:, None] - pixels[None], axis=2)
    labels = subject.image_labels
    same = labels[:, None] == labels[None]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    assert distances[same & off_diagonal].mean() < 0.7 * distances[~same].mean()
    # A nearest-neighbour classifier on raw pixels already separates most classes.
    nearest = np.where(off_diagonal, distances, np.inf).argmin(axis=1)
    assert np.mean(labels[nearest] == labels) > 0.8


def test_write_images(tmp_path):
    subject = SimulatedSubject(SimulationConfig(n_classes=2, images_per_class=3, image_size=32))
    index = subject.write_images(tmp_path)
    with index.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert [r["image_id"] for r in rows] == list(subject.image_ids)
    assert rows[4]["label"] == "1" and rows[4]["class_name"] == "parachute"
    png = np.asarray(Image.open(tmp_path / rows[4]["file"]))
    np.testing.assert_array_equal(png, subject.render_image(rows[4]["image_id"]))


def test_channel_subset_spreads_over_the_head():
    subject = SimulatedSubject(SimulationConfig(n_channels=32, n_classes=2, images_per_class=2))
    assert len(subject.channel_names) == 32 and set(subject.channel_names) <= set(CHANNELS_128)
    assert subject.montage.frontal_mask().any() and subject.montage.occipitoparietal_mask().any()
    assert subject.generator().next_chunk(100).shape == (100, 32)
