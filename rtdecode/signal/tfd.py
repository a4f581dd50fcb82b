"""Time-frequency decomposition (TFD) of epochs: STFT (the paper's) or db4 wavelet.

Both return an image per channel, ``(channels, time, frequency)``, the student's input layout.
"""

from __future__ import annotations

import numpy as np
import pywt
import scipy.fft
from scipy import signal

from rtdecode.config import PipelineConfig


def stft_frequencies(config: PipelineConfig) -> np.ndarray:
    """Centre frequencies (Hz) of the STFT bins, shape (n_freqs,)."""
    return np.fft.rfftfreq(config.stft_window_samples, d=1.0 / config.sfreq)


def tfd_shape(config: PipelineConfig, n_channels: int) -> tuple[int, int, int]:
    """Shape ``(channels, time, frequency)`` of the TFD of one epoch under ``config``."""
    n = config.epoch_samples
    if config.tfd.method == "stft":
        w, hop = config.stft_window_samples, config.stft_hop_samples
        return n_channels, 1 + (n - w) // hop, w // 2 + 1
    return n_channels, _wavelet_time_bins(config), config.tfd.wavelet_level + 1


def compute_tfd(epochs: np.ndarray, config: PipelineConfig) -> np.ndarray:
    """TFD of one epoch or a batch of epochs.

    Parameters
    ----------
    epochs : np.ndarray, shape (n_samples, n_channels) or (n_epochs, n_samples, n_channels)
        Filtered, standardized epochs, samples as rows; ``n_samples`` must equal
        ``config.epoch_samples``.
    config : PipelineConfig
        ``config.tfd.method`` selects STFT or wavelet.

    Returns
    -------
    np.ndarray, float32
        Shape (n_channels, n_time, n_freqs) for one epoch, or
        (n_epochs, n_channels, n_time, n_freqs) for a batch.
    """
    # float32 throughout: the features are float32 anyway, and single-precision FFT and log
    # run about twice as fast, which is what keeps the live path far above real time.
    x = np.asarray(epochs, dtype=np.float32)
    single = x.ndim == 2
    if single:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"epochs must be (n_samples, n_channels) or a batch of those, got {x.shape}")
    if x.shape[1] != config.epoch_samples:
        raise ValueError(
            f"epochs have {x.shape[1]} samples but the config's epoch window is "
            f"{config.epoch_samples} samples ({config.epoch.tmin_s}-{config.epoch.tmax_s} s "
            f"at {config.sfreq} Hz)"
        )
    if config.tfd.method == "stft":
        out = _stft_magnitude(x, config)
    else:
        out = _wavelet_magnitude(np.ascontiguousarray(x.transpose(0, 2, 1)), config)
    if config.tfd.log_power:
        # log(1 + a) instead of log1p: same values at this precision, and vectorized (5x faster).
        out = np.log(out + 1.0, out=out)
    out = out.astype(np.float32, copy=False)
    return out[0] if single else out


def _stft_magnitude(x: np.ndarray, config: PipelineConfig) -> np.ndarray:
    """|STFT| with frames fully inside the epoch, scaled like ``scipy.signal.stft`` (no padding).

    x : (n_epochs, n_samples, n_channels) -> (n_epochs, n_channels, n_frames, n_freqs)

    Frames are taken along the samples axis of the samples-as-rows epochs, so the input is never
    transposed; the result is a transposed view of the (n_epochs, n_frames, n_channels, n_freqs)
    spectrogram.
    """
    w, hop = config.stft_window_samples, config.stft_hop_samples
    window = signal.get_window(config.tfd.window, w)
    # scipy's default 'spectrum' scaling divides by the window sum; match it so values compare.
    taper = (window / window.sum()).astype(x.dtype)
    frames = np.lib.stride_tricks.sliding_window_view(x, w, axis=1)[:, ::hop]  # (n, frames, ch, w)
    return np.abs(scipy.fft.rfft(frames * taper, axis=-1)).transpose(0, 2, 1, 3)


def _wavelet_time_bins(config: PipelineConfig) -> int:
    """Time resolution of the wavelet image: the same number of frames as the STFT would have."""
    n, w, hop = config.epoch_samples, config.stft_window_samples, config.stft_hop_samples
    return max(1, 1 + (n - w) // hop)


def _wavelet_magnitude(x: np.ndarray, config: PipelineConfig) -> np.ndarray:
    """|db4 coefficients| per level, each level resampled onto a common time grid.

    ``pywt.wavedec`` gives levels of different lengths (coarse levels are short); each level's
    magnitudes are linearly interpolated at ``n_time`` evenly spaced positions spanning the
    epoch so they stack into an image whose frequency axis runs from the approximation
    (lowest band) to the finest detail (highest band).

    x : (n_epochs, n_channels, n_samples) -> (n_epochs, n_channels, n_time, level + 1)
    """
    level = config.tfd.wavelet_level
    max_level = pywt.dwt_max_level(x.shape[-1], pywt.Wavelet(config.tfd.wavelet).dec_len)
    if level > max_level:
        raise ValueError(
            f"wavelet_level {level} is too deep for {x.shape[-1]}-sample epochs with "
            f"{config.tfd.wavelet} (at most {max_level}); lower tfd.wavelet_level"
        )
    coeffs = pywt.wavedec(x, config.tfd.wavelet, level=level, axis=-1)
    n_time = _wavelet_time_bins(config)
    grid = np.linspace(0.0, 1.0, n_time)
    levels = []
    for c in coeffs:
        positions = np.linspace(0.0, 1.0, c.shape[-1])
        mag = np.abs(c).reshape(-1, c.shape[-1])
        levels.append(
            np.stack([np.interp(grid, positions, row) for row in mag]).reshape(*c.shape[:-1], n_time)
        )
    return np.stack(levels, axis=-1)
