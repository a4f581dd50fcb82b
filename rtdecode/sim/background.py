"""The simulated subject's background EEG: everything that is not a response to an image.

Spatially smooth 1/f noise from a few dozen latent sources, a posterior alpha rhythm whose
amplitude wanders slowly, slow electrode drift, line noise (mains and its third harmonic), sensor
noise and eye blinks on the frontal channels. :class:`BackgroundModel` holds a subject's fixed
parameters (and the exact in-band covariance that defines the unit of ``snr``);
:class:`BackgroundState` carries filter states and random streams from chunk to chunk, so any
chunking yields the same samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from rtdecode.sim.config import SimulationConfig
from rtdecode.sim.montage import Montage, direction
from rtdecode.sim.seeds import TAG_BACKGROUND, seeded_rng

# Amplitudes in microvolts.
PINK_UV = 10.0
N_PINK_SOURCES = 40
PINK_WIDTH_RAD = 0.5
ALPHA_UV = 12.0
N_ALPHA_SOURCES = 3
ALPHA_LOG_AMPLITUDE_SD = 0.5
ALPHA_ENVELOPE_HZ = 0.1
DRIFT_UV = 15.0
N_DRIFT_SOURCES = 6
DRIFT_CORNER_HZ = 0.02
LINE_UV = (1.0, 6.0)
LINE_OFFSET_HZ = 0.05
SENSOR_UV = 1.5
BLINK_INTERVAL_S = (3.0, 6.0)
BLINK_UV = (100.0, 200.0)

# Paul Kellet's economy pink filter: 1/f within about 3 % from 1e-3 to 0.5 of the sampling rate.
PINK_B = np.array([0.049922035, -0.095993537, 0.050612699, -0.004408786])
PINK_A = np.array([1.0, -2.494956002, 2.017265875, -0.522189400])


@dataclass(frozen=True)
class BackgroundModel:
    """Fixed parameters of a subject's background activity (see :class:`BackgroundState`)."""

    sfreq: float
    mixing: np.ndarray  # (n_pink + n_alpha + n_drift + n_line, n_channels), float32
    sensor_uv: np.ndarray  # (n_channels,)
    alpha_ba: tuple[np.ndarray, np.ndarray]  # resonator, one per alpha source shares poles
    alpha_gain: float  # scales the resonator output to unit variance
    envelope_ba: tuple[np.ndarray, np.ndarray]
    envelope_gain: float
    drift_ba: tuple[np.ndarray, np.ndarray]
    drift_gain: float
    pink_gain: float
    line_hz: tuple[float, ...]
    blink_topography: np.ndarray  # (n_channels,), 1 at the most frontal channel
    seeds: tuple[np.random.SeedSequence, ...]

    def start(self) -> BackgroundState:
        """A fresh state at sample 0."""
        return BackgroundState(self)

    def band_covariance(self, sos: np.ndarray, n_freqs: int = 1 << 16) -> np.ndarray:
        """Spatial covariance of the background after the causal filter ``sos``, in uV^2.

        Exact for the stationary parts (1/f sources, alpha at its mean power, drift, line,
        sensor noise) from their transfer functions; blinks are left out.

        Returns
        -------
        np.ndarray, shape (n_channels, n_channels)
        """
        freqs, response = signal.sosfreqz(sos, worN=n_freqs, fs=self.sfreq)
        band = np.abs(response) ** 2

        def power(b: np.ndarray, a: np.ndarray, gain: float) -> float:
            # Variance of unit white noise through b/a and sos: mean of |H|^2 over 0..Nyquist.
            _, h = signal.freqz(b, a, worN=freqs, fs=self.sfreq)
            return float(np.mean(band * np.abs(gain * h) ** 2))

        variances = np.concatenate(
            [
                np.full(N_PINK_SOURCES, power(PINK_B, PINK_A, self.pink_gain)),
                np.full(N_ALPHA_SOURCES, power(*self.alpha_ba, self.alpha_gain)),
                np.full(N_DRIFT_SOURCES, power(*self.drift_ba, self.drift_gain)),
            ]
        )
        _, line = signal.sosfreqz(sos, worN=np.array(self.line_hz), fs=self.sfreq)
        # A unit cosine has variance 1/2; its sine partner shares the gain.
        variances = np.concatenate([variances, np.repeat(np.abs(line) ** 2 / 2, 2)])
        mixing = self.mixing.astype(float)
        covariance = mixing.T @ (variances[:, None] * mixing)
        covariance[np.diag_indices_from(covariance)] += self.sensor_uv**2 * float(np.mean(band))
        return covariance


class BackgroundState:
    """Filter states and random streams of the background; produces consecutive chunks."""

    def __init__(self, model: BackgroundModel) -> None:
        self.model = model
        names = ("pink", "alpha", "envelope", "drift", "sensor", "blink")
        self.rng = {name: np.random.default_rng(s) for name, s in zip(names, model.seeds, strict=True)}
        self.pink_zi = np.zeros((len(PINK_A) - 1, N_PINK_SOURCES))
        self.alpha_zi = np.zeros((2, N_ALPHA_SOURCES))
        self.envelope_zi = np.zeros((len(model.envelope_ba[1]) - 1, 1))
        self.drift_zi = np.zeros((1, N_DRIFT_SOURCES))
        self.blinks: list[tuple[int, float, float]] = []  # (onset, amplitude uV, time constant)
        self.next_blink = self._blink_interval()

    def next_chunk(self, start: int, n: int) -> np.ndarray:
        sources = np.concatenate(
            [self._pink(n), self._alpha(n), self._drift(n), self._line(start, n)], axis=1
        )
        out = sources.astype(np.float32) @ self.model.mixing
        sensor = self.rng["sensor"].standard_normal((n, out.shape[1]), dtype=np.float32)
        out += sensor * self.model.sensor_uv.astype(np.float32)
        self._add_blinks(out, start)
        return out

    def _pink(self, n: int) -> np.ndarray:
        white = self.rng["pink"].standard_normal((n, N_PINK_SOURCES))
        pink, self.pink_zi = signal.lfilter(PINK_B, PINK_A, white, axis=0, zi=self.pink_zi)
        return pink * self.model.pink_gain

    def _alpha(self, n: int) -> np.ndarray:
        b, a = self.model.alpha_ba
        drive = self.rng["alpha"].standard_normal((n, N_ALPHA_SOURCES))
        rhythm, self.alpha_zi = signal.lfilter(b, a, drive, axis=0, zi=self.alpha_zi)
        b, a = self.model.envelope_ba
        slow = self.rng["envelope"].standard_normal((n, 1))
        log_amp, self.envelope_zi = signal.lfilter(b, a, slow, axis=0, zi=self.envelope_zi)
        # A log-normal envelope with unit mean square keeps ALPHA_UV the long-run RMS.
        sd = ALPHA_LOG_AMPLITUDE_SD
        envelope = np.exp(sd * self.model.envelope_gain * log_amp - sd**2)
        return rhythm * self.model.alpha_gain * envelope

    def _drift(self, n: int) -> np.ndarray:
        b, a = self.model.drift_ba
        steps = self.rng["drift"].standard_normal((n, N_DRIFT_SOURCES))
        drift, self.drift_zi = signal.lfilter(b, a, steps, axis=0, zi=self.drift_zi)
        return drift * self.model.drift_gain

    def _line(self, start: int, n: int) -> np.ndarray:
        # Phase from the absolute sample index: continuous across chunks by construction.
        t = (start + np.arange(n)) / self.model.sfreq
        columns = []
        for hz in self.model.line_hz:
            columns += [np.cos(2 * np.pi * hz * t), np.sin(2 * np.pi * hz * t)]
        return np.column_stack(columns)

    def _blink_interval(self) -> int:
        low, high = BLINK_INTERVAL_S
        return int(round(self.rng["blink"].uniform(low, high) * self.model.sfreq))

    def _add_blinks(self, out: np.ndarray, start: int) -> None:
        stop = start + len(out)
        while self.next_blink < stop:
            amplitude = self.rng["blink"].uniform(*BLINK_UV)
            tau = self.rng["blink"].uniform(0.04, 0.07) * self.model.sfreq
            self.blinks.append((self.next_blink, amplitude, tau))
            self.next_blink += self._blink_interval()
        keep = []
        for onset, amplitude, tau in self.blinks:
            end = onset + int(math.ceil(12 * tau))
            lo, hi = max(onset, start), min(end, stop)
            if lo < hi:
                x = (np.arange(lo, hi) - onset) / tau
                # Gamma-shaped lid movement peaking (at 1) two time constants after onset.
                shape = (x / 2) ** 2 * np.exp(2 - x)
                out[lo - start : hi - start] += np.outer(
                    amplitude * shape, self.model.blink_topography
                ).astype(np.float32)
            if end > stop:
                keep.append((onset, amplitude, tau))
        self.blinks = keep


def build_background_model(cfg: SimulationConfig, montage: Montage) -> BackgroundModel:
    """The background of subject ``cfg.subject``: source topographies, rhythms and noise levels."""
    rng = seeded_rng(cfg.seed, TAG_BACKGROUND, cfg.subject)
    n_ch, sfreq = montage.n_channels, cfg.sfreq

    # Pink sources spread over the upper head, each seen by nearby electrodes.
    pink_positions = random_directions(rng, N_PINK_SOURCES, min_z=-0.2)
    pink = np.exp(-(montage.angular_distances(pink_positions).T ** 2) / (2 * PINK_WIDTH_RAD**2))
    pink /= np.sqrt(np.sum(pink**2, axis=0, keepdims=True))
    pink *= PINK_UV * rng.lognormal(0.0, 0.15, n_ch)

    alpha_positions = np.stack(
        [
            direction(np.deg2rad(rng.uniform(55, 85)), np.deg2rad(rng.uniform(140, 220)))
            for _ in range(N_ALPHA_SOURCES)
        ]
    )
    alpha = np.exp(-(montage.angular_distances(alpha_positions).T ** 2) / (2 * 0.6**2))
    alpha *= ALPHA_UV * rng.uniform(0.6, 1.0, (N_ALPHA_SOURCES, 1)) / np.sqrt(N_ALPHA_SOURCES)

    drift = rng.standard_normal((N_DRIFT_SOURCES, n_ch)) * DRIFT_UV / np.sqrt(N_DRIFT_SOURCES)

    # Mains runs a little off nominal, so it does not stay phase-locked to the stimulus clock.
    mains = cfg.line_freq + rng.uniform(-LINE_OFFSET_HZ, LINE_OFFSET_HZ)
    line_hz = tuple(h * mains for h in (1, 3) if h * mains < sfreq / 2)
    line_rows = []
    for harmonic, _ in enumerate(line_hz):
        amplitude = rng.uniform(*LINE_UV, n_ch) * (1.0 if harmonic == 0 else 0.2)
        # Mains couples in nearly the same phase everywhere.
        phase = rng.uniform(0, 2 * np.pi) + rng.normal(0.0, 0.3, n_ch)
        line_rows += [amplitude * np.cos(phase), -amplitude * np.sin(phase)]

    alpha_hz = rng.uniform(9.0, 11.5)
    radius = 0.995
    alpha_a = np.array([1.0, -2 * radius * np.cos(2 * np.pi * alpha_hz / sfreq), radius**2])
    alpha_b = np.array([1.0])
    envelope_ba = signal.butter(2, ALPHA_ENVELOPE_HZ, fs=sfreq)
    drift_pole = math.exp(-2 * math.pi * DRIFT_CORNER_HZ / sfreq)
    drift_ba = (np.array([1.0]), np.array([1.0, -drift_pole]))

    eyes = direction(np.deg2rad(105.0), 0.0)
    distance = montage.angular_distances(eyes[None, :])[:, 0]
    blink = np.exp(-distance / 0.45)
    blink /= blink.max()

    mixing = np.concatenate([pink, alpha, drift, np.array(line_rows)]).astype(np.float32)
    return BackgroundModel(
        sfreq=sfreq,
        mixing=mixing,
        sensor_uv=SENSOR_UV * rng.lognormal(0.0, 0.4, n_ch),
        alpha_ba=(alpha_b, alpha_a),
        alpha_gain=1.0 / impulse_rms(alpha_b, alpha_a),
        envelope_ba=envelope_ba,
        envelope_gain=1.0 / impulse_rms(*envelope_ba, n=int(20 * sfreq / ALPHA_ENVELOPE_HZ)),
        drift_ba=drift_ba,
        drift_gain=1.0 / impulse_rms(*drift_ba, n=int(20 * sfreq / DRIFT_CORNER_HZ)),
        pink_gain=1.0 / impulse_rms(PINK_B, PINK_A),
        line_hz=line_hz,
        blink_topography=blink,
        seeds=tuple(np.random.SeedSequence([cfg.seed, TAG_BACKGROUND, cfg.subject, 1]).spawn(6)),
    )


def random_directions(rng: np.random.Generator, n: int, min_z: float) -> np.ndarray:
    """``n`` random unit vectors with ``z >= min_z``, shape ``(n, 3)``."""
    points: list[np.ndarray] = []
    while len(points) < n:
        v = rng.standard_normal(3)
        v /= np.linalg.norm(v)
        if v[2] >= min_z:
            points.append(v)
    return np.stack(points)


def impulse_rms(b: np.ndarray, a: np.ndarray, n: int = 50_000) -> float:
    """RMS gain of the filter ``b / a`` on unit white noise: the norm of its first ``n`` impulse samples."""
    impulse = np.zeros(n)
    impulse[0] = 1.0
    return float(np.sqrt(np.sum(signal.lfilter(b, a, impulse) ** 2)))
