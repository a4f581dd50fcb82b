"""The calibration protocol: which image is shown when, and the markers that announce it.

Pure Python (no Qt, no LSL): the presenter window runs the schedule this module computes, and
the tests check it directly. The defaults are the paper's (ImageNet-EEG, Spampinato et al. 2017):
each image 0.5 s, back to back, in 25 s blocks separated by 10 s breaks; every image is shown
once, in an order shuffled with ``seed`` (so each block's order is random too). A short session
(``trials_per_class``, for a subject calibrated from a cross-subject base) shows that many images
of each class, drawn with ``seed``, in the same blocks.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rtdecode.io.markers import stimulus_marker


@dataclass(frozen=True)
class ProtocolConfig:
    """Timing and order of a calibration session.

    Attributes
    ----------
    image_s : float
        How long each image stays on screen (images follow each other without gap).
    block_s : float
        Block length; a block holds ``round(block_s / image_s)`` images.
    break_s : float
        Rest after each block (fixation cross).
    lead_in_s : float
        Rest before the first image, so the amplifier's filters and the recorder settle.
    tail_s : float
        Rest after the last image, so its epoch (up to 460 ms after onset) is recorded whole.
    max_blocks : int or None
        Stop after this many blocks (a short session); None shows every image.
    seed : int
        Seeds the presentation order (and which images a short session shows).
    trials_per_class : int or None
        Show this many images of each class (a short session); None shows every image.
    """

    image_s: float = 0.5
    block_s: float = 25.0
    break_s: float = 10.0
    lead_in_s: float = 2.0
    tail_s: float = 1.0
    max_blocks: int | None = None
    seed: int = 0
    trials_per_class: int | None = None

    def __post_init__(self) -> None:
        if not self.image_s > 0 or self.block_s < self.image_s:
            raise ValueError(
                f"need image_s > 0 and block_s >= image_s, got image_s={self.image_s}, block_s={self.block_s}"
            )
        if self.break_s < 0 or self.lead_in_s < 0 or self.tail_s < 0:
            raise ValueError(
                f"break_s, lead_in_s and tail_s must be >= 0, got {self.break_s}, {self.lead_in_s}, {self.tail_s}"
            )
        if self.max_blocks is not None and self.max_blocks < 1:
            raise ValueError(f"max_blocks must be at least 1 (or None for all), got {self.max_blocks}")
        if self.trials_per_class is not None and self.trials_per_class < 1:
            raise ValueError(
                f"trials_per_class must be at least 1 (or None for all), got {self.trials_per_class}"
            )

    @property
    def images_per_block(self) -> int:
        return max(1, int(round(self.block_s / self.image_s)))


@dataclass(frozen=True)
class Stimulus:
    """One image of the calibration set."""

    image_id: str
    label: int
    class_name: str
    path: Path


@dataclass(frozen=True)
class Trial:
    """One image onset.

    Attributes
    ----------
    onset_s : float
        Seconds after the session's start time.
    block, position : int
        Block number (from 0) and place in the block (from 0).
    stimulus : Stimulus
    """

    onset_s: float
    block: int
    position: int
    stimulus: Stimulus

    @property
    def marker(self) -> str:
        """The JSON stimulus marker (image id, class index and name, block)."""
        s = self.stimulus
        return stimulus_marker(s.image_id, s.label, s.class_name, self.block)


@dataclass(frozen=True)
class Schedule:
    """Every onset of a session, plus the block boundaries.

    Attributes
    ----------
    trials : list of Trial
        In time order.
    blocks : list of (float, float)
        ``(start_s, end_s)`` of each block: its first onset and the end of its last image.
    duration_s : float
        From the start time to the end of the tail.
    """

    trials: list[Trial]
    blocks: list[tuple[float, float]]
    duration_s: float
    config: ProtocolConfig = field(repr=False, default_factory=ProtocolConfig)

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)


def load_stimuli(folder: str | Path) -> list[Stimulus]:
    """The images of ``folder``: ``images.tsv`` (image_id, label, class_name) + ``images/<id>.png``.

    Raises
    ------
    ValueError
        No index, a missing column, or images listed but not on disk (the message names them).
    """
    folder = Path(folder)
    index = folder / "images.tsv"
    if not index.is_file():
        raise ValueError(
            f"{folder} has no images.tsv; a stimulus folder holds images/<image_id>.png and images.tsv "
            "with the columns image_id, label, class_name (rtdecode simulate writes one)"
        )
    stimuli, missing = [], []
    with index.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        needed = {"image_id", "label", "class_name"}
        if not needed <= set(reader.fieldnames or ()):
            raise ValueError(f"{index} needs the columns {sorted(needed)}; it has {reader.fieldnames}")
        for row in reader:
            path = folder / (row.get("file") or f"images/{row['image_id']}.png")
            if not path.is_file():
                missing.append(row["image_id"])
                continue
            stimuli.append(Stimulus(row["image_id"], int(row["label"]), row["class_name"], path))
    if missing:
        raise ValueError(
            f"{len(missing)} images listed in {index} are missing on disk (e.g. {missing[:3]}); "
            "put them in images/<image_id>.png"
        )
    if not stimuli:
        raise ValueError(f"{index} lists no images")
    return stimuli


def class_names(stimuli: list[Stimulus]) -> list[str]:
    """The classes of ``stimuli``, in the order of their labels."""
    return [name for _, name in sorted({(s.label, s.class_name) for s in stimuli})]


def short_session(stimuli: list[Stimulus], trials_per_class: int, seed: int) -> list[Stimulus]:
    """``trials_per_class`` images of each class, drawn with ``seed``, in the folder's order.

    Raises
    ------
    ValueError
        A class with fewer images (the message names the smallest classes).
    """
    by_class: dict[str, list[int]] = {}
    for index, stimulus in enumerate(stimuli):
        by_class.setdefault(stimulus.class_name, []).append(index)
    short = sorted(
        (len(members), name) for name, members in by_class.items() if len(members) < trials_per_class
    )
    if short:
        counts = ", ".join(f"{name}: {n}" for n, name in short[:5])
        raise ValueError(
            f"{len(short)} classes have fewer than {trials_per_class} images ({counts}): "
            "ask for fewer trials per class or add images"
        )
    rng = np.random.default_rng(seed)
    keep = sorted(
        members[int(i)]
        for members in by_class.values()
        for i in rng.choice(len(members), trials_per_class, replace=False)
    )
    return [stimuli[i] for i in keep]


def build_schedule(stimuli: list[Stimulus], config: ProtocolConfig) -> Schedule:
    """Shuffle the images (``trials_per_class`` of each class for a short session) and lay them out in blocks.

    Parameters
    ----------
    stimuli : list of Stimulus
    config : ProtocolConfig

    Returns
    -------
    Schedule
        Onsets relative to the start time: ``lead_in_s + block * (block length + break_s) +
        position * image_s``.

    Raises
    ------
    ValueError
        No stimuli, or (short session) a class with fewer than ``trials_per_class`` images.
    """
    if not stimuli:
        raise ValueError("no stimuli to present")
    if config.trials_per_class is not None:
        stimuli = short_session(stimuli, config.trials_per_class, config.seed)
    order = np.random.default_rng(config.seed).permutation(len(stimuli))
    per_block = config.images_per_block
    n_blocks = math.ceil(len(order) / per_block)
    if config.max_blocks is not None:
        n_blocks = min(n_blocks, config.max_blocks)
    trials: list[Trial] = []
    blocks: list[tuple[float, float]] = []
    t = config.lead_in_s
    for block in range(n_blocks):
        members = order[block * per_block : (block + 1) * per_block]
        start = t
        for position, index in enumerate(members):
            trials.append(Trial(t, block, position, stimuli[int(index)]))
            t += config.image_s
        blocks.append((start, t))
        if block < n_blocks - 1:
            t += config.break_s
    return Schedule(trials, blocks, t + config.tail_s, config)
