"""The paper's baselines, on the same block-respecting splits as the student.

Classical: logistic regression on four hand-made feature sets of the standardized epochs.
Neural (about the student's 1.1 M parameters at 128 channels): an LSTM and a 4-layer 1D CNN on
the raw time series in 4 ms bins, built here (:data:`RAW_NETWORKS`, never served) and trained
like every network of the model registry by :func:`calibration.networks.fit_network`. The 2D CNN
baselines on STFT and wavelet TFDs are the student architecture trained with ``alpha = 1``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from rtdecode.signal.binning import bin_time, samples_for  # noqa: F401 - calibration's names for them

# Every duration is in seconds and converted at the recording's rate, so the features mean the
# same at 256 Hz as at 1 kHz.
# Time decimation for the flattened logistic-regression features: 10 ms bins keep the evoked
# waveform while making 128-channel epochs tractable (440 x 128 -> 44 x 128 features at 1 kHz).
_LOGREG_BIN_S = 0.010
# Raw-series networks see the epoch averaged in 4 ms bins: 110 steps instead of 440 at 1 kHz keeps
# the LSTM trainable on a CPU and the 14-70 Hz content below the new Nyquist (125 Hz). At rates
# where 4 ms is under two samples nothing is averaged, so nothing aliases.
RAW_BIN_S = 0.004
_PCA_COMPONENTS = 64
_SLIDING_WINDOW_S, _SLIDING_HOP_S = 0.050, 0.025


def feature_standardized(epochs: np.ndarray, sfreq: float) -> np.ndarray:
    """Whole standardized epoch in 10 ms bins, flattened: (n, n_bins * n_channels)."""
    return bin_time(epochs, samples_for(_LOGREG_BIN_S, sfreq)).reshape(len(epochs), -1)


def feature_averaged(epochs: np.ndarray, sfreq: float) -> np.ndarray:
    """Time-averaged signal per channel: (n, n_channels)."""
    return epochs.mean(axis=1)


def feature_sliding(epochs: np.ndarray, sfreq: float) -> np.ndarray:
    """Means over 50 ms windows every 25 ms, flattened: (n, n_windows * n_channels)."""
    window = min(samples_for(_SLIDING_WINDOW_S, sfreq), epochs.shape[1])
    hop = samples_for(_SLIDING_HOP_S, sfreq)
    starts = range(0, epochs.shape[1] - window + 1, hop)
    return np.stack([epochs[:, s : s + window].mean(axis=1) for s in starts], axis=1).reshape(len(epochs), -1)


LOGREG_FEATURES: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "logreg_standardized": feature_standardized,
    "logreg_averaged": feature_averaged,
    "logreg_pca": feature_standardized,
    "logreg_sliding": feature_sliding,
}


def fit_logreg(
    name: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    sfreq: float,
    seed: int = 0,
    n_classes: int | None = None,
) -> Callable:
    """Fit one logistic-regression baseline on standardized epochs.

    Parameters
    ----------
    name : str
        A key of :data:`LOGREG_FEATURES`.
    x_train : np.ndarray, shape (n, n_samples, n_channels)
        Filtered, standardized epochs.
    y_train : np.ndarray, shape (n,), int
    sfreq : float
        Sampling rate of the epochs (feature windows are durations).
    seed : int
    n_classes : int, optional
        Width of the probability output (default: the largest training label + 1).

    Returns
    -------
    callable
        Maps epochs of the same shape to class probabilities ``(n, n_classes)``.
    """

    def features(x: np.ndarray) -> np.ndarray:
        return LOGREG_FEATURES[name](x, sfreq)

    train_features = features(x_train)
    steps: list = [StandardScaler()]
    if name == "logreg_pca":
        # PCA cannot have more components than samples or features (4 channels x 11 bins = 44).
        n_components = min(_PCA_COMPONENTS, len(x_train) - 1, train_features.shape[1])
        steps.append(PCA(n_components=n_components, random_state=seed))
    # Balanced class weights: on an imbalanced recording the unweighted fit predicts the majority.
    steps.append(LogisticRegression(C=0.05, max_iter=300, random_state=seed, class_weight="balanced"))
    model = make_pipeline(*steps).fit(train_features, y_train)
    width = int(n_classes or np.max(y_train) + 1)

    def proba(x: np.ndarray) -> np.ndarray:
        out = np.zeros((len(x), width))
        out[:, model.classes_] = model.predict_proba(features(x))
        return out

    return proba


class LSTMClassifier(nn.Module):
    """Two-layer LSTM over time on (batch, n_steps, n_channels); the last state feeds a linear head."""

    def __init__(self, n_channels: int, n_classes: int, hidden: int = 288, dropout: float = 0.3) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_channels, hidden, num_layers=2, batch_first=True, dropout=dropout)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


class Conv1DClassifier(nn.Module):
    """Four 1D convolution layers with dropout over time, channels as input features."""

    def __init__(
        self, n_channels: int, n_classes: int, widths=(192, 224, 256, 320), dropout: float = 0.3
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        planes = n_channels
        for i, width in enumerate(widths):
            layers += [
                nn.Conv1d(planes, width, 7 if i == 0 else 5, padding="same", bias=False),
                nn.BatchNorm1d(width),
                nn.ReLU(inplace=True),
                nn.Dropout(dropout),
            ]
            if i < len(widths) - 1:
                layers.append(nn.MaxPool1d(2))
            planes = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(planes, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (batch, n_steps, n_channels) -> (batch, n_channels, n_steps) for Conv1d
        return self.head(self.body(x.transpose(1, 2)))


RAW_NETWORKS: dict[str, type[nn.Module]] = {"lstm": LSTMClassifier, "cnn1d": Conv1DClassifier}
