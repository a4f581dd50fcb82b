"""A 128-channel 10-5 montage with approximate positions on a unit sphere.

The labels are real 10-5 names (Oostenveld & Praamstra 2001). Positions come from a spherical
model of the label grid rather than from a digitized cap: each row (Fp, AFp, AF, AFF, F, ...)
runs along a great circle from its midline point to its point on the 10 % circle (where Fp1,
F7, T7, P7 and O1 sit), and each column step moves a quarter of the way along it. That is
accurate to a few centimetres, which is all the simulator needs: spatial correlation between
neighbours and which channels are frontal or occipito-parietal.

Why not MNE's montage: MNE (a dependency) ships every one of these 128 labels, but not at these
positions. Compared as unit-sphere directions (MNE 1.13):

- ``make_standard_montage("standard_1005")`` (digitized on the Colin27 head; MNE 1.13 renames it
  ``colin27_1005``): max 33.0 degrees (PO9/PO10, P9/P10, FT9/FT10), median 14.0, one channel
  in 128 within 2 degrees; fitting a sphere to MNE's positions and the best rotation leaves
  max 35.9, median 13.9. The azimuths agree (median 6.7 degrees); the elevations do not: on
  the real head the 10 % circle (Fpz, T7, Oz) lies at or below the equator of the fitted
  sphere (polar angle 81-97 degrees), where the spherical model puts it at 72.
- ``"spherical_1005"`` (MNE's idealized sphere, same convention): median 1.9 degrees, max
  14.4 (PO9/PO10; P9/P10 10.4, the inferior 9/10 columns), 4.8 at F3/F4/P3/P4.

Either would move every spatial pattern of the simulated EEG and which channels a subset of
fewer than 128 keeps (36 and 38 of the same 64), so the benchmark figures, measured on this
geometry, would move with them: on 10 classes x 50 images at 64 channels, oracle 0.864 here,
0.872 with spherical_1005, 0.868 with standard_1005; a logistic regression (leave one block
out) 0.402, 0.402, 0.360. ``tests/sim/test_montage.py`` checks the labels and regions against MNE.

Coordinates: x to the right ear, y to the nose, z to the vertex, on a unit sphere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

# Fraction of the nasion-inion arc at which each row crosses the midline. Rows named with a
# "T" hold the lateral (temporal) members of the same arc as their non-"T" twin.
_ROW_FRACTION: dict[str, float] = {
    "Fp": 0.10,
    "AFp": 0.15,
    "AF": 0.20,
    "AFF": 0.25,
    "F": 0.30,
    "FFC": 0.35,
    "FFT": 0.35,
    "FC": 0.40,
    "FT": 0.40,
    "FCC": 0.45,
    "FTT": 0.45,
    "C": 0.50,
    "T": 0.50,
    "CCP": 0.55,
    "TTP": 0.55,
    "CP": 0.60,
    "TP": 0.60,
    "CPP": 0.65,
    "TPP": 0.65,
    "P": 0.70,
    "PPO": 0.75,
    "PO": 0.80,
    "POO": 0.85,
    "O": 0.90,
    "OI": 0.95,
    "I": 1.00,
}

# Column steps from the midline to the 10 % circle: four (the 7/8 columns) except on the rows
# whose only lateral labels already sit on or next to it (Fp1, O1, OI1h, I1, by 10-20 tradition).
_ROW_STEPS: dict[str, float] = {"Fp": 1.0, "O": 1.0, "OI": 1.0, "I": 1.0}

_LABEL_PATTERN = re.compile(r"^([A-Za-z]+?)(z|\d+h?)$")

# 128 10-5 labels: the 10-10 set with its inferior extension (T9, P9, PO9, ...) plus positions on
# the intermediate 10-5 rows (AFF, FFC, ..., PPO, POO, OI). Ordered front to back, left to right,
# which keeps neighbouring channels adjacent in plots.
# fmt: off
CHANNELS_128: tuple[str, ...] = (
    "Fp1", "Fpz", "Fp2",
    "AFp1", "AFp2",
    "AF7", "AF5", "AF3", "AFz", "AF4", "AF6", "AF8",
    "AFF5h", "AFF1h", "AFF2h", "AFF6h",
    "F7", "F5", "F3", "F1", "Fz", "F2", "F4", "F6", "F8",
    "FFT7h", "FFC5h", "FFC3h", "FFC1h", "FFC2h", "FFC4h", "FFC6h", "FFT8h",
    "FT9", "FT7", "FC5", "FC3", "FC1", "FCz", "FC2", "FC4", "FC6", "FT8", "FT10",
    "FTT7h", "FCC5h", "FCC3h", "FCC1h", "FCC2h", "FCC4h", "FCC6h", "FTT8h",
    "T9", "T7", "C5", "C3", "C1", "Cz", "C2", "C4", "C6", "T8", "T10",
    "TTP7h", "CCP5h", "CCP3h", "CCP1h", "CCP2h", "CCP4h", "CCP6h", "TTP8h",
    "TP9", "TP7", "CP5", "CP3", "CP1", "CPz", "CP2", "CP4", "CP6", "TP8", "TP10",
    "TPP7h", "CPP5h", "CPP3h", "CPP1h", "CPP2h", "CPP4h", "CPP6h", "TPP8h",
    "P9", "P7", "P5", "P3", "P1", "Pz", "P2", "P4", "P6", "P8", "P10",
    "PPO9h", "PPO5h", "PPO1h", "PPO2h", "PPO6h", "PPO10h",
    "PO9", "PO7", "PO3", "POz", "PO4", "PO8", "PO10",
    "POO9h", "POO3", "POO1", "POO2", "POO4", "POO10h",
    "O1", "Oz", "O2",
    "OI1h", "OI2h",
    "I1", "Iz", "I2",
)
# fmt: on


@dataclass(frozen=True)
class Montage:
    """Channel labels with unit-sphere positions.

    Attributes
    ----------
    names : tuple of str
        Channel labels, one per row of ``positions``.
    positions : np.ndarray, shape (n_channels, 3)
        Unit vectors (x right, y anterior, z up).
    """

    names: tuple[str, ...]
    positions: np.ndarray

    @property
    def n_channels(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Column of channel ``name`` (case-insensitive)."""
        lowered = [n.lower() for n in self.names]
        try:
            return lowered.index(name.lower())
        except ValueError:
            raise ValueError(f"channel {name!r} is not in this montage") from None

    def angular_distances(self, points: np.ndarray) -> np.ndarray:
        """Great-circle distance (radians) from every channel to every point.

        Parameters
        ----------
        points : np.ndarray, shape (n_points, 3)
            Unit vectors.

        Returns
        -------
        np.ndarray, shape (n_channels, n_points)
        """
        cos = np.clip(self.positions @ np.asarray(points, dtype=float).T, -1.0, 1.0)
        return np.arccos(cos)

    def frontal_mask(self) -> np.ndarray:
        """Boolean ``(n_channels,)``: channels in front of the F row (Fp, AFp, AF, AFF, F)."""
        return self.positions[:, 1] > 0.55

    def occipitoparietal_mask(self) -> np.ndarray:
        """Boolean ``(n_channels,)``: channels behind the CPP row (P, PPO, PO, POO, O, OI, I)."""
        return self.positions[:, 1] < -0.55

    def to_2d(self) -> np.ndarray:
        """Azimuthal equidistant projection from the vertex, shape ``(n_channels, 2)``.

        The radius is the polar angle in units of 90 degrees, so the 10 % circle lies at 0.8.
        """
        x, y, z = self.positions.T
        polar = np.arccos(np.clip(z, -1.0, 1.0))
        azimuth = np.arctan2(x, y)
        radius = polar / (np.pi / 2)
        return np.column_stack([radius * np.sin(azimuth), radius * np.cos(azimuth)])


def parse_label(label: str) -> tuple[str, float, int]:
    """Split a 10-5 label into its row, column step and side.

    Returns
    -------
    row : str
        Row prefix, e.g. ``"PPO"``.
    step : float
        Column steps from the midline: 0 for ``z``, 1 for ``1``/``2``, 2 for ``3``/``4``, ...,
        and half a step less for an ``h`` suffix (``PPO1h`` is 0.5).
    side : int
        -1 left (odd numbers), +1 right (even numbers), 0 midline.
    """
    match = _LABEL_PATTERN.match(label)
    if match is None or match.group(1) not in _ROW_FRACTION:
        raise ValueError(f"{label!r} is not a 10-5 label this montage understands")
    row, column = match.group(1), match.group(2)
    if column == "z":
        return row, 0.0, 0
    half = column.endswith("h")
    number = int(column.rstrip("h"))
    step = (number + 1) // 2 - (0.5 if half else 0.0)
    return row, float(step), -1 if number % 2 else 1


def label_position(label: str) -> np.ndarray:
    """Unit-sphere position of one 10-5 label, shape ``(3,)``.

    The midline point of the row and its point on the 10 % circle (polar angle 72 degrees,
    or lower for the rows below O and above Fp) are joined by a great circle; the label sits at
    ``step / steps_to_circle`` of the way along it (beyond the circle for the 9/10 columns).
    """
    row, step, side = parse_label(label)
    s = _ROW_FRACTION[row]
    midline_polar = abs(s - 0.5) * np.pi
    midline_azimuth = 0.0 if s < 0.5 else np.pi
    midline = direction(midline_polar, midline_azimuth)
    if side == 0:
        return midline
    outer_polar = np.deg2rad(72.0 + max(0.0, abs(s - 0.5) - 0.4) * 180.0)
    outer_azimuth = np.clip(s, 0.1, 0.9) * np.pi
    outer = direction(outer_polar, outer_azimuth * side)
    fraction = step / _ROW_STEPS.get(row, 4.0)
    return _slerp(midline, outer, fraction)


def standard_montage(names: tuple[str, ...] = CHANNELS_128) -> Montage:
    """The montage for ``names`` (default: the 128 labels of :data:`CHANNELS_128`)."""
    if len(set(n.lower() for n in names)) != len(names):
        raise ValueError("channel names must be unique")
    positions = np.array([label_position(n) for n in names])
    return Montage(names=tuple(names), positions=positions)


def evenly_spread_montage(n_channels: int) -> Montage:
    """``n_channels`` of the 128 labels spread evenly over the head, in :data:`CHANNELS_128` order.

    Farthest-point sampling from Cz: each next channel is the one farthest from those chosen.
    All 128 for ``n_channels=128``.
    """
    full = standard_montage(CHANNELS_128)
    if not 1 <= n_channels <= full.n_channels:
        raise ValueError(f"n_channels must be 1-{full.n_channels}, got {n_channels}")
    if n_channels == full.n_channels:
        return full
    chosen = [full.index("Cz")]
    distance = full.angular_distances(full.positions[chosen])[:, 0]
    while len(chosen) < n_channels:
        nxt = int(np.argmax(distance))
        chosen.append(nxt)
        distance = np.minimum(distance, full.angular_distances(full.positions[[nxt]])[:, 0])
    keep = sorted(chosen)
    return Montage(tuple(full.names[i] for i in keep), full.positions[keep])


def direction(polar: float, azimuth: float) -> np.ndarray:
    """Unit vector at ``polar`` radians from the vertex and ``azimuth`` radians from the nose
    towards the right ear, shape ``(3,)``."""
    return np.array([np.sin(polar) * np.sin(azimuth), np.sin(polar) * np.cos(azimuth), np.cos(polar)])


def _slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    omega = np.arccos(np.clip(a @ b, -1.0, 1.0))
    if omega < 1e-9:
        return a.copy()
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)
