"""The simulator's random streams: one seed sequence per purpose.

Every random draw of the simulator comes from ``seeded_rng(seed, TAG, ...)``: the tag names the purpose
(class prototypes, background, trial jitter...), the further keys the thing drawn for (subject,
class, image, onset). Draws therefore do not depend on call order or chunking, and a small
simulation shares its first classes and images with the full one. The tags are listed here
together so that no two purposes share a stream.
"""

from __future__ import annotations

import numpy as np

# Stimuli (rtdecode.sim.stimuli): shared by all subjects.
TAG_SUPER = 101
TAG_CLASS = 102
TAG_IMAGE = 103
TAG_APPEARANCE = 104

# EEG (rtdecode.sim.background, evoked, subject).
TAG_BASIS = 201
TAG_SUBJECT_BASIS = 202
TAG_SPATIAL = 203
TAG_BACKGROUND = 204
TAG_ORDER = 205
TAG_TRIAL = 206
TAG_INDUCED = 207
TAG_INDUCED_SPATIAL = 208


def seeded_rng(seed: int, *keys: int) -> np.random.Generator:
    """The random generator of ``seed`` for the purpose and item named by ``keys``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), *keys]))
