"""Fitting the classical ERP decoders of :mod:`rtdecode.models.classical` (pyriemann, scikit-learn).

Fitting needs pyriemann and scikit-learn's estimators; the fitted parameters are copied into the
array-only inference models that a bundle stores, so live decoding runs the same arithmetic
without either library's pickled objects.
"""

from __future__ import annotations

import numpy as np
from pyriemann.estimation import XdawnCovariances
from pyriemann.tangentspace import TangentSpace
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from calibration.metrics import class_weights
from rtdecode.models.classical import ClassicalModel, WindowedMeansLDA, XdawnTangentSpaceLR

XDAWN_FILTERS = 4
# Width of the xDAWN super-trial covariance (2 x filters x classes) with two classes x 4 filters.
XDAWN_MAX_WIDTH = 2 * 2 * XDAWN_FILTERS
LDA_WINDOW_S = 0.05


def xdawn_filters(n_classes: int) -> int:
    """xDAWN filters per class: 4 for two classes, fewer with more classes (at least 1).

    The super-trial covariance is ``2 * filters * n_classes`` wide: at 40 classes x 4 filters it
    is 320 x 320 and its tangent space has 51,360 features, and the fit ran for more than 6
    minutes on the paper's protocol without finishing. Keeping the width near that of two
    classes gives 1 filter per class from 8 classes up (80 x 80 at 40 classes).
    """
    return max(1, XDAWN_MAX_WIDTH // (2 * max(n_classes, 1)))


def xdawn_pipeline(y: np.ndarray, n_filters: int | None = None) -> Pipeline:
    """The field's ERP pipeline (pyriemann): xDAWN covariances (OAS), tangent space, logistic regression.

    ``n_filters`` per class defaults to :func:`xdawn_filters` of the classes in ``y``. Class
    weights are balanced when ``y`` is imbalanced.
    """
    n_classes = int(np.max(y)) + 1
    balanced = "balanced" if class_weights(y, n_classes) is not None else None
    return make_pipeline(
        XdawnCovariances(nfilter=n_filters or xdawn_filters(n_classes), estimator="oas"),
        TangentSpace(metric="riemann"),
        LogisticRegression(max_iter=1000, class_weight=balanced),
    )


def fit_xdawn_ts_lr(x: np.ndarray, y: np.ndarray, n_classes: int) -> XdawnTangentSpaceLR:
    """Fit xDAWN + tangent space + logistic regression.

    Parameters
    ----------
    x : np.ndarray, shape (n, n_samples, n_channels)
        Filtered, standardized training epochs.
    y : np.ndarray, shape (n,), int
    n_classes : int

    Returns
    -------
    XdawnTangentSpaceLR
    """
    pipeline = xdawn_pipeline(y).fit(np.swapaxes(x, 1, 2).astype(np.float64), y)
    covariances, tangent, logreg = pipeline.steps[0][1], pipeline.steps[1][1], pipeline.steps[2][1]
    return XdawnTangentSpaceLR(
        n_classes=n_classes,
        arrays={
            "filters": covariances.Xd_.filters_,
            "prototypes": covariances.P_,
            "reference": tangent.reference_,
            "coef": logreg.coef_,
            "intercept": logreg.intercept_,
            "classes": logreg.classes_.astype(np.int64),
        },
    )


def lda_windows(n_samples: int, sfreq: float, window_s: float = LDA_WINDOW_S) -> np.ndarray:
    """Consecutive ``window_s`` windows covering the epoch: ``(n_windows, 2)`` sample ``[start, stop)``."""
    width = max(1, int(round(window_s * sfreq)))
    starts = np.arange(0, n_samples - width + 1, width)
    return np.column_stack([starts, starts + width]).astype(np.int64)


def fit_lda_windowed(x: np.ndarray, y: np.ndarray, n_classes: int, sfreq: float) -> WindowedMeansLDA:
    """Fit shrinkage LDA (Ledoit-Wolf) on 50 ms window means with equal class priors.

    Parameters
    ----------
    x : np.ndarray, shape (n, n_samples, n_channels)
        Filtered, standardized training epochs.
    y : np.ndarray, shape (n,), int
    n_classes : int
    sfreq : float

    Returns
    -------
    WindowedMeansLDA
    """
    windows = lda_windows(x.shape[1], sfreq)
    features = WindowedMeansLDA.window_means(x, windows)
    present = np.unique(y)
    # Equal priors: an imbalanced recording must not make the majority class a free win.
    lda = LinearDiscriminantAnalysis(
        solver="lsqr", shrinkage="auto", priors=np.full(len(present), 1 / len(present))
    )
    lda.fit(features, y)
    return WindowedMeansLDA(
        n_classes=n_classes,
        arrays={
            "windows": windows,
            "coef": lda.coef_,
            "intercept": lda.intercept_,
            "classes": lda.classes_.astype(np.int64),
        },
    )


# The fitting of each classical model of the registry (rtdecode.models.registry), by its class.
CLASSICAL_FITTERS = {
    XdawnTangentSpaceLR: lambda x, y, n_classes, sfreq: fit_xdawn_ts_lr(x, y, n_classes),
    WindowedMeansLDA: fit_lda_windowed,
}


def fit_classical(
    model_class: type[ClassicalModel], x: np.ndarray, y: np.ndarray, n_classes: int, sfreq: float
) -> ClassicalModel:
    """Fit a classical model of class ``model_class`` (a key of :data:`CLASSICAL_FITTERS`)."""
    if model_class not in CLASSICAL_FITTERS:
        known = sorted(c.__name__ for c in CLASSICAL_FITTERS)
        raise ValueError(f"no fitting for classical model {model_class.__name__}; known: {known}")
    return CLASSICAL_FITTERS[model_class](x, y, n_classes, sfreq)
