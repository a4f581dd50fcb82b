"""Classical ERP decoders as scikit-learn estimators whose fitted state is plain arrays.

Two models the field uses on few-channel, few-trial evoked-response data:

- :class:`XdawnTangentSpaceLR`: xDAWN spatial filters, "super-trial" covariances (class
  prototypes stacked on the filtered epoch, OAS shrinkage), projection to the tangent space of
  the SPD manifold at the training mean, logistic regression (pyriemann's
  ``XdawnCovariances -> TangentSpace -> LogisticRegression``);
- :class:`WindowedMeansLDA`: per-channel means over consecutive time windows, shrinkage linear
  discriminant analysis.

Both are scikit-learn classifiers (parameters in ``__init__``, ``fit(X, y)`` returns the model,
fitted attributes end in ``_``, ``predict_proba`` / ``predict`` / ``classes_``), so
``cross_val_score``, ``Pipeline`` and MOABB-style evaluations take them as they are. ``X`` is the
field's ``(n_epochs, n_channels, n_times)`` of filtered, standardized epochs.

``fit`` runs pyriemann's / scikit-learn's own estimators (imported there, so that serving needs
neither pyriemann nor their pickles; the LDA's last step solved faster, see
:meth:`WindowedMeansLDA.fit`) and keeps only their fitted arrays; ``predict_proba``
computes exactly what the fitted pipeline computes (checked by the tests) in numpy. A bundle
stores those arrays in safetensors and the parameters in JSON (:attr:`ClassicalModel.arrays`,
:meth:`ClassicalModel.config`, :meth:`ClassicalModel.from_bundle`): no pickle.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from rtdecode.signal.alignment import spd_function

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


def lda_windows(n_times: int, sfreq: float, window_s: float = LDA_WINDOW_S) -> np.ndarray:
    """Consecutive ``window_s`` windows covering the epoch: ``(n_windows, 2)`` sample ``[start, stop)``."""
    width = max(1, int(round(window_s * sfreq)))
    starts = np.arange(0, n_times - width + 1, width)
    return np.column_stack([starts, starts + width]).astype(np.int64)


def _linear_proba(
    features: np.ndarray, coef: np.ndarray, intercept: np.ndarray, classes: np.ndarray, n_classes: int
) -> np.ndarray:
    """scikit-learn's probabilities of a linear classifier (binary: logistic; else softmax).

    Parameters
    ----------
    features : np.ndarray, shape (n, n_features)
    coef : np.ndarray, shape (1, n_features) for two classes, else (len(classes), n_features)
    intercept : np.ndarray, shape (coef.shape[0],)
    classes : np.ndarray, shape (n_fitted,), int
        Class index of each output column (classes absent in training get probability 0).

    Returns
    -------
    np.ndarray, shape (n, n_classes), float64
    """
    return decision_proba(features @ coef.T + intercept, classes, n_classes)


def decision_proba(decision: np.ndarray, classes: np.ndarray, n_classes: int) -> np.ndarray:
    """Probabilities ``(n, n_classes)`` of decisions ``(n, 1)`` (binary: logistic, scikit-learn's
    form) or ``(n, len(classes))`` (softmax); classes absent in training get probability 0."""
    if decision.shape[1] == 1:
        p = expit(decision[:, 0])  # no overflow warning for a decision far from 0, as scikit-learn
        fitted = np.column_stack([1.0 - p, p])
    else:
        decision = decision - decision.max(axis=1, keepdims=True)
        fitted = np.exp(decision)
        fitted /= fitted.sum(axis=1, keepdims=True)
    out = np.zeros((len(decision), n_classes))
    out[:, classes] = fitted
    return out


def _check_shape(name: str, array: np.ndarray, shape: tuple[int | None, ...]) -> None:
    if array.ndim != len(shape) or any(
        s is not None and s != a for s, a in zip(shape, array.shape, strict=True)
    ):
        raise ValueError(f"array {name!r} has shape {array.shape}, expected {shape}: the bundle is corrupt")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"array {name!r} holds NaN or Inf: the bundle is corrupt")


class ClassicalModel(ClassifierMixin, BaseEstimator):
    """Common part: labels, probabilities, predictions and the bundle (de)serialization.

    Subclasses take ``n_classes`` and their own parameters in ``__init__``, set :attr:`kind` and
    :attr:`ARRAYS`, and implement ``fit``, :meth:`_validate` and :meth:`_features`.

    Attributes
    ----------
    classes_ : np.ndarray, shape (n_classes,)
        The labels, in the order of the probability columns: ``arange(n_classes)`` when
        ``n_classes`` is given (labels are class indices, as calibration and bundles use them),
        else the sorted labels seen in ``fit``. A bundle stores class indices (its class names
        name them), so a loaded model's are ``arange(n_classes)``.
    fitted_classes_ : np.ndarray, shape (n_fitted,), int
        Indices into ``classes_`` of the classes present in training: the columns the fitted
        classifier gives (the others get probability 0).
    """

    kind: ClassVar[str] = ""
    ARRAYS: ClassVar[dict[str, str]] = {}
    """The fitted arrays: name in the bundle -> attribute."""

    n_classes: int | None

    def _encode(self, y: np.ndarray) -> np.ndarray:
        """Set :attr:`classes_` and return ``y`` as indices into it, shape (n,), int."""
        y = np.asarray(y)
        if self.n_classes is None:
            self.classes_ = np.unique(y)
            return np.searchsorted(self.classes_, y)
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= self.n_classes:
            raise ValueError(
                f"y must be class indices 0..{self.n_classes - 1} with n_classes={self.n_classes}, "
                f"got {np.unique(y)[:10]}; pass n_classes=None to fit on any labels"
            )
        self.classes_ = np.arange(self.n_classes)
        return y.astype(np.int64)

    @staticmethod
    def _epochs(X: np.ndarray) -> np.ndarray:
        x = np.asarray(X, dtype=np.float64)
        if x.ndim != 3:
            raise ValueError(f"X has shape {x.shape}: pass epochs (n_epochs, n_channels, n_times)")
        return x

    def _validate(self) -> None:
        """Check the fitted arrays against each other and prepare what inference reuses."""
        raise NotImplementedError

    def _features(self, x: np.ndarray) -> np.ndarray:
        """The linear classifier's input ``(n, n_features)`` of epochs ``(n, n_channels, n_times)``."""
        raise NotImplementedError

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : np.ndarray, shape (n_epochs, n_channels, n_times)
            Filtered, standardized epochs.

        Returns
        -------
        np.ndarray, shape (n_epochs, n_classes), float64
            Columns in the order of :attr:`classes_`.
        """
        check_is_fitted(self)
        features = self._features(self._epochs(X))
        return _linear_proba(
            features, self.coef_, self.intercept_, self.fitted_classes_.astype(int), len(self.classes_)
        )

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most probable label of each epoch ``(n_epochs, n_channels, n_times)`` -> ``(n_epochs,)``."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """The fitted arrays under their names in the bundle's safetensors file."""
        check_is_fitted(self)
        return {name: getattr(self, attribute) for name, attribute in self.ARRAYS.items()}

    def config(self) -> dict[str, Any]:
        """The JSON part of the model besides its arrays: its parameters, ``n_classes`` the fitted count."""
        check_is_fitted(self)
        return {**self.get_params(), "n_classes": len(self.classes_)}

    @classmethod
    def from_bundle(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> ClassicalModel:
        """The fitted model of :meth:`config` and :attr:`arrays`.

        Bundles written before the models were estimators store only ``n_classes``: the other
        parameters (which only a new ``fit`` would use) then take their defaults.
        """
        missing = set(cls.ARRAYS) - set(arrays)
        if missing:
            raise ValueError(f"{cls.kind} model lacks arrays {sorted(missing)}: the bundle is corrupt")
        model = cls(**{name: config[name] for name in cls._get_param_names() if name in config})
        model.n_classes = int(config["n_classes"])
        model.classes_ = np.arange(model.n_classes)
        for name, attribute in cls.ARRAYS.items():
            setattr(model, attribute, np.asarray(arrays[name]))
        model._validate()
        if np.any(model.fitted_classes_ < 0) or np.any(model.fitted_classes_ >= model.n_classes):
            raise ValueError(
                f"array 'classes' names classes outside 0..{model.n_classes - 1}: the bundle is corrupt"
            )
        return model


def _oas_covariances(x: np.ndarray) -> np.ndarray:
    """OAS-shrunk covariances of trials ``(n, n_signals, n_times)`` (scikit-learn's ``oas`` per trial)."""
    n_times, n_features = x.shape[2], x.shape[1]
    centered = x - x.mean(axis=2, keepdims=True)
    emp = centered @ np.swapaxes(centered, 1, 2) / n_times
    mu = np.trace(emp, axis1=1, axis2=2) / n_features
    alpha = np.mean(emp**2, axis=(1, 2))
    num = alpha + mu**2
    den = (n_times + 1.0) * (alpha - mu**2 / n_features)
    shrinkage = np.where(den == 0, 1.0, np.minimum(num / np.where(den == 0, 1.0, den), 1.0))
    eye = np.eye(n_features)
    return (1.0 - shrinkage)[:, None, None] * emp + (shrinkage * mu)[:, None, None] * eye


class XdawnTangentSpaceLR(ClassicalModel):
    """xDAWN covariances + tangent space + logistic regression.

    Parameters
    ----------
    n_classes : int or None
        Class count when labels are class indices (see :attr:`ClassicalModel.classes_`).
    n_filters : int or None
        xDAWN filters per class; None: :func:`xdawn_filters` of the class count.
    class_weight : "balanced", dict or None
        The logistic regression's (scikit-learn's meaning).

    Attributes
    ----------
    filters_ : np.ndarray, shape (n_filters_total, n_channels)
        xDAWN spatial filters (all classes stacked).
    prototypes_ : np.ndarray, shape (n_filters_total, n_times)
        Filtered class-mean responses, stacked on each filtered epoch.
    reference_ : np.ndarray, shape (2 n_filters_total, 2 n_filters_total)
        Riemannian mean of the training covariances (the tangent point).
    coef_ : np.ndarray, shape (1 or n_fitted, n_tangent)
    intercept_ : np.ndarray, shape (1 or n_fitted,)
        Logistic regression on the tangent vectors.
    classes_, fitted_classes_
        See :class:`ClassicalModel`.
    """

    kind: ClassVar[str] = "xdawn_ts_lr"
    ARRAYS: ClassVar[dict[str, str]] = {
        "filters": "filters_",
        "prototypes": "prototypes_",
        "reference": "reference_",
        "coef": "coef_",
        "intercept": "intercept_",
        "classes": "fitted_classes_",
    }

    def __init__(
        self, n_classes: int | None = None, n_filters: int | None = None, class_weight: Any = None
    ) -> None:
        self.n_classes = n_classes
        self.n_filters = n_filters
        self.class_weight = class_weight

    def fit(self, X: np.ndarray, y: np.ndarray) -> XdawnTangentSpaceLR:
        """Fit pyriemann's xDAWN covariances (OAS) -> tangent space -> logistic regression, keep its arrays.

        Parameters
        ----------
        X : np.ndarray, shape (n_epochs, n_channels, n_times)
            Filtered, standardized training epochs.
        y : np.ndarray, shape (n_epochs,)

        Returns
        -------
        XdawnTangentSpaceLR
            ``self``, fitted.
        """
        # Fitting only: serving a bundle needs neither pyriemann nor these estimators.
        from pyriemann.estimation import XdawnCovariances
        from pyriemann.tangentspace import TangentSpace
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from threadpoolctl import threadpool_limits

        x = self._epochs(X)
        index = self._encode(y)
        # The filter count follows the classes up to the largest label present (as calibration
        # has always counted them), not the classes the bundle names.
        n_filters = self.n_filters or xdawn_filters(int(index.max()) + 1)
        # One BLAS thread: the fit is mostly eigendecompositions of one small matrix per epoch
        # (1400 of 80 x 80 per Riemannian-mean step at 40 classes), which a second thread only
        # slows; on a 2-core CPU shared with other work, 1400 of them took 12-58 s with two
        # threads and 0.8-1.0 s with one (measured).
        with threadpool_limits(limits=1, user_api="blas"):
            covariances, tangent, logreg = make_pipeline(
                XdawnCovariances(nfilter=n_filters, estimator="oas"),
                TangentSpace(metric="riemann"),
                LogisticRegression(max_iter=1000, class_weight=self.class_weight),
            ).fit(x, index)
        self.filters_ = covariances.Xd_.filters_
        self.prototypes_ = covariances.P_
        self.reference_ = tangent.reference_
        self.coef_ = logreg.coef_
        self.intercept_ = logreg.intercept_
        self.fitted_classes_ = logreg.classes_.astype(np.int64)
        self._validate()
        return self

    def _validate(self) -> None:
        n_filters = self.filters_.shape[0] if self.filters_.ndim == 2 else -1
        _check_shape("filters", self.filters_, (None, None))
        _check_shape("prototypes", self.prototypes_, (n_filters, None))
        size = 2 * n_filters
        _check_shape("reference", self.reference_, (size, size))
        _check_shape("coef", self.coef_, (None, size * (size + 1) // 2))
        _check_shape("intercept", self.intercept_, (self.coef_.shape[0],))
        _check_shape("classes", self.fitted_classes_, (max(2, self.coef_.shape[0]),))
        if np.any(np.linalg.eigvalsh(self.reference_) <= 0):
            raise ValueError("the tangent-space reference is not positive definite: the bundle is corrupt")
        self._ref_isqrt = spd_function(self.reference_, lambda w: 1.0 / np.sqrt(w))
        rows, cols = np.triu_indices(size)
        self._upper = (rows, cols, np.where(rows == cols, 1.0, np.sqrt(2.0)))

    def covariances(self, X: np.ndarray) -> np.ndarray:
        """Super-trial covariances ``(n, 2 n_filters_total, 2 n_filters_total)`` of epochs ``(n, n_channels, n_times)``."""
        check_is_fitted(self)
        x = self._epochs(X)
        if x.shape[1:] != (self.filters_.shape[1], self.prototypes_.shape[1]):
            raise ValueError(
                f"epochs have {x.shape[1]} channels x {x.shape[2]} samples, the model "
                f"{self.filters_.shape[1]} x {self.prototypes_.shape[1]}: decode with the bundle's own pipeline"
            )
        filtered = self.filters_ @ x
        prototypes = np.broadcast_to(self.prototypes_, filtered.shape)
        return _oas_covariances(np.concatenate([prototypes, filtered], axis=1))

    def tangent_vectors(self, covariances: np.ndarray) -> np.ndarray:
        """pyriemann's ``tangent_space(C, reference)``: ``(n, d, d)`` -> ``(n, d (d + 1) / 2)``."""
        whitened = self._ref_isqrt @ covariances @ self._ref_isqrt
        logs = spd_function((whitened + np.swapaxes(whitened, 1, 2)) / 2, np.log)
        rows, cols, weights = self._upper
        return logs[:, rows, cols] * weights

    def _features(self, x: np.ndarray) -> np.ndarray:
        return self.tangent_vectors(self.covariances(x))


def _lsqr_lda(features: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's ``LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")`` fit, equal priors.

    Class means; the within-class covariance as the prior-weighted sum of each class's
    Ledoit-Wolf covariance of its standardized features, rescaled (scikit-learn's ``_cov``);
    ``coef = cov^-1 means`` and ``intercept = -means coef / 2 + log prior``; two classes reduced
    to one row. scikit-learn solves with ``lstsq``; the shrunk covariance is positive definite,
    so a Cholesky solve gives the same solution (``lstsq`` remains for a singular one).

    Parameters
    ----------
    features : np.ndarray, shape (n, n_features)
    y : np.ndarray, shape (n,), int

    Returns
    -------
    coef : np.ndarray, shape (1 or n_fitted, n_features)
    intercept : np.ndarray, shape (1 or n_fitted,)
    classes : np.ndarray, shape (n_fitted,), int64
        The labels present, sorted.
    """
    from scipy import linalg
    from sklearn.covariance import ledoit_wolf
    from sklearn.preprocessing import StandardScaler

    classes, inverse = np.unique(y, return_inverse=True)
    priors = np.full(len(classes), 1.0 / len(classes))
    means = np.zeros((len(classes), features.shape[1]))
    covariance = np.zeros((features.shape[1], features.shape[1]))
    for k in range(len(classes)):
        group = features[inverse == k]
        means[k] = group.mean(axis=0)
        scaler = StandardScaler()
        shrunk = ledoit_wolf(scaler.fit_transform(group))[0]
        covariance += priors[k] * (scaler.scale_[:, None] * shrunk * scaler.scale_[None, :])
    try:
        coef = linalg.solve(covariance, means.T, assume_a="pos").T
    except linalg.LinAlgError:
        coef = linalg.lstsq(covariance, means.T)[0].T
    intercept = -0.5 * np.einsum("kf,kf->k", means, coef) + np.log(priors)
    if len(classes) == 2:
        coef, intercept = (coef[1] - coef[0])[None, :], np.array([intercept[1] - intercept[0]])
    return coef, intercept, classes.astype(np.int64)


class WindowedMeansLDA(ClassicalModel):
    """Shrinkage LDA (Ledoit-Wolf, equal class priors) on per-channel means over consecutive time windows.

    Parameters
    ----------
    n_classes : int or None
        Class count when labels are class indices (see :attr:`ClassicalModel.classes_`).
    sfreq : float or None
        Sampling rate of the epochs (Hz); ``fit`` needs it to size the windows.
    window_s : float
        Window length in seconds.

    Attributes
    ----------
    windows_ : np.ndarray, shape (n_windows, 2), int
        ``[start, stop)`` sample indices of each window inside the epoch.
    coef_ : np.ndarray, shape (1 or n_fitted, n_windows * n_channels)
        The discriminant (features ordered window-major: all channels of window 0 first).
    intercept_ : np.ndarray, shape (1 or n_fitted,)
    classes_, fitted_classes_
        See :class:`ClassicalModel`.
    """

    kind: ClassVar[str] = "lda_windowed"
    ARRAYS: ClassVar[dict[str, str]] = {
        "windows": "windows_",
        "coef": "coef_",
        "intercept": "intercept_",
        "classes": "fitted_classes_",
    }

    def __init__(
        self, n_classes: int | None = None, sfreq: float | None = None, window_s: float = LDA_WINDOW_S
    ) -> None:
        self.n_classes = n_classes
        self.sfreq = sfreq
        self.window_s = window_s

    def fit(self, X: np.ndarray, y: np.ndarray) -> WindowedMeansLDA:
        """Fit scikit-learn's shrinkage LDA (``solver="lsqr"``, ``shrinkage="auto"``, equal
        priors) on the window means, keep its arrays.

        The fit is scikit-learn's, step for step (:func:`_lsqr_lda`), except the last: its
        ``scipy.linalg.lstsq`` of the within-class covariance becomes a Cholesky solve, the same
        solution of a positive-definite system (Ledoit-Wolf shrinkage makes it one) in 2 CPU
        seconds instead of 26 at 40 classes x 128 channels (2304 features; measured).

        Parameters
        ----------
        X : np.ndarray, shape (n_epochs, n_channels, n_times)
            Filtered, standardized training epochs.
        y : np.ndarray, shape (n_epochs,)

        Returns
        -------
        WindowedMeansLDA
            ``self``, fitted.
        """
        if self.sfreq is None:
            raise ValueError("WindowedMeansLDA needs sfreq (the epochs' sampling rate) to fit its windows")
        x = self._epochs(X)
        index = self._encode(y)
        windows = lda_windows(x.shape[2], self.sfreq, self.window_s)
        # Equal priors (inside _lsqr_lda): an imbalanced recording must not make the majority class a free win.
        self.coef_, self.intercept_, self.fitted_classes_ = _lsqr_lda(self.window_means(x, windows), index)
        self.windows_ = windows
        self._validate()
        return self

    def _validate(self) -> None:
        _check_shape("windows", self.windows_, (None, 2))
        if np.any(self.windows_[:, 1] <= self.windows_[:, 0]) or np.any(self.windows_ < 0):
            raise ValueError("windows must be [start, stop) with stop > start >= 0: the bundle is corrupt")
        _check_shape("coef", self.coef_, (None, None))
        if self.coef_.shape[1] % len(self.windows_):
            raise ValueError("coef width is not a multiple of the window count: the bundle is corrupt")
        _check_shape("intercept", self.intercept_, (self.coef_.shape[0],))
        _check_shape("classes", self.fitted_classes_, (max(2, self.coef_.shape[0]),))

    @staticmethod
    def window_means(X: np.ndarray, windows: np.ndarray) -> np.ndarray:
        """Window-major features ``(n, n_windows * n_channels)`` of epochs ``(n, n_channels, n_times)``."""
        x = np.asarray(X, dtype=np.float64)
        return np.stack([x[:, :, int(a) : int(b)].mean(axis=2) for a, b in windows], axis=1).reshape(
            len(x), -1
        )

    def _features(self, x: np.ndarray) -> np.ndarray:
        if int(self.windows_[:, 1].max()) > x.shape[2]:
            raise ValueError(
                "epochs are shorter than the model's windows: decode with the bundle's own pipeline"
            )
        if len(self.windows_) * x.shape[1] != self.coef_.shape[1]:
            raise ValueError(
                f"epochs have {x.shape[1]} channels, the model {self.coef_.shape[1] // len(self.windows_)}: "
                "decode with the bundle's own pipeline"
            )
        return self.window_means(x, self.windows_)
