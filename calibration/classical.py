"""How calibration configures the classical ERP decoders of :mod:`rtdecode.models.classical`.

The decoders are scikit-learn estimators that fit themselves (with pyriemann and scikit-learn);
what calibration adds is its choice of their parameters for a recording.
"""

from __future__ import annotations

import numpy as np

from calibration.metrics import class_weights
from rtdecode.models.classical import ClassicalModel, WindowedMeansLDA, XdawnTangentSpaceLR
from rtdecode.models.templates import SharedTemplates


def classical_model(
    model_class: type[ClassicalModel], y: np.ndarray, n_classes: int, sfreq: float
) -> ClassicalModel:
    """The unfitted classical decoder of class ``model_class`` as calibration fits it on labels ``y``.

    xDAWN's logistic regression weighs classes "balanced" when ``y`` is imbalanced (more than
    1.5 : 1, :func:`calibration.metrics.class_weights`); the LDA's windows and the templates' 4 ms
    bins are sized at ``sfreq``.

    Parameters
    ----------
    model_class : type
        A classical model class of the registry (:meth:`rtdecode.models.registry.ModelSpec.classical_class`).
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
    if model_class is XdawnTangentSpaceLR:
        # The class count of the rule is the largest label + 1, as calibration has always counted it.
        imbalanced = class_weights(y, int(np.max(y)) + 1) is not None
        return XdawnTangentSpaceLR(n_classes=n_classes, class_weight="balanced" if imbalanced else None)
    if model_class is WindowedMeansLDA:
        return WindowedMeansLDA(n_classes=n_classes, sfreq=sfreq)
    if model_class is SharedTemplates:
        return SharedTemplates(n_classes=n_classes, sfreq=sfreq)
    raise ValueError(
        f"no calibration settings for the classical model {model_class.__name__}; "
        "known: XdawnTangentSpaceLR, WindowedMeansLDA, SharedTemplates"
    )
