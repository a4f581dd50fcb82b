"""Every network the calibration trains, as one registry, each trainable with or without distillation.

A :class:`NetworkSpec` names the network, the input it reads (``"stft"`` or ``"wavelet"`` TFDs,
or the ``"raw"`` standardized time series) and how to build it for an input shape and a class
count. :func:`fit_network` trains any of them through the one loop of
:func:`calibration.train.train_classifier`: with teacher soft targets it distils
(``alpha * CE + (1 - alpha) * T^2 * KL``), without them it is the same network on labels alone.
So the study can ask of every network whether distillation helps it; a new network (e.g. a
time-domain CNN) joins with :func:`register_network`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from calibration.baselines import _RAW_BIN_S, RAW_NETWORKS, _bin_time, samples_for
from calibration.train import TrainConfig, TrainHistory, seed_everything, train_classifier
from rtdecode.config import PipelineConfig
from rtdecode.models.student import StudentCNN, StudentConfig
from rtdecode.signal.preprocess import epoch_features
from rtdecode.signal.standardize import Standardizer

INPUTS = ("stft", "wavelet", "raw")


@dataclass(frozen=True)
class NetworkSpec:
    """One trainable network.

    Attributes
    ----------
    name : str
    input : {"stft", "wavelet", "raw"}
        ``stft``/``wavelet``: TFDs ``(n, channels, time, freq)``; ``raw``: standardized epochs
        averaged in 4 ms bins, ``(n, n_steps, channels)``.
    build : callable
        ``build(input_shape, n_classes, options) -> nn.Module`` with ``input_shape`` one
        example's shape and ``options`` a dict (e.g. ``{"student": StudentConfig}``).
    description : str
    """

    name: str
    input: str
    build: Callable[[tuple[int, ...], int, dict[str, Any]], nn.Module]
    description: str = ""


def _student(shape: tuple[int, ...], n_classes: int, options: dict[str, Any]) -> nn.Module:
    base: StudentConfig = options.get("student", StudentConfig())
    return StudentCNN(StudentConfig(**{**base.to_dict(), "n_channels": shape[0], "n_classes": n_classes}))


def _raw(name: str) -> Callable[[tuple[int, ...], int, dict[str, Any]], nn.Module]:
    return lambda shape, n_classes, options: RAW_NETWORKS[name](shape[1], n_classes)


NETWORKS: dict[str, NetworkSpec] = {}


def register_network(spec: NetworkSpec) -> None:
    """Add (or replace) a network of the registry.

    Raises
    ------
    ValueError
        ``spec.input`` is not one of :data:`INPUTS`.
    """
    if spec.input not in INPUTS:
        raise ValueError(f"NetworkSpec.input must be one of {INPUTS}, got {spec.input!r}")
    NETWORKS[spec.name] = spec


register_network(NetworkSpec("stft_cnn", "stft", _student, "the paper's residual CNN on STFT (the student)"))
register_network(NetworkSpec("wavelet_cnn", "wavelet", _student, "the same CNN on the db4 wavelet TFD"))
register_network(NetworkSpec("cnn1d", "raw", _raw("cnn1d"), "4-layer 1D CNN on the time series"))
register_network(NetworkSpec("lstm", "raw", _raw("lstm"), "2-layer LSTM on the time series"))


def network(name: str) -> NetworkSpec:
    """The registered network called ``name``.

    Raises
    ------
    ValueError
        Unknown name (the message lists the known ones).
    """
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; choose from {', '.join(NETWORKS)}")
    return NETWORKS[name]


def network_inputs(
    kind: str, epochs: np.ndarray, standardizer: Standardizer, pipeline: PipelineConfig
) -> np.ndarray:
    """The input array of every network reading ``kind``, computed once and shared.

    Parameters
    ----------
    kind : {"stft", "wavelet", "raw"}
    epochs : np.ndarray, shape (n, n_samples, n_channels)
        Filtered, not yet standardized epochs.
    standardizer : Standardizer
        Fitted on the training epochs only.
    pipeline : PipelineConfig
        Its TFD method is replaced by ``kind`` for ``stft``/``wavelet``.

    Returns
    -------
    np.ndarray, float32
        ``(n, channels, time, freq)`` for TFDs, ``(n, n_steps, channels)`` for ``raw``.
    """
    if kind == "raw":
        width = samples_for(_RAW_BIN_S, pipeline.sfreq)  # 4 ms bins at the recording's rate
        standardized = np.swapaxes(standardizer.transform(np.swapaxes(epochs, 1, 2)), 1, 2)
        return _bin_time(standardized.astype(np.float32), width).astype(np.float32)
    if kind not in ("stft", "wavelet"):
        raise ValueError(f"kind must be one of {INPUTS}, got {kind!r}")
    if pipeline.tfd.method != kind:
        d = pipeline.to_dict()
        pipeline = PipelineConfig.from_dict({**d, "tfd": {**d["tfd"], "method": kind}})
    return epoch_features(epochs, standardizer, pipeline)


def fit_network(
    spec: NetworkSpec,
    x: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    val: np.ndarray,
    n_classes: int,
    config: TrainConfig,
    soft_targets: np.ndarray | None = None,
    options: dict[str, Any] | None = None,
) -> tuple[nn.Module, TrainHistory]:
    """Train one network, distilled when ``soft_targets`` are given and ``config.alpha < 1``.

    Parameters
    ----------
    spec : NetworkSpec
    x : np.ndarray, shape (n, ...)
        The network's inputs (:func:`network_inputs`) for all epochs.
    y : np.ndarray, shape (n,), int
    train, val : np.ndarray of int
        Indices of the training and validation epochs.
    n_classes : int
    config : TrainConfig
        ``config.seed`` seeds the initial weights: distilled and plain runs of one seed start equal.
    soft_targets : np.ndarray, shape (n, n_classes), optional
        Teacher targets at ``config.temperature`` for every epoch; ``None`` trains on labels only.
    options : dict, optional
        Passed to ``spec.build``.

    Returns
    -------
    model : nn.Module
        Holding the best validation weights.
    history : TrainHistory
    """
    seed_everything(config.seed, config.deterministic)
    model = spec.build(tuple(x.shape[1:]), n_classes, options or {})
    distill = soft_targets is not None and config.alpha < 1.0
    run_config = config if distill else TrainConfig(**{**config.to_dict(), "alpha": 1.0})
    history = train_classifier(
        model,
        x[train],
        y[train],
        x[val],
        y[val],
        run_config,
        soft_targets[train] if distill else None,
        description=f"{spec.name}{'+kd' if distill else ''}",
    )
    return model, history
