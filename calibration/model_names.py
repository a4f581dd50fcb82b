"""Readable names of the models a calibration trains, for reports and windows.

Code names (``student_kd_stft``) stay the keys of ``report.json`` and ``bundle.json``;
people read ``distilled student (STFT)``. A new model adds one line to :data:`MODEL_NAMES`;
a name missing here is shown as its code name, so nothing breaks.
"""

from __future__ import annotations

MODEL_NAMES: dict[str, str] = {
    "student_kd_stft": "distilled student (STFT)",
    "student_stft": "student without distillation (STFT)",
    "logreg_standardized": "logistic regression (standardized samples)",
    "logreg_averaged": "logistic regression (time-averaged)",
    "logreg_pca": "logistic regression (PCA)",
    "logreg_sliding": "logistic regression (sliding windows)",
    "lstm": "LSTM (raw EEG)",
    "cnn1d": "1D CNN (raw EEG)",
    "cnn2d_stft": "2D CNN (STFT, no distillation)",
    "cnn2d_wavelet": "2D CNN (wavelet, no distillation)",
    "eegnet": "EEGNet (time domain)",
    "erp_xdawn_ts_lr": "ERP: xDAWN covariances, tangent space, logistic regression",
    "erp_lda_windowed": "ERP: shrinkage LDA on window means",
}


def display_name(code: str) -> str:
    """Words for a model's code name (the code name itself when it has none)."""
    return MODEL_NAMES.get(code, code)
