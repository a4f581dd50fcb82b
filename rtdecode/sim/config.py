"""What defines a simulated session: :class:`SimulationConfig` and the protocol's arithmetic."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from rtdecode.classes import N_CLASSES
from rtdecode.sim.montage import CHANNELS_128

# Default evoked-to-background ratio (see SimulationConfig.snr); calibrated with
# benchmarks/simulator_difficulty.py so that logistic regression on a full 40 x 50 session is
# hard but clearly above chance.
DEFAULT_SNR = 0.35

# Where the class-dependent signal lives (SimulationConfig.class_information).
CLASS_INFORMATION = ("mixed", "evoked_low", "induced_gamma")


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that defines a simulated session; identical configs give identical data.

    Attributes
    ----------
    n_channels : int
        Number of EEG channels: 128 uses all of :data:`~rtdecode.sim.montage.CHANNELS_128`;
        fewer keeps an evenly spread subset of them.
    sfreq : float
        Sampling rate in Hz.
    n_classes : int
        Number of classes, 1-40; the first ``n_classes`` ImageNet-EEG classes
        (:mod:`rtdecode.classes`) are used.
    images_per_class : int
        Distinct images per class, each shown once.
    image_s, block_s, break_s : float
        Image duration (images follow each other without gap), block duration and the break
        after each block, in seconds. A block holds ``round(block_s / image_s)`` images.
    lead_in_s : float
        Rest before the first block, so that causal filters settle before the first epoch.
    snr : float
        Evoked response scale: the RMS of the class-dependent part of a single-trial response
        over occipito-parietal channels, 50-450 ms after onset, after the default causal notch
        and 14-70 Hz band-pass, divided by the RMS of the background there after that filter
        (in expectation over class prototypes; a given set of classes lands within ~15 %).
        The class-independent ERP scales with it too. 0 turns evoked responses off.
        The background RMS is computed exactly for each subject
        (:meth:`SimulatedSubject.background_band_rms`), so ``snr`` means the same for all.
    line_freq : float
        Mains frequency (50 or 60 Hz).
    class_information : {"mixed", "evoked_low", "induced_gamma"}
        Where the class-dependent signal lives. ``"mixed"`` (default): phase-locked beta/gamma
        bursts, slow waves and induced gamma together. ``"evoked_low"``: only the phase-locked
        slow waves (below ~14 Hz, like the P1/N170 of real ERP studies), rescaled to carry the
        mixed response's total class-dependent energy. ``"induced_gamma"``: only the random-phase
        gamma bursts (30-68 Hz power, nothing time-locked). ``snr`` sets the scale of the mixed
        response in every case; the class-independent ERP is always there.
    seed : int
        Seeds the classes, images and the structure of the evoked response.
    subject : int
        Seeds what differs between people: spatial patterns, latencies, background, image order.
    minutes : float or None
        Truncate the session to the whole blocks that fit in this many minutes (at least one).
    image_size : int
        Height and width of the stimulus images in pixels.
    """

    n_channels: int = 128
    sfreq: float = 1000.0
    n_classes: int = 40
    images_per_class: int = 50
    image_s: float = 0.5
    block_s: float = 25.0
    break_s: float = 10.0
    lead_in_s: float = 2.0
    snr: float = DEFAULT_SNR
    line_freq: float = 50.0
    class_information: str = "mixed"
    seed: int = 0
    subject: int = 1
    minutes: float | None = None
    image_size: int = 64

    def __post_init__(self) -> None:
        if not 1 <= self.n_channels <= len(CHANNELS_128):
            raise ValueError(f"n_channels must be 1-{len(CHANNELS_128)}, got {self.n_channels}")
        if self.sfreq < 200:
            raise ValueError(f"sfreq must be at least 200 Hz for the gamma band, got {self.sfreq}")
        if not 0 < self.line_freq < self.sfreq / 2:
            raise ValueError(f"line_freq must be below Nyquist ({self.sfreq / 2} Hz), got {self.line_freq}")
        if not 1 <= self.n_classes <= N_CLASSES:
            # Beyond the packaged classes there are no names, no super-categories and no images.
            raise ValueError(
                f"n_classes must be 1-{N_CLASSES} (the packaged ImageNet-EEG classes), got {self.n_classes}"
            )
        if self.images_per_class < 1:
            raise ValueError(f"images_per_class must be at least 1, got {self.images_per_class}")
        if self.image_s <= 0 or self.block_s < self.image_s or self.break_s < 0 or self.lead_in_s < 0:
            raise ValueError(
                f"need image_s > 0, block_s >= image_s, break_s >= 0 and lead_in_s >= 0; got "
                f"image_s={self.image_s}, block_s={self.block_s}, break_s={self.break_s}, "
                f"lead_in_s={self.lead_in_s}"
            )
        if self.snr < 0:
            raise ValueError(f"snr must be >= 0, got {self.snr}")
        if self.class_information not in CLASS_INFORMATION:
            raise ValueError(
                f"class_information must be one of {CLASS_INFORMATION}, got {self.class_information!r}"
            )
        if self.minutes is not None and self.minutes <= 0:
            raise ValueError(f"minutes must be positive or None, got {self.minutes}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the config (JSON compatible)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimulationConfig:
        """Build a config from :meth:`to_dict` output; unknown keys are refused."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown simulator keys {sorted(unknown)}; known keys are {sorted(known)}")
        return cls(**data)

    # Protocol arithmetic: the session's length follows from the config alone, so that it can be
    # checked (memory) before anything is generated. SimulatedSubject.schedule() places the
    # markers on the same grid.

    @property
    def n_images(self) -> int:
        """Distinct images, each shown once: ``n_classes * images_per_class``."""
        return self.n_classes * self.images_per_class

    @property
    def images_per_block(self) -> int:
        """Images shown back to back in one block: ``round(block_s / image_s)``, at least 1."""
        return max(1, int(round(self.block_s / self.image_s)))

    @property
    def n_blocks(self) -> int:
        """Blocks in the session: all the images, or the whole blocks that fit in ``minutes``."""
        total = math.ceil(self.n_images / self.images_per_block)
        if self.minutes is None:
            return total
        fitting = math.floor((self.minutes * 60 - self.lead_in_s) / (self.block_s + self.break_s) + 1e-9)
        return max(1, min(total, fitting))

    @property
    def n_shown(self) -> int:
        """Images actually shown (fewer than :attr:`n_images` when ``minutes`` truncates)."""
        return min(self.n_images, self.n_blocks * self.images_per_block)

    @property
    def session_samples(self) -> int:
        """Length of the session in samples: lead-in, every shown image and a break after each block."""
        return (
            to_samples(self.lead_in_s, self.sfreq)
            + self.n_shown * to_samples(self.image_s, self.sfreq)
            + self.n_blocks * to_samples(self.break_s, self.sfreq)
        )


def to_samples(seconds: float, sfreq: float) -> int:
    """A duration in seconds as a whole number of samples at ``sfreq``."""
    return int(round(seconds * sfreq))
