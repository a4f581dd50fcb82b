"""Training any network of the model registry, with or without distillation.

The networks are the specs of :mod:`rtdecode.models.registry` that the ``"network"`` fit hook
trains: the paper's student, the other servable networks, and the networks among the paper's
baselines (some of whose classes live in :mod:`calibration.baselines`, as they are never served). :func:`fit_network` trains any of them through the one loop of
:func:`calibration.train.train_classifier`: with teacher soft targets it distils
(``alpha * CE + (1 - alpha) * T^2 * KL``), without them it is the same network on labels alone.
Calibration (:mod:`calibration.fitting`) and the study both train through it, so the study can
ask of every network whether distillation helps it; a new network joins the registry with one
``register`` call and trains here with no change.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from torch import nn

from calibration.baselines import RAW_BIN_S, RAW_NETWORKS, bin_time, samples_for
from calibration.train import TrainConfig, TrainHistory, seed_everything, train_classifier
from rtdecode.config import PipelineConfig
from rtdecode.models import registry
from rtdecode.models.registry import ModelSpec
from rtdecode.models.serving import model_input

NETWORKS: dict[str, ModelSpec] = {name: registry.get(name) for name in registry.networks()}
"""The networks a study can train (each distilled and not), by registry name."""


def network(name: str) -> ModelSpec:
    """The network called ``name`` (or one of its older names).

    Raises
    ------
    ValueError
        Unknown name, or not a network (the message lists the known ones).
    """
    spec = registry.find(name)
    if spec is None or spec.name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; choose from {', '.join(NETWORKS)}")
    return spec


def network_inputs(view: str, epochs: np.ndarray, standardizer: Any, pipeline: PipelineConfig) -> np.ndarray:
    """The input array of every model reading ``view``, computed once and shared.

    Parameters
    ----------
    view : str
        A key of :data:`rtdecode.models.registry.VIEWS`.
    epochs : np.ndarray, shape (n, n_samples, n_channels)
        Filtered, not yet standardized epochs.
    standardizer : Standardizer
        Fitted on the training epochs only.
    pipeline : PipelineConfig

    Returns
    -------
    np.ndarray, float32
        What live decoding computes for the view (:func:`rtdecode.models.serving.model_input`):
        ``(n, channels, time, freq)`` for TFDs, ``(n, n_samples, channels)`` for time series;
        ``raw_binned``: ``(n, n_steps, channels)`` in 4 ms bins.
    """
    if view not in registry.VIEWS:
        raise ValueError(f"view must be one of {list(registry.VIEWS)}, got {view!r}")
    if view == "raw_binned":
        width = samples_for(RAW_BIN_S, pipeline.sfreq)  # 4 ms bins at the recording's rate
        return bin_time(model_input("raw", epochs, standardizer, pipeline), width).astype(np.float32)
    return model_input(view, epochs, standardizer, pipeline)


def build_network(
    spec: ModelSpec,
    example_shape: tuple[int, ...],
    n_classes: int,
    options: dict[str, Any] | None = None,
    sfreq: float | None = None,
) -> nn.Module:
    """A new network of kind ``spec`` for inputs of ``example_shape`` (one example, its view's axes).

    ``options`` holds architecture configs to start from (e.g. the calibration's student config):
    a network whose config class matches one takes its fields, channels and classes aside.
    ``sfreq``, the epochs' rate, sets a config's rate-dependent fields
    (:meth:`~rtdecode.models.registry.ModelSpec.make_config`; EEGNet's 4 ms input bins).
    """
    n_channels, n_times = spec.view.dims(tuple(example_shape))
    if spec.network is None:  # a baseline network built by calibration.baselines
        return RAW_NETWORKS[spec.name](n_channels, n_classes)
    config_class = spec.config_class()
    base = next((o for o in (options or {}).values() if isinstance(o, config_class)), None)
    return spec.build(spec.make_config(n_channels, n_classes, n_times, base, sfreq))


def fit_network(
    spec: ModelSpec,
    x: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    val: np.ndarray,
    n_classes: int,
    config: TrainConfig,
    soft_targets: np.ndarray | None = None,
    options: dict[str, Any] | None = None,
    initial: nn.Module | None = None,
    sfreq: float | None = None,
) -> tuple[nn.Module, TrainHistory]:
    """Train one network, distilled when ``soft_targets`` are given and ``config.alpha < 1``.

    Parameters
    ----------
    spec : ModelSpec
        A network of the registry (its ``lr``, when set, replaces ``config.lr``).
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
        Passed to :func:`build_network`.
    initial : nn.Module, optional
        Weights to start from (a cross-subject base: fine-tuning); a copy is trained, ``initial``
        is left as it is. None: new weights seeded by ``config.seed``.
    sfreq : float, optional
        Sampling rate of the epochs, passed to :func:`build_network` for new weights (calibration
        and the study give it; without it a rate-dependent network keeps its config's defaults,
        e.g. EEGNet unbinned).

    Returns
    -------
    model : nn.Module
        Holding the best validation weights.
    history : TrainHistory
    """
    distill = soft_targets is not None and config.alpha < 1.0
    if distill and not spec.distillable:
        raise ValueError(f"{spec.name} cannot be distilled; train it without soft targets")
    changes: dict[str, Any] = {} if distill else {"alpha": 1.0}
    if spec.lr is not None:
        changes["lr"] = spec.lr
    run_config = TrainConfig(**{**config.to_dict(), **changes}) if changes else config
    seed_everything(config.seed, config.deterministic)
    if initial is not None:
        model = copy.deepcopy(initial)
    else:
        model = build_network(spec, tuple(x.shape[1:]), n_classes, options, sfreq)
    history = train_classifier(
        model,
        x[train],
        y[train],
        x[val],
        y[val],
        run_config,
        soft_targets[train] if distill else None,
        description=registry.run_name(spec.name, distill),
    )
    return model, history
