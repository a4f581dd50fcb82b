"""Scrolling multi-channel EEG view: filtered samples from the reader's ring buffer, stacked.

Every channel is drawn by one ``PlotCurveItem``, stacked by offsets one channel spacing apart,
with a NaN between channels to break the line (``connect="finite"``, which pyqtgraph turns into a
path several times faster than a ``connect`` array): one path per frame instead of one per
channel is what keeps 128 channels at 1000 Hz smooth. Each frame only the samples that arrived
since the previous frame are copied out of the ring buffer (cheap, and the reader's lock is held
only for that copy); the view keeps its own window of the last ``window_s`` seconds and reduces it
to a min/max pair per few screen pixels, so spikes and blinks stay visible however far the data is
decimated.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from gui.channel_groups import ALL, channels_to_show

log = logging.getLogger(__name__)

# The auto scale follows the data slowly so the traces do not pump with every blink.
AUTO_SCALE_SMOOTHING = 0.1
# Channel spacing in units of the median channel standard deviation (auto scale).
AUTO_SCALE_SIGMAS = 6.0
CLIP_SPACINGS = 1.0
MAX_AXIS_LABELS = 32


def minmax_decimate(data: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Reduce ``data`` to the minimum and maximum of each of ``n_bins`` consecutive bins.

    Parameters
    ----------
    data : np.ndarray, shape (n_channels, n_samples)
        Channel-major, so each bin's reduction runs over contiguous memory.
    n_bins : int
        Wanted number of bins; fewer when there are fewer samples. The oldest samples that do
        not fill a whole bin are dropped.

    Returns
    -------
    positions : np.ndarray, shape (2 * bins,)
        Sample index (into ``data``'s columns) that each output column stands for.
    values : np.ndarray, shape (n_channels, 2 * bins)
        Interleaved minimum and maximum of every bin.
    """
    n = data.shape[1]
    step = max(1, math.ceil(n / max(1, n_bins)))
    bins = n // step
    if bins == 0:
        return np.zeros(0), np.zeros((data.shape[0], 0), dtype=data.dtype)
    start = n - bins * step
    blocks = data[:, start:].reshape(data.shape[0], bins, step)
    # A bin is only a few samples: `step` elementwise passes beat numpy's reduction over a
    # short last axis several times over.
    low, high = blocks[:, :, 0].copy(), blocks[:, :, 0].copy()
    for j in range(1, step):
        np.minimum(low, blocks[:, :, j], out=low)
        np.maximum(high, blocks[:, :, j], out=high)
    values = np.empty((data.shape[0], 2 * bins), dtype=data.dtype)
    values[:, 0::2] = low
    values[:, 1::2] = high
    centres = start + np.arange(bins) * step + (step - 1) / 2
    return np.repeat(centres, 2), values


class EegView(pg.PlotWidget):
    """Stacked traces of the selected channels over the last ``window_s`` seconds.

    Parameters
    ----------
    window_s : float
        Seconds of signal on screen.
    parent : QWidget, optional

    Notes
    -----
    Call :meth:`attach` with a started :class:`~rtdecode.streams.reader.StreamReader` (anything
    with ``buffer``, ``sfreq`` and ``channel_names``) and :meth:`refresh` from a GUI timer.
    """

    def __init__(self, window_s: float = 5.0, parent=None) -> None:
        super().__init__(parent=parent, background="w")
        self.window_s = float(window_s)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.showGrid(x=True, y=False, alpha=0.15)
        self.setLabel("bottom", "time (s)")
        self.getPlotItem().getAxis("left").setWidth(52)
        # Width 0 is Qt's hairline, its fastest way to stroke a long path.
        self._curve = pg.PlotCurveItem(pen=pg.mkPen((20, 40, 90), width=0))
        self._events = pg.PlotCurveItem(pen=pg.mkPen((200, 60, 40, 160), width=1), connect="pairs")
        self.addItem(self._events)
        self.addItem(self._curve)
        self._reader = None
        self._group, self._custom = ALL, ""
        self._fixed_scale_uv: float | None = None
        self._scale_uv = 20.0
        self.scale_label_text = ""  # the window shows it next to the scale choice
        self.channel_text = ""  # "4/4 channels", next to the group choice
        self.group_note: str | None = None  # set when the group matched nothing and all channels show
        self._names: list[str] = []
        self._selected: list[int] = []
        self._data = np.zeros((0, 0), dtype=np.float32)
        self._times = np.zeros(0)
        self._fill = 0  # valid rows at the end of _data
        self._position = 0  # absolute ring-buffer position of the next sample to copy
        self._onsets: list[float] = []
        self._layout_key: tuple[int, int] | None = None
        self._xy = np.zeros((2, 0, 0))
        self._offsets = np.zeros((0, 1))
        self.setXRange(-self.window_s, 0, padding=0)

    # -- configuration ----------------------------------------------------------------------
    def attach(self, reader) -> None:
        """Show ``reader``'s stream from now on (its last ``window_s`` seconds first)."""
        self._reader = reader
        self._names = list(reader.channel_names)
        n = max(1, int(round(self.window_s * reader.sfreq)))
        # Channel-major: selecting channels and reducing bins then read contiguous rows.
        self._data = np.zeros((len(self._names), n), dtype=np.float32)
        self._times = np.zeros(n)
        self._fill = 0
        self._position = max(0, reader.buffer.total - n)
        self._onsets.clear()
        self._select()

    def detach(self) -> None:
        """Stop reading (the last picture stays on screen)."""
        self._reader = None

    def set_group(self, group: str, custom: str = "") -> int:
        """Show the channels of ``group`` (all of them when it matches none, see :attr:`group_note`).

        Returns
        -------
        int
            How many channels are shown.
        """
        self._group, self._custom = group, custom
        self._select()
        return len(self._selected)

    def set_scale(self, microvolts: float | None) -> None:
        """Microvolts between two traces; None follows the data."""
        self._fixed_scale_uv = microvolts

    def add_onset(self, timestamp: float) -> None:
        """Mark a stimulus onset (LSL local clock) with a vertical line while it is in view."""
        self._onsets.append(float(timestamp))

    @property
    def selected_channels(self) -> list[str]:
        return [self._names[i] for i in self._selected]

    def _select(self) -> None:
        self._selected, self.group_note = channels_to_show(self._names, self._group, self._custom)
        shown = f"{len(self._selected)}/{len(self._names)} channels" if self._names else ""
        self.channel_text = shown + (f" (none in {self._group!r}: all shown)" if self.group_note else "")
        self._layout_key = None
        labels = [(-k, self._names[i]) for k, i in enumerate(self._selected)]
        every = max(1, math.ceil(len(labels) / MAX_AXIS_LABELS))
        self.getPlotItem().getAxis("left").setTicks([labels[::every], []])
        self.setYRange(-max(1, len(self._selected)) + 0.5, 0.8, padding=0)

    # -- per frame ---------------------------------------------------------------------------
    def refresh(self) -> None:
        """Copy the newly arrived samples and redraw; cheap enough for every GUI frame."""
        if self._reader is not None:
            self._pull()
        self._draw()

    def _pull(self) -> None:
        buffer = self._reader.buffer
        if buffer.total < self._position:  # a fresh buffer: start over
            self._position = 0
        if buffer.total == self._position:
            return
        window = buffer.read(self._position, buffer.total)
        self._position = window.start + len(window.timestamps)
        new, stamps = window.filtered.T, window.timestamps
        n = self._data.shape[1]
        k = len(stamps)
        if k >= n:
            self._data[:] = new[:, -n:]
            self._times[:] = stamps[-n:]
            self._fill = n
            return
        # Shifting a few seconds of float32 is cheaper than re-ordering a ring at draw time.
        self._data[:, :-k] = self._data[:, k:]
        self._data[:, -k:] = new
        self._times[:-k] = self._times[k:]
        self._times[-k:] = stamps
        self._fill = min(n, self._fill + k)

    def _draw(self) -> None:
        if not self._selected or self._fill < 2:
            self._curve.setData([], [])
            self._events.setData([], [])
            return
        n = self._data.shape[1]
        data = self._data[self._selected, n - self._fill :]
        # One min/max pair per 3 pixels: drawing cost grows with the points, and denser columns
        # do not show on stacked traces a few pixels high.
        n_bins = max(50, int(self.getPlotItem().vb.width() / 3))
        positions, values = minmax_decimate(data, n_bins)
        # NaN marks samples the reader flagged bad: drawn as zero, so the NaN breaks stay ours.
        values = np.nan_to_num(values, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        self._update_scale(data)
        n_channels, n_points = values.shape
        if self._layout_key != (n_points, n_channels):
            self._layout_key = (n_points, n_channels)
            self._xy = np.full((2, n_channels, n_points + 1), np.nan)  # last column: the break
            self._offsets = -np.arange(n_channels, dtype=np.float64)[:, None]
        sfreq = self._reader.sfreq if self._reader is not None else 1.0
        self._xy[0, :, :-1] = (positions - (self._fill - 1)) / sfreq
        # Clipped at one spacing either way: a blink or a loose electrode may touch its neighbours'
        # traces but not paint over the whole view.
        scaled = np.clip(values / self._scale_uv, -CLIP_SPACINGS, CLIP_SPACINGS)
        np.add(scaled, self._offsets, out=self._xy[1, :, :-1])
        self._curve.setData(self._xy[0].ravel(), self._xy[1].ravel(), connect="finite")
        self.scale_label_text = f"{self._scale_uv:.3g} µV / trace"
        self._draw_onsets(n_channels)

    def _update_scale(self, data: np.ndarray) -> None:
        if self._fixed_scale_uv is not None:
            self._scale_uv = self._fixed_scale_uv
            return
        # The whole window (every 4th sample is plenty), so a burst after a quiet stretch does not
        # find the traces scaled for the quiet.
        sample = data[:, ::4]
        with np.errstate(invalid="ignore"):
            sd = float(np.nanmedian(sample.std(axis=1))) if sample.size else 0.0
        if sd > 0 and np.isfinite(sd):
            target = AUTO_SCALE_SIGMAS * sd
            self._scale_uv += AUTO_SCALE_SMOOTHING * (target - self._scale_uv)

    def _draw_onsets(self, n_channels: int) -> None:
        newest = self._times[-1]
        horizon = newest - self.window_s
        self._onsets = [t for t in self._onsets if t >= horizon]
        if not self._onsets:
            self._events.setData([], [])
            return
        x = np.repeat(np.asarray(self._onsets) - newest, 2)
        y = np.tile([0.8, -n_channels + 0.5], len(self._onsets))
        self._events.setData(x, y)

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802 (Qt API)
        return QtCore.QSize(700, 500)
