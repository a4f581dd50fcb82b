"""How calibration configures the classical ERP decoders of :mod:`rtdecode.models.classical`.

The decoders are scikit-learn estimators that fit themselves (with pyriemann and scikit-learn);
what calibration adds is its choice of their parameters for a recording.
"""

from __future__ import annotations

import numpy as np

from calibration.metrics import class_weights
from rtdecode.models.classical import CLASSICAL_MODELS, ClassicalModel, WindowedMeansLDA, XdawnTangentSpaceLR


def classical_model(kind: str, y: np.ndarray, n_classes: int, sfreq: float) -> ClassicalModel:
    """The unfitted classical decoder ``kind`` as calibration fits it on labels ``y``.

    xDAWN's logistic regression weighs classes "balanced" when ``y`` is imbalanced (more than
    1.5 : 1, :func:`calibration.metrics.class_weights`); the LDA's windows are sized at ``sfreq``.

    Parameters
    ----------
    kind : str
        A key of :data:`rtdecode.models.classical.CLASSICAL_MODELS`.
    y : np.ndarray, shape (n,), int
        The training labels (class indices).
    n_classes : int
    sfreq : float
        Sampling rate of the epochs (Hz).

    Returns
    -------
    ClassicalModel
        Call ``fit(X, y)`` with ``X`` of shape (n, n_channels, n_times).
    """
    if kind == XdawnTangentSpaceLR.kind:
        # The class count of the rule is the largest label + 1, as calibration has always counted it.
        imbalanced = class_weights(y, int(np.max(y)) + 1) is not None
        return XdawnTangentSpaceLR(n_classes=n_classes, class_weight="balanced" if imbalanced else None)
    if kind == WindowedMeansLDA.kind:
        return WindowedMeansLDA(n_classes=n_classes, sfreq=sfreq)
    raise ValueError(f"unknown classical model {kind!r}; choose from {sorted(CLASSICAL_MODELS)}")
