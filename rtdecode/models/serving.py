"""One interface to serve any bundle's model: filtered epochs in, class probabilities out.

``live``, ``predict``, ``gui`` and ``figure`` all decode through :class:`rtdecode.decoder.Decoder`,
which serves the bundle through :func:`serve`. What differs between models is only what they
take as input, their registry spec's view (:data:`rtdecode.models.registry.VIEWS`), and
:func:`model_input` computes it, for serving and for training alike:

- time-frequency views (the paper's student): standardized epochs -> TFD (the bundle's pipeline);
- time-series views (the other networks, the classical decoders): standardized epochs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rtdecode.config import PipelineConfig
from rtdecode.models import registry
from rtdecode.signal.preprocess import epoch_features


def model_input(view: str, epochs: np.ndarray, standardizer: Any, pipeline: PipelineConfig) -> np.ndarray:
    """The input of a model reading ``view``, from filtered epochs.

    Parameters
    ----------
    view : str
        A servable key of :data:`rtdecode.models.registry.VIEWS`.
    epochs : np.ndarray, shape (n, n_samples, n_channels)
        Filtered, not yet standardized epochs.
    standardizer : Standardizer
    pipeline : PipelineConfig
        The model's preprocessing (its TFD settings for a time-frequency view).

    Returns
    -------
    np.ndarray, float32
        TFDs ``(n, n_channels, n_time, n_freqs)``; standardized epochs ``(n, n_channels, n_times)`` for
        the ERP view (classical estimators), ``(n, n_samples, n_channels)`` for the networks' raw view.
    """
    spec = registry.VIEWS[view]
    if not spec.servable:
        raise ValueError(
            f"view {view!r} is computed by calibration only; servable views: "
            f"{[v for v, s in registry.VIEWS.items() if s.servable]}"
        )
    if spec.is_tfd:
        if spec.tfd_method and pipeline.tfd.method != spec.tfd_method:
            pipeline = pipeline.with_overrides(tfd={"method": spec.tfd_method})
        return epoch_features(epochs, standardizer, pipeline)
    # The standardizer and the classical models take the field's (n, n_channels, n_times).
    standardized = standardizer.transform(np.swapaxes(epochs, 1, 2))
    if spec.layout == "CT":
        return np.asarray(standardized, dtype=np.float32)
    return np.asarray(np.swapaxes(standardized, 1, 2), dtype=np.float32)


class ServedModel:
    """A bundle's model ready to decode.

    Parameters
    ----------
    bundle : ModelBundle
    device : str
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``...; classical models always run on the CPU.
    standardizer : Standardizer, optional
        What :meth:`features` standardizes with (a decoder's adapting copy); default the bundle's.
    """

    def __init__(self, bundle: Any, device: str = "auto", standardizer: Any = None) -> None:
        self.bundle = bundle
        self.standardizer = bundle.standardizer if standardizer is None else standardizer
        self.spec = registry.spec_of(bundle.model)
        self.architecture = self.spec.name
        self.is_network = self.spec.weights == "tensors"
        if self.is_network:
            from rtdecode.weights import resolve_device

            device = resolve_device(device)
            self.model = bundle.model.to(device).eval()
        else:
            device = "cpu"
            self.model = bundle.model
        self.device = device

    def features(self, epochs: np.ndarray) -> np.ndarray:
        """Model input of filtered epochs ``(n, n_samples, n_channels)`` (see :func:`model_input`)."""
        return model_input(self.spec.input, epochs, self.standardizer, self.bundle.pipeline)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` of :meth:`features` output."""
        if not self.is_network:
            return np.asarray(self.model.predict_proba(features), dtype=np.float32)
        import torch

        with torch.inference_mode():
            logits = self.model(torch.as_tensor(features, device=self.device))
            # A copy: a view would keep torch's output tensor alive, and with it about 45 KB of
            # the CPU allocator's memory per prediction (measured), for as long as anyone holds it.
            return torch.softmax(logits.float(), dim=1).cpu().numpy().copy()


def serve(bundle: Any, device: str = "auto", standardizer: Any = None) -> ServedModel:
    """The bundle's model behind the one decoding interface (see :class:`ServedModel`)."""
    return ServedModel(bundle, device, standardizer)
