"""Channel groups of the EEG view: which columns of the stream to draw.

Groups are chosen by 10-5 label rows (``PO7`` is in row ``PO``), so they work for any cap whose
labels follow the 10-20/10-10/10-5 names; a custom group is a comma-separated list of labels or
shell-style patterns (``O*, PO*``). Labels that follow no system only ever land in "all". A group
that matches none of a stream's channels (a 4-channel headband has no occipito-parietal one) shows
every channel instead, and says so (:func:`channels_to_show`).
"""

from __future__ import annotations

import fnmatch
import re

# Row prefixes of each region, front to back. "Occipito-parietal" is where the simulated (and
# real) visual responses are largest, so it is the default view of a decoding session.
GROUP_ROWS: dict[str, tuple[str, ...]] = {
    "occipito-parietal": ("P", "PPO", "PO", "POO", "O", "OI", "I"),
    "frontal": ("Fp", "AFp", "AF", "AFF", "F"),
    "central": ("FFC", "FC", "FCC", "C", "CCP", "CP", "CPP"),
    "temporal": ("FFT", "FT", "FTT", "T", "TTP", "TP", "TPP"),
}
ALL = "all"
CUSTOM = "custom"
GROUP_NAMES: tuple[str, ...] = (ALL, *GROUP_ROWS, CUSTOM)

_ROW = re.compile(r"^([A-Za-z]+?)(z|\d+h?)$")


def label_row(label: str) -> str | None:
    """The 10-5 row of a label (``"PO7"`` -> ``"PO"``, ``"Oz"`` -> ``"O"``), or None."""
    match = _ROW.match(label.strip())
    return match.group(1) if match else None


def select_channels(names: list[str], group: str, custom: str = "") -> list[int]:
    """Indices of the channels of ``group``, in stream order.

    Parameters
    ----------
    names : list of str
        The stream's channel labels.
    group : str
        One of :data:`GROUP_NAMES`.
    custom : str
        For ``group="custom"``: comma- or space-separated labels or patterns, case-insensitive.

    Returns
    -------
    list of int
        May be empty (a region the cap lacks, or a custom list matching nothing).

    Raises
    ------
    ValueError
        Unknown ``group``.
    """
    if group == ALL:
        return list(range(len(names)))
    if group == CUSTOM:
        patterns = [p.lower() for p in re.split(r"[,\s]+", custom) if p]
        return [i for i, n in enumerate(names) if any(fnmatch.fnmatchcase(n.lower(), p) for p in patterns)]
    if group not in GROUP_ROWS:
        raise ValueError(f"unknown channel group {group!r}; choose one of {', '.join(GROUP_NAMES)}")
    rows = {r.lower() for r in GROUP_ROWS[group]}
    return [i for i, n in enumerate(names) if (row := label_row(n)) is not None and row.lower() in rows]


def channels_to_show(names: list[str], group: str, custom: str = "") -> tuple[list[int], str | None]:
    """The channels of ``group``, or every channel when the group matches none of them.

    An empty view reads as a dead stream, so a group the cap lacks falls back to all channels.

    Parameters
    ----------
    names : list of str
        The stream's channel labels.
    group, custom : str
        As in :func:`select_channels`.

    Returns
    -------
    indices : list of int
        In stream order; empty only when ``names`` is.
    note : str or None
        One line for the window when it fell back (None when the group matched).
    """
    selected = select_channels(names, group, custom)
    if selected or not names:
        return selected, None
    if group == CUSTOM:
        which = f"the custom list {custom.strip()!r}" if custom.strip() else "the custom list (empty)"
    else:
        which = f"the group {group!r}"
    return list(range(len(names))), (
        f"no channel of this stream ({', '.join(names[:8])}{', ...' if len(names) > 8 else ''}) is in "
        f"{which}: showing all {len(names)} channels"
    )
