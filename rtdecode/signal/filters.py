"""Causal filter bank: line-noise notch then band-pass, as float64 second-order sections.

The same object filters a whole recording in one call and a live stream chunk by chunk: its state
is carried across calls, so both paths give the same samples (the "offline is streaming" rule).
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from rtdecode.config import FilterConfig, PipelineConfig


def design_filter_bank(config: PipelineConfig) -> np.ndarray:
    """Second-order sections of the whole bank (notch, band-pass, then the drift guard).

    Parameters
    ----------
    config : PipelineConfig
        Uses ``config.sfreq`` and ``config.filter``.

    Returns
    -------
    sos : np.ndarray, shape (n_sections, 6), float64
        Sections in the order they are applied; pass to :func:`scipy.signal.sosfilt`.
    """
    f: FilterConfig = config.filter
    sections = []
    if f.enabled_notch:
        sections.append(
            signal.butter(
                f.order, [f.notch_low_hz, f.notch_high_hz], btype="bandstop", fs=config.sfreq, output="sos"
            )
        )
    sections.append(
        signal.butter(
            f.order, [f.band_low_hz, f.band_high_hz], btype="bandpass", fs=config.sfreq, output="sos"
        )
    )
    if f.drift_highpass_hz > 0:
        sections.append(
            signal.butter(f.order, f.drift_highpass_hz, btype="highpass", fs=config.sfreq, output="sos")
        )
    return np.ascontiguousarray(np.concatenate(sections, axis=0), dtype=np.float64)


class CausalFilterBank:
    """Stateful causal filter for multichannel data, samples as rows.

    The initial state is the steady state for the first sample seen (per channel), so an
    electrode's DC offset does not ring through the band-pass at start-up; after
    :meth:`reset` (for example across a gap in a live stream) the next sample re-initializes it.

    Parameters
    ----------
    config : PipelineConfig
        Filter design parameters and sampling rate.
    n_channels : int
        Number of columns of every chunk passed to :meth:`process`.
    """

    def __init__(self, config: PipelineConfig, n_channels: int) -> None:
        if n_channels < 1:
            raise ValueError(f"n_channels must be at least 1, got {n_channels}")
        self.config = config
        self.n_channels = int(n_channels)
        self.sos = design_filter_bank(config)
        # Steady-state state for a unit step input, shape (n_sections, 2): scaled by the first sample.
        self._zi_unit = signal.sosfilt_zi(self.sos)
        self._zi: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the filter state; the next chunk starts a fresh segment."""
        self._zi = None

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Filter the next chunk of a continuous signal.

        Parameters
        ----------
        chunk : np.ndarray, shape (n_samples, n_channels)
            Raw samples in time order; any float or integer dtype.

        Returns
        -------
        np.ndarray, shape (n_samples, n_channels), float64
            Filtered samples, continuing from the previous call.
        """
        x = np.asarray(chunk, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_channels:
            raise ValueError(f"chunk must have shape (n_samples, {self.n_channels}), got {x.shape}")
        if x.shape[0] == 0:
            return x.copy()
        if self._zi is None:
            # State laid out (n_sections, n_channels, 2): what sosfilt wants for channels-as-rows.
            self._zi = self._zi_unit[:, None, :] * x[0][None, :, None]
        # sosfilt is fastest along the last, contiguous axis: filter channels-as-rows.
        y, self._zi = signal.sosfilt(self.sos, np.ascontiguousarray(x.T), axis=-1, zi=self._zi)
        return y.T


def frequency_response_db(config: PipelineConfig, freqs_hz: np.ndarray) -> np.ndarray:
    """Gain of the whole bank in dB at the given frequencies.

    Parameters
    ----------
    freqs_hz : np.ndarray, shape (n_freqs,)

    Returns
    -------
    np.ndarray, shape (n_freqs,)
        ``20 log10 |H(f)|``; large negative values mean strong attenuation.
    """
    _, h = signal.sosfreqz(
        design_filter_bank(config), worN=np.asarray(freqs_hz, dtype=float), fs=config.sfreq
    )
    return 20 * np.log10(np.maximum(np.abs(h), 1e-300))


class SegmentedFilter:
    """Causal filter bank that restarts across gaps and bad samples instead of filtering across them.

    Used both live (chunk by chunk, by the stream reader) and offline (the whole recording at
    once, by calibration), so both see the same samples. A sample is *bad* when any channel is
    NaN/Inf or its timestamp does not increase; bad samples come out as NaN. The filter restarts
    (fresh steady state) at the first good sample after a bad one or after a gap, a jump of more
    than 1.5 sampling periods between consecutive timestamps.

    Parameters
    ----------
    config : PipelineConfig
    n_channels : int
    """

    def __init__(self, config: PipelineConfig, n_channels: int) -> None:
        self.bank = CausalFilterBank(config, n_channels)
        self.max_step = 1.5 / config.sfreq
        self._last_time: float | None = None

    def reset(self) -> None:
        """Forget the state and the last timestamp (the next sample starts a new segment)."""
        self.bank.reset()
        self._last_time = None

    def process(self, chunk: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
        """Filter the next chunk.

        Parameters
        ----------
        chunk : np.ndarray, shape (n_samples, n_channels)
        timestamps : np.ndarray, shape (n_samples,)
            LSL timestamps of the rows of ``chunk``.

        Returns
        -------
        np.ndarray, shape (n_samples, n_channels), float32
            Filtered samples, NaN where the input sample was bad.
        """
        x = np.asarray(chunk)
        ts = np.asarray(timestamps, dtype=np.float64)
        if len(ts) != len(x):
            raise ValueError(f"{len(ts)} timestamps for {len(x)} samples")
        out = np.full(x.shape, np.nan, dtype=np.float32)
        if len(x) == 0:
            return out
        previous = np.concatenate([[np.nan if self._last_time is None else self._last_time], ts[:-1]])
        step = ts - previous
        bad = ~np.all(np.isfinite(x), axis=1) | (step <= 0)
        restart = np.isnan(step) | (step > self.max_step)
        # Segment edges: where badness changes, and at every gap.
        edges = set(np.flatnonzero(restart).tolist()) | {0, len(x)}
        edges |= set((np.flatnonzero(np.diff(bad.astype(np.int8)) != 0) + 1).tolist())
        cuts = sorted(edges)
        for start, stop in zip(cuts[:-1], cuts[1:], strict=True):
            if bad[start]:
                self.bank.reset()
                continue
            if restart[start]:
                self.bank.reset()
            out[start:stop] = self.bank.process(x[start:stop])
        good = np.flatnonzero(~bad)
        if len(good):
            self._last_time = float(ts[good[-1]])
        return out
