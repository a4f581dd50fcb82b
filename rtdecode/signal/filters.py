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


# Samples per block of the block-matrix filter: long enough that one matrix product does the work
# of many per-sample steps, short enough that its matrices stay in cache.
BLOCK = 64


class CausalFilterBank:
    """Stateful causal filter for multichannel data, samples as rows.

    Mathematically the cascade of second-order sections that :func:`scipy.signal.sosfilt` runs,
    with the same state (transposed direct form II, two values per section and channel), so its
    output equals sosfilt's to rounding (~1e-14 relative). It is computed a block of ``BLOCK``
    samples at a time as matrix products over all channels at once (block state-space form):
    ``y = H x + C s`` and ``s' = A^L s + B x``, where ``H`` holds the impulse response. That runs
    about twice as fast as sosfilt on 128 channels, needs no transposes of the samples-as-rows
    layout, and is exact, not an approximation: an IIR filter is linear in its input and state.

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
        # Steady-state state for a unit step input, flattened like the state vector below.
        self._zi_unit = signal.sosfilt_zi(self.sos).reshape(-1)
        self._blocks = _block_matrices(self.sos, BLOCK)
        self._state: np.ndarray | None = None  # (n_sections * 2, n_channels)

    def reset(self) -> None:
        """Forget the filter state; the next chunk starts a fresh segment."""
        self._state = None

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
        out = np.empty(x.shape, dtype=np.float64)
        if x.shape[0] == 0:
            return out
        if self._state is None:
            self._state = self._zi_unit[:, None] * x[0][None, :]
        impulse, from_state, to_state, powers = self._blocks
        state = self._state
        for start in range(0, len(x), BLOCK):
            block = x[start : start + BLOCK]
            r = len(block)
            # Rows of a shorter block are the leading rows of the full-block matrices.
            out[start : start + r] = impulse[:r, :r] @ block + from_state[:r] @ state
            state = powers[r] @ state + to_state[:, BLOCK - r :] @ block
        self._state = state
        return out


def _block_matrices(
    sos: np.ndarray, length: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Block state-space matrices of an SOS cascade with sosfilt's state convention.

    Returns
    -------
    impulse : (length, length)
        Lower-triangular Toeplitz matrix of the impulse response.
    from_state : (length, n_state)
        Output of each sample of a block due to the state at its start.
    to_state : (n_state, length)
        State at the end of a block due to each input sample.
    powers : list of (n_state, n_state)
        ``A**k`` for k = 0..length (state carried over k samples without input).
    """
    n_state = 2 * len(sos)

    def step(state: np.ndarray, u: float) -> tuple[float, np.ndarray]:
        # One sample through the cascade in transposed direct form II, as scipy's sosfilt.
        new = np.zeros_like(state)
        for k, (b0, b1, b2, _a0, a1, a2) in enumerate(sos):
            y = b0 * u + state[2 * k]
            new[2 * k] = b1 * u - a1 * y + state[2 * k + 1]
            new[2 * k + 1] = b2 * u - a2 * y
            u = y
        return u, new

    # The step is linear in (state, input): probe it with basis vectors.
    a_matrix, c_row = np.zeros((n_state, n_state)), np.zeros(n_state)
    for j in range(n_state):
        c_row[j], a_matrix[:, j] = step(np.eye(n_state)[j], 0.0)
    d, b_col = step(np.zeros(n_state), 1.0)
    powers = [np.eye(n_state)]
    for _ in range(length):
        powers.append(a_matrix @ powers[-1])
    response = np.array([d] + [c_row @ powers[k - 1] @ b_col for k in range(1, length)])
    impulse = np.zeros((length, length))
    for i in range(length):
        impulse[i, : i + 1] = response[i::-1]
    from_state = np.stack([c_row @ powers[k] for k in range(length)])
    to_state = np.stack([powers[length - 1 - j] @ b_col for j in range(length)], axis=1)
    return impulse, from_state, to_state, powers


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
