"""The training defaults every command shares, in a module that imports nothing.

:mod:`calibration.options` (command-line flags, no torch) and :mod:`calibration.train`
(``TrainConfig``, imports torch) both read them, so neither has to import the other to agree.
"""

from __future__ import annotations

DEFAULT_MAX_EPOCHS = 60
DEFAULT_PATIENCE = 8
DEFAULT_ALPHA = 0.5
DEFAULT_TEMPERATURE = 1.0
DEFAULT_SOFT_TARGET_FOLDS = 5
DEFAULT_BATCH_SIZE = 64
