"""The simulated subject's visual evoked response to an image.

Mostly over occipito-parietal channels, 50-450 ms after onset: a class-independent ERP (P1, N1,
P2 and a small 40 Hz burst), plus beta/gamma bursts (15-40 Hz, inside the pipeline's 14-70 Hz
band) and slow waves (removed by that band) whose amplitudes are a fixed linear function of the
image's latent feature vector (see :mod:`rtdecode.sim.stimuli`), and induced gamma whose power,
not phase, follows the latent. Every trial jitters in amplitude and latency
(:meth:`EvokedModel.trial`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from rtdecode.config import PipelineConfig
from rtdecode.signal.filters import design_filter_bank
from rtdecode.sim.config import DEFAULT_SNR, SimulationConfig, to_samples
from rtdecode.sim.montage import Montage, direction
from rtdecode.sim.seeds import (
    TAG_BASIS,
    TAG_INDUCED,
    TAG_INDUCED_SPATIAL,
    TAG_SPATIAL,
    TAG_SUBJECT_BASIS,
    seeded_rng,
)
from rtdecode.sim.stimuli import CLASS_SCALE, LATENT_DIM, SUPER_SCALE

RESPONSE_S = 0.6
N_BURSTS = 16
BURST_HZ = (15.0, 40.0)
N_SLOW_WAVES = 4
# Induced gamma: class-dependent burst power whose phase is random on every trial, so it
# survives in spectrograms but averages out of time-locked waveforms (as induced visual gamma
# does in real EEG). Its amplitude is a linear function of the latent, like the evoked part.
N_INDUCED = 8
INDUCED_HZ = (30.0, 68.0)
INDUCED_RELATIVE = 3.0  # induced amplitude per latent unit, relative to the evoked class gain
# Class-independent ERP peaks at the default snr, in uV (P1, N1, P2), and a small 40 Hz
# phase-locked burst; all scale with snr.
ERP_PEAKS_UV = (4.0, -5.0, 3.0, 1.0)
TRIAL_AMPLITUDE_SD = 0.2
TRIAL_COMPONENT_SD = 0.15
TRIAL_LATENCY_SD_S = 0.004


@dataclass(frozen=True)
class EvokedModel:
    """Spatio-temporal basis of the evoked response.

    ``response = waveforms @ (coefficients[:, None] * patterns)``; the first ``n_class``
    coefficients are ``gain * mixing @ latent``, then the class-independent ERP, then
    ``n_induced`` (cosine, sine) pairs of induced gamma bursts. The induced pairs have zero mean
    (their phase is random per trial, see :meth:`induced_amplitudes`).
    """

    waveforms: np.ndarray  # (n_response_samples, n_components)
    patterns: np.ndarray  # (n_components, n_channels)
    mixing: np.ndarray  # (n_class_components, latent_dim)
    gain: float
    erp_coefficients: np.ndarray  # (n_erp_components,)
    induced_mixing: np.ndarray  # (n_induced, latent_dim)

    @property
    def n_samples(self) -> int:
        """Length of the response in samples (``RESPONSE_S * sfreq``)."""
        return int(self.waveforms.shape[0])

    @property
    def n_induced(self) -> int:
        """Number of induced gamma bursts (each a cosine and a sine component)."""
        return int(self.induced_mixing.shape[0])

    def coefficients(self, latent: np.ndarray) -> np.ndarray:
        """Mean (phase-locked) component amplitudes of one image, shape ``(n_components,)``."""
        return np.concatenate(
            [self.gain * (self.mixing @ latent), self.erp_coefficients, np.zeros(2 * self.n_induced)]
        )

    def induced_amplitudes(self, latent: np.ndarray) -> np.ndarray:
        """Amplitude of each induced gamma burst for one image, shape ``(n_induced,)``."""
        return INDUCED_RELATIVE * self.gain * (self.induced_mixing @ latent)

    def response(self, coefficients: np.ndarray) -> np.ndarray:
        """Response for given component amplitudes, shape ``(n_samples, n_channels)``."""
        return self.waveforms @ (coefficients[:, None] * self.patterns)

    def trial(self, latent: np.ndarray, rng: np.random.Generator, sfreq: float) -> tuple[int, np.ndarray]:
        """One presentation of an image: its latency shift and component amplitudes.

        The whole response scales by a log-normal amplitude (mean 1), every component by its
        own jitter, the latency shifts by a few milliseconds, and each induced burst gets a
        random phase.

        Parameters
        ----------
        latent : np.ndarray, shape (latent_dim,)
            The image's latent vector.
        rng : np.random.Generator
            The trial's own random stream (seeded by the onset and the image, so that the
            result does not depend on presentation order).
        sfreq : float
            Sampling rate in Hz, for the latency shift.

        Returns
        -------
        shift : int
            Latency shift in samples.
        weights : np.ndarray, shape (n_components,), float32
            Amplitudes for :meth:`response` (the generator applies them in single precision).
        """
        amplitude = math.exp(TRIAL_AMPLITUDE_SD * rng.standard_normal() - TRIAL_AMPLITUDE_SD**2 / 2)
        shift = int(round(TRIAL_LATENCY_SD_S * sfreq * rng.standard_normal()))
        coefficients = self.coefficients(latent)
        jitter = 1.0 + TRIAL_COMPONENT_SD * rng.standard_normal(len(coefficients))
        weights = (amplitude * jitter * coefficients).astype(np.float32)
        if self.n_induced:
            induced = amplitude * self.induced_amplitudes(latent)
            phase = rng.uniform(0.0, 2 * np.pi, self.n_induced)
            # a cos(wt + phase) = a cos(phase) cos(wt) - a sin(phase) sin(wt)
            weights[len(weights) - 2 * self.n_induced :: 2] = induced * np.cos(phase)
            weights[len(weights) - 2 * self.n_induced + 1 :: 2] = -induced * np.sin(phase)
        return shift, weights


def build_evoked_model(cfg: SimulationConfig, montage: Montage, background_rms: float) -> EvokedModel:
    """Waveforms and class mixing from the seed; latencies and topographies from the subject.

    ``background_rms`` (uV, in the pipeline band over occipito-parietal channels) sets the gain
    so that the class-dependent response has ``cfg.snr`` times that RMS.
    """
    shared = seeded_rng(cfg.seed, TAG_BASIS)
    personal = seeded_rng(cfg.seed, TAG_SUBJECT_BASIS, cfg.subject)
    t = np.arange(to_samples(RESPONSE_S, cfg.sfreq)) / cfg.sfreq
    latency_shift = personal.normal(0.0, 0.010)
    speed = personal.uniform(0.95, 1.05)

    columns = []
    for _ in range(N_BURSTS):
        hz, centre = shared.uniform(*BURST_HZ) * speed, shared.uniform(0.12, 0.36) + latency_shift
        width, phase = shared.uniform(0.025, 0.05), shared.uniform(0, 2 * np.pi)
        columns.append(gaussian(t, centre, width) * np.cos(2 * np.pi * hz * (t - centre) + phase))
    for _ in range(N_SLOW_WAVES):
        centre, width = shared.uniform(0.12, 0.35) + latency_shift, shared.uniform(0.03, 0.07)
        columns.append(gaussian(t, centre, width))
    n_class = len(columns)
    # Class-independent ERP: P1, N1, P2 and a 40 Hz phase-locked burst.
    for centre, width in ((0.10, 0.02), (0.17, 0.025), (0.25, 0.04)):
        columns.append(gaussian(t, centre + latency_shift, width))
    columns.append(gaussian(t, 0.09 + latency_shift, 0.02) * np.cos(2 * np.pi * 40.0 * (t - 0.09)))
    induced_rng = seeded_rng(cfg.seed, TAG_INDUCED)
    for _ in range(N_INDUCED):
        hz = induced_rng.uniform(*INDUCED_HZ) * speed
        centre = induced_rng.uniform(0.15, 0.35) + latency_shift
        envelope = gaussian(t, centre, induced_rng.uniform(0.04, 0.08))
        columns += [
            envelope * np.cos(2 * np.pi * hz * (t - centre)),
            envelope * np.sin(2 * np.pi * hz * (t - centre)),
        ]
    waveforms = np.column_stack(columns)

    spatial = seeded_rng(cfg.seed, TAG_SPATIAL, cfg.subject)
    induced_spatial = seeded_rng(cfg.seed, TAG_INDUCED_SPATIAL, cfg.subject)
    induced_patterns = [
        p for _ in range(N_INDUCED) for p in [posterior_pattern(induced_spatial, montage)] * 2
    ]
    patterns = np.stack(
        [posterior_pattern(spatial, montage) for _ in range(n_class)]
        + erp_patterns(spatial, montage)
        + induced_patterns
    )
    mixing = shared.standard_normal((n_class, LATENT_DIM)) / np.sqrt(LATENT_DIM)
    induced_mixing = induced_rng.standard_normal((N_INDUCED, LATENT_DIM)) / np.sqrt(LATENT_DIM)
    erp = np.array(ERP_PEAKS_UV) * cfg.snr / DEFAULT_SNR

    unit = EvokedModel(waveforms, patterns, mixing, 1.0, erp, induced_mixing)
    gain = cfg.snr * background_rms / class_band_rms(unit, n_class, cfg, montage)
    # The knob acts after every random draw and the gain, so "mixed" is the simulator as it was.
    if cfg.class_information == "evoked_low":
        low = mixing.copy()
        low[:N_BURSTS] = 0.0
        full_rms = class_band_rms(unit, n_class, cfg, montage, filtered=False)
        low_rms = class_band_rms(
            EvokedModel(waveforms, patterns, low, 1.0, erp, induced_mixing),
            n_class,
            cfg,
            montage,
            filtered=False,
        )
        mixing, induced_mixing = low * (full_rms / low_rms), np.zeros_like(induced_mixing)
    elif cfg.class_information == "induced_gamma":
        mixing = np.zeros_like(mixing)
    return EvokedModel(waveforms, patterns, mixing, gain, erp, induced_mixing)


def class_band_rms(
    model: EvokedModel, n_class: int, cfg: SimulationConfig, montage: Montage, filtered: bool = True
) -> float:
    """Expected in-band RMS of the class-dependent response at unit gain (unfiltered: ``filtered=False``).

    Expectation over the prototype distribution (variance SUPER_SCALE**2 + CLASS_SCALE**2 per
    latent axis), not over the realized classes, so the scale does not depend on n_classes.
    """
    waveforms = model.waveforms[:, :n_class]
    if filtered:
        waveforms = signal.sosfilt(design_filter_bank(PipelineConfig(sfreq=cfg.sfreq)), waveforms, axis=0)
    window = slice(to_samples(0.05, cfg.sfreq), to_samples(0.45, cfg.sfreq))
    temporal = waveforms[window].T @ waveforms[window]
    channels = snr_channels(montage)
    spatial = model.patterns[:n_class, channels] @ model.patterns[:n_class, channels].T
    variance = SUPER_SCALE**2 + CLASS_SCALE**2
    power = variance * np.trace(model.mixing @ model.mixing.T @ (temporal * spatial))
    cells = (window.stop - window.start) * int(channels.sum())
    return float(np.sqrt(power / cells))


def posterior_pattern(rng: np.random.Generator, montage: Montage) -> np.ndarray:
    """A random class-specific topography behind the vertex, shape ``(n_channels,)``, max abs 1."""
    # Two blobs of either sign behind the vertex: a dipole-like, class-specific topography.
    pattern = np.zeros(montage.n_channels)
    for sign in (1.0, rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 1.0)):
        centre = direction(np.deg2rad(rng.uniform(45, 95)), np.deg2rad(rng.uniform(125, 235)))
        distance = montage.angular_distances(centre[None, :])[:, 0]
        pattern += sign * np.exp(-(distance**2) / (2 * 0.4**2))
    return pattern / np.max(np.abs(pattern))


def erp_patterns(rng: np.random.Generator, montage: Montage) -> list[np.ndarray]:
    """Topographies of the P1, N1, P2 and 40 Hz burst, each ``(n_channels,)`` with max abs 1."""

    def blob(polar_deg: float, azimuth_deg: float, width: float = 0.45) -> np.ndarray:
        centre = direction(
            np.deg2rad(polar_deg + rng.normal(0, 5)), np.deg2rad(azimuth_deg + rng.normal(0, 8))
        )
        return np.exp(-(montage.angular_distances(centre[None, :])[:, 0] ** 2) / (2 * width**2))

    p1 = blob(75, 180)
    n1 = blob(75, 140) + blob(75, 220)  # bilateral, over PO7/PO8
    p2 = blob(55, 180)
    gamma = blob(70, 180, 0.35)
    return [p / np.max(np.abs(p)) for p in (p1, n1, p2, gamma)]


def snr_channels(montage: Montage) -> np.ndarray:
    """Boolean ``(n_channels,)``: where ``snr`` is measured (occipito-parietal, or all channels
    for a montage without any)."""
    channels = montage.occipitoparietal_mask()
    return channels if channels.any() else np.ones(montage.n_channels, dtype=bool)


def gaussian(t: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Gaussian bump of peak 1 at ``centre`` with SD ``width`` (seconds), same shape as ``t``."""
    return np.exp(-((t - centre) ** 2) / (2 * width**2))
