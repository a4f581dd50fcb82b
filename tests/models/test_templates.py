"""Shared-response templates: time courses learnt across subjects, a new subject's mixing from few trials."""

from __future__ import annotations

import numpy as np
import pytest

from rtdecode.config import PipelineConfig
from rtdecode.io.bundle import ModelBundle, load_bundle, save_bundle
from rtdecode.models.serving import serve
from rtdecode.models.templates import POWER_BANDS_HZ, SharedTemplates
from rtdecode.signal.binning import band_power
from rtdecode.signal.standardize import Standardizer

SFREQ = 250.0  # 4 ms bins of one sample: the epochs are the model's bins
N_CLASSES, N_CHANNELS, N_TIMES, K = 4, 12, 60, 3


def _world(seed: int = 0) -> np.ndarray:
    """The class time courses every subject shares, ``(n_classes, n_times, K)``."""
    return 0.4 * np.random.default_rng(seed).standard_normal((N_CLASSES, N_TIMES, K))


def _subject(z: np.ndarray, seed: int, trials_per_class: int = 30, noise: float = 4.0):
    """One subject: its own random mixing, epochs ``(n, n_channels, n_times)`` in class-interleaved order."""
    rng = np.random.default_rng(100 + seed)
    mixing = rng.standard_normal((K, N_CHANNELS))
    y = np.tile(np.arange(N_CLASSES), trials_per_class)
    x = (z @ mixing)[y] + noise * rng.standard_normal((len(y), N_TIMES, N_CHANNELS))
    return np.swapaxes(x, 1, 2), y, mixing


def _sources(z: np.ndarray, n_subjects: int):
    parts = [_subject(z, s) for s in range(n_subjects)]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    subjects = np.concatenate([np.full(len(p[1]), s) for s, p in enumerate(parts)])
    return x, y, subjects


@pytest.fixture(scope="module")
def base():
    z = _world()
    x, y, subjects = _sources(z, 4)
    return SharedTemplates(n_classes=N_CLASSES, sfreq=SFREQ).fit(x, y, subjects), z


def test_a_new_subject_is_decoded_from_three_trials_per_class_with_the_shared_time_courses(base):
    model, z = base
    x, y, mixing = _subject(z, seed=50)
    calibration = np.arange(3 * N_CLASSES)  # the first three trials of each class
    test = np.arange(len(y))[len(calibration) :]
    new = model.fit_subject(x[calibration], y[calibration])
    transfer = np.mean(new.predict(x[test]) == y[test])
    # The same trials without the other subjects: its own class means are all it has.
    alone = SharedTemplates(n_classes=N_CLASSES, sfreq=SFREQ, n_components=K, ridge=0.1)
    alone.fit(x[calibration], y[calibration])
    own = np.mean(alone.predict(x[test]) == y[test])
    zero_shot = np.mean(model.predict(x[test]) == y[test])  # the sources' mean mixing
    assert transfer >= 0.9 and transfer - own >= 0.2 and transfer - zero_shot >= 0.2, (
        transfer,
        own,
        zero_shot,
    )
    # What it learnt is this subject's templates, up to the noise of three trials per class.
    truth = (z @ mixing).ravel()
    learnt = (new.time_courses_ @ new.mixing_).ravel()
    assert np.corrcoef(truth, learnt)[0, 1] > 0.8
    assert new.time_courses_ is model.time_courses_ and new.ridge_ is model.ridge_


def test_without_labels_the_mixing_and_the_classes_are_inferred_together(base):
    model, z = base
    x, y, _ = _subject(z, seed=70)
    unlabelled = model.fit_subject(x)  # expectation-maximisation, no label given
    accuracy = np.mean(unlabelled.predict(x) == y)
    assert accuracy >= 0.8, accuracy  # chance 0.25; the mean source mixing alone decodes nothing
    assert np.mean(model.predict(x) == y) < 0.5
    # Some labels known, the rest inferred: at least as good as those labels alone.
    partial = np.where(np.arange(len(y)) < 8, y, -1)
    semi = model.fit_subject(x, partial)
    labelled_only = model.fit_subject(x[:8], y[:8])
    assert np.mean(semi.predict(x[8:]) == y[8:]) >= np.mean(labelled_only.predict(x[8:]) == y[8:])
    with pytest.raises(ValueError, match="y has shape"):
        model.fit_subject(x, y[:5])


@pytest.mark.parametrize("n_classes", [2, 4])
def test_probabilities_add_the_evoked_and_the_power_parts_nearest_template_posteriors(n_classes):
    z = _world(1)
    x, y, subjects = _sources(z, 3)
    keep = y < n_classes
    model = SharedTemplates(
        n_classes=n_classes, sfreq=SFREQ, n_components=K, ridge=0.1, power_components=2, trial_shift_s=0.0
    )
    model.fit(x[keep], y[keep], subjects[keep])
    epochs = np.swapaxes(x[:20], 1, 2)  # (n, times, channels): one sample per 4 ms bin
    power = band_power(epochs, SFREQ, POWER_BANDS_HZ, 5)  # 20 ms bins
    decision = 0.0
    for part, z_part, mixing, noise_var, temperature in zip(
        (epochs, power),
        (model.time_courses_, model.power_time_courses_),
        (model.mixing_, model.power_mixing_),
        model.noise_var_,
        model.temperature_,
        strict=True,
    ):
        templates = (z_part @ mixing).reshape(n_classes, -1)
        flat = part.reshape(20, -1)
        decision = decision + (flat @ templates.T - 0.5 * np.sum(templates**2, axis=1)) / (
            noise_var * temperature
        )
    expected = np.exp(decision - decision.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict_proba(x[:20]), expected, rtol=1e-5, atol=1e-8)
    # The evoked noise variance is the residual's, per element of the binned epoch.
    residual = np.swapaxes(x[keep], 1, 2) - (model.time_courses_ @ model.mixing_)[y[keep]]
    assert model.noise_var_[0] == pytest.approx(np.mean(residual**2), rel=0.2)
    # Without the power part: the evoked posterior alone.
    evoked = SharedTemplates(n_classes=n_classes, sfreq=SFREQ, n_components=K, ridge=0.1, power_bands=None)
    evoked.fit(x[keep], y[keep], subjects[keep])
    assert evoked.power_time_courses_.shape[1] == 0 and evoked.coef_.shape[1] == N_TIMES * N_CHANNELS


def _induced_subject(seed: int, trials_per_class: int = 20):
    """Classes that differ only in the power of three oscillations whose phase is new on every
    trial (induced activity): their class means are the same waveform, zero."""
    rng = np.random.default_rng(300 + seed)
    patterns = rng.standard_normal((3, N_CHANNELS))  # the subject's own head
    amplitudes = np.array([[3.0, 0.5, 0.5], [0.5, 3.0, 0.5], [0.5, 0.5, 3.0], [1.5, 1.5, 1.5]])  # shared
    t = np.arange(N_TIMES) / SFREQ
    y = np.tile(np.arange(N_CLASSES), trials_per_class)
    phases = rng.uniform(0, 2 * np.pi, (len(y), 3))
    sources = amplitudes[y][:, :, None] * np.cos(
        2 * np.pi * np.array([31.0, 43.0, 57.0])[None, :, None] * t + phases[:, :, None]
    )
    envelope = np.exp(-((t - 0.12) ** 2) / (2 * 0.04**2))  # a burst in the middle of the epoch
    x = np.einsum("nkt,kc->nct", sources * envelope, patterns) + rng.standard_normal(
        (len(y), N_CHANNELS, N_TIMES)
    )
    return x, y


def test_classes_that_differ_only_in_induced_power_are_decoded_by_the_power_part():
    parts = [_induced_subject(s) for s in range(5)]
    x = np.concatenate([p[0] for p in parts[:4]])
    y = np.concatenate([p[1] for p in parts[:4]])
    subjects = np.repeat(np.arange(4), len(parts[0][1]))
    new_x, new_y = parts[4]
    calibration = np.arange(5 * N_CLASSES)  # five trials per class
    test = np.arange(len(new_y))[len(calibration) :]

    def accuracy(**params) -> float:
        base = SharedTemplates(n_classes=N_CLASSES, sfreq=SFREQ, **params).fit(x, y, subjects)
        new = base.fit_subject(new_x[calibration], new_y[calibration])
        return float(np.mean(new.predict(new_x[test]) == new_y[test]))

    # Without each epoch's own shift: a matched filter slid over an oscillation picks up its power.
    with_power, evoked_only = accuracy(), accuracy(power_bands=None, trial_shift_s=0.0)
    assert with_power >= 0.8 and evoked_only < 0.5, (with_power, evoked_only)  # chance 0.25


def test_the_temperature_fitted_on_held_out_sources_makes_probabilities_honest():
    # Noise correlated in time, as EEG's is: the white-noise posterior would be sure of every epoch.
    def smooth(x, axis):
        kernel = np.ones(6) / np.sqrt(6)
        return np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), axis, x)

    z = smooth(_world(2), 1)  # slow time courses in slow noise: their samples are not independent

    parts = []
    for s in range(5):
        x, y, mixing = _subject(z, s, noise=0.0)
        rng = np.random.default_rng(s)
        x = x + smooth(4.0 * rng.standard_normal(x.shape), 2)
        parts.append((x, y))
    x = np.concatenate([p[0] for p in parts[:4]])
    y = np.concatenate([p[1] for p in parts[:4]])
    subjects = np.repeat(np.arange(4), len(parts[0][1]))
    # The evoked part alone: with two parts the temperatures also weigh one part against the other.
    model = SharedTemplates(n_classes=N_CLASSES, sfreq=SFREQ, power_bands=None).fit(x, y, subjects)
    new_x, new_y = parts[4]
    new = model.fit_subject(new_x[:12], new_y[:12])
    proba = new.predict_proba(new_x[12:])
    accuracy = np.mean(proba.argmax(axis=1) == new_y[12:])
    assert model.temperature_[0] > 2.0 and model.selection_["temperatures"] == model.temperature_.tolist()
    sure = SharedTemplates(
        n_classes=N_CLASSES,
        sfreq=SFREQ,
        n_components=model.time_courses_.shape[2],
        ridge=model.ridge_[0],
        power_bands=None,
        trial_shift_s=model.trial_shift_[0] / SFREQ,
    )
    sure = sure.fit(x, y, subjects).fit_subject(new_x[:12], new_y[:12])
    assert sure.temperature_.tolist() == [1.0, 1.0]
    tempered_gap = abs(np.mean(proba.max(axis=1)) - accuracy)
    sure_gap = np.mean(sure.predict_proba(new_x[12:]).max(axis=1)) - accuracy
    # The same decisions (the same argmax), but confidence near the accuracy reached on a new subject.
    np.testing.assert_array_equal(sure.predict(new_x[12:]), proba.argmax(axis=1))
    assert tempered_gap < 0.15 and sure_gap > 2 * tempered_gap, (tempered_gap, sure_gap)


def test_k_and_the_ridge_are_chosen_on_the_sources_alone(base):
    model, z = base
    selection = model.selection_
    assert selection["how"] == "leave-one-source-subject-out"
    assert np.shape(selection["top1"]) == (len(selection["components"]), len(selection["ridges"]))
    chosen = selection["components"].index(model.time_courses_.shape[2])
    assert max(max(row) for row in selection["top1"]) == pytest.approx(max(selection["top1"][chosen]))
    x, y, subjects = _sources(z, 2)
    two = SharedTemplates(n_classes=N_CLASSES, sfreq=SFREQ).fit(x, y, subjects)
    assert two.selection_["how"].startswith("defaults")
    assert two.time_courses_.shape[2] == 12  # the default 16, at most the 12 channels
    given = SharedTemplates(n_classes=N_CLASSES, sfreq=SFREQ, n_components=5, ridge=1.0, power_components=2)
    given = given.fit(x, y, subjects)
    assert given.selection_["how"] == "given" and given.ridge_[0] == 1.0


def test_a_bundle_serves_the_same_probabilities_after_a_round_trip(base, tmp_path):
    model, z = base
    x, y, _ = _subject(z, seed=60)
    new = model.fit_subject(x[:12], y[:12])
    bundle = ModelBundle(
        model=new,
        model_config=None,
        pipeline=PipelineConfig(sfreq=SFREQ),
        standardizer=Standardizer.from_dict({"mean": np.zeros(N_CHANNELS), "std": np.ones(N_CHANNELS)}),
        class_names=["a", "b", "c", "d"],
        channel_names=[f"ch{i}" for i in range(N_CHANNELS)],
        sfreq=SFREQ,
    )
    save_bundle(bundle, tmp_path / "model")
    served = serve(load_bundle(tmp_path / "model"))
    assert served.architecture == "templates"
    epochs = np.swapaxes(x[12:], 1, 2).astype(
        np.float32
    )  # what the engine hands over: (n, samples, channels)
    np.testing.assert_allclose(
        served.probabilities(served.features(epochs)), new.predict_proba(x[12:]), rtol=1e-4, atol=1e-6
    )


def test_epochs_of_another_length_or_montage_are_refused(base):
    model, _ = base
    with pytest.raises(ValueError, match="60 bins x 12 channels, the epochs give 50 x 12"):
        model.predict_proba(np.zeros((2, N_CHANNELS, 50)))
    with pytest.raises(ValueError, match="pass epochs"):
        model.predict_proba(np.zeros((N_CHANNELS, N_TIMES)))


PAD = 10  # samples of response either side of the epoch, for subjects who respond earlier or later


def _late_subject(z_long: np.ndarray, seed: int, latency: int, trials_per_class: int = 30, jitter: int = 0):
    """A subject whose response comes ``latency`` samples later (each trial up to ``jitter``
    samples more or less), epochs ``(n, n_channels, n_times)``."""
    rng = np.random.default_rng(300 + seed)
    mixing = rng.standard_normal((K, N_CHANNELS))
    y = np.tile(np.arange(N_CLASSES), trials_per_class)
    response = z_long @ mixing
    starts = PAD - latency - rng.integers(-jitter, jitter + 1, len(y))
    x = np.stack([response[c, start : start + N_TIMES] for c, start in zip(y, starts, strict=True)])
    x = x + 4.0 * rng.standard_normal((len(y), N_TIMES, N_CHANNELS))
    return np.swapaxes(x, 1, 2), y


def test_subjects_who_respond_earlier_or_later_are_aligned_and_a_new_one_found_from_its_trials():
    z_long = 0.4 * np.random.default_rng(7).standard_normal((N_CLASSES, N_TIMES + 2 * PAD, K))
    source_latencies = np.array([-3, 0, 2, 5])
    sources = [_late_subject(z_long, s, latency) for s, latency in enumerate(source_latencies)]
    x = np.concatenate([p[0] for p in sources])
    y = np.concatenate([p[1] for p in sources])
    subjects = np.repeat(np.arange(4), len(sources[0][1]))
    aligned = SharedTemplates(n_classes=N_CLASSES, sfreq=SFREQ, power_bands=None).fit(x, y, subjects)
    fixed = SharedTemplates(n_classes=N_CLASSES, sfreq=SFREQ, power_bands=None, max_latency_s=0.0)
    fixed = fixed.fit(x, y, subjects)
    ms_per_sample = 1000.0 / SFREQ
    # Latencies relative to the sources' mean (1 sample, 4 ms, each).
    expected = ms_per_sample * (source_latencies - 1)
    np.testing.assert_allclose(aligned.selection_["source_latencies_ms"], expected)
    assert fixed.selection_["source_latencies_ms"] == [0.0] * 4

    new_x, new_y = _late_subject(z_long, 9, latency=6)
    calibration, test = np.arange(3 * N_CLASSES), np.arange(3 * N_CLASSES, len(new_y))
    new = aligned.fit_subject(new_x[calibration], new_y[calibration])
    assert new.latency_[0] == 6 - 1 and new.selection_report()["chosen"]["latency_ms"] == 5 * ms_per_sample
    late = np.mean(new.predict(new_x[test]) == new_y[test])
    unaligned = fixed.fit_subject(new_x[calibration], new_y[calibration])
    assert unaligned.latency_[0] == 0
    assert late >= 0.9 and late - np.mean(unaligned.predict(new_x[test]) == new_y[test]) >= 0.2
    # Without labels the latency is found from the classes the base infers.
    assert aligned.fit_subject(new_x).latency_[0] == 5


def test_each_epoch_is_matched_at_its_own_latency_as_far_as_the_sources_say():
    """Trial-to-trial latency jitter (+-2 samples here): each epoch's evoked part is compared with each
    template at its best shift, the reach chosen on the held-out sources."""
    z_long = 0.4 * np.random.default_rng(8).standard_normal((N_CLASSES, N_TIMES + 2 * PAD, K))
    sources = [_late_subject(z_long, s, 0, jitter=2) for s in range(4)]
    x = np.concatenate([p[0] for p in sources])
    y = np.concatenate([p[1] for p in sources])
    subjects = np.repeat(np.arange(4), len(sources[0][1]))
    settings = {"n_classes": N_CLASSES, "sfreq": SFREQ, "power_bands": None, "max_latency_s": 0.0}
    searched = SharedTemplates(**settings).fit(x, y, subjects)
    fixed = SharedTemplates(**settings, trial_shift_s=0.0).fit(x, y, subjects)
    assert searched.trial_shift_[0] == 2 and searched.selection_report()["chosen"]["trial_shift_ms"] == 8.0
    assert fixed.trial_shift_[0] == 0

    new_x, new_y = _late_subject(z_long, 9, 0, jitter=2)
    calibration, test = np.arange(5 * N_CLASSES), np.arange(5 * N_CLASSES, len(new_y))
    new = searched.fit_subject(new_x[calibration], new_y[calibration])
    own = np.mean(new.predict(new_x[test]) == new_y[test])
    unshifted = fixed.fit_subject(new_x[calibration], new_y[calibration])
    assert own >= 0.85 and own - np.mean(unshifted.predict(new_x[test]) == new_y[test]) >= 0.08
    # The decision is the nearest-template one at the epoch's best shift, per class.
    epochs = np.swapaxes(new_x[test], 1, 2)
    templates = (new.time_courses_ @ new.mixing_).reshape(N_CLASSES, -1)
    shifted = []
    for shift in range(-2, 3):
        moved = np.zeros_like(epochs)
        if shift >= 0:
            moved[:, : N_TIMES - shift] = epochs[:, shift:]
        else:
            moved[:, -shift:] = epochs[:, :shift]
        flat = moved.reshape(len(epochs), -1)
        shifted.append(flat @ templates.T - 0.5 * np.sum(templates**2, axis=1))
    expected = np.max(shifted, axis=0) / (new.noise_var_[0] * new.temperature_[0])
    np.testing.assert_allclose(new.decision_function(new_x[test]), expected, rtol=1e-4, atol=1e-6)
