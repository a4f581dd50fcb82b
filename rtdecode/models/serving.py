"""One interface to serve any bundle's model: filtered epochs in, class probabilities out.

``live``, ``predict``, ``gui`` and ``figure`` all decode through :class:`rtdecode.decoder.Decoder`,
which serves the bundle through :func:`serve`. What differs between models is only what they
take as input, so that is all this module knows:

- the paper's student (``StudentCNN``): standardized epochs -> TFD (the bundle's pipeline) -> network;
- EEGNet: standardized epochs -> network;
- classical decoders (:mod:`rtdecode.models.classical`): standardized epochs -> numpy arithmetic.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rtdecode.signal.preprocess import epoch_features


class ServedModel:
    """A bundle's model ready to decode.

    Parameters
    ----------
    bundle : ModelBundle
    device : str
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``...; classical models always run on the CPU.
    """

    def __init__(self, bundle: Any, device: str = "auto") -> None:
        self.bundle = bundle
        self.architecture = bundle.architecture
        self.is_network = hasattr(bundle.model, "parameters")
        if self.is_network:
            import torch

            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            self.model = bundle.model.to(device).eval()
        else:
            device = "cpu"
            self.model = bundle.model
        self.device = device

    def features(self, epochs: np.ndarray) -> np.ndarray:
        """Model input of filtered epochs ``(n, n_samples, n_channels)``.

        Returns
        -------
        np.ndarray
            The student: TFDs ``(n, C, T, F)`` float32; other models: standardized epochs
            ``(n, n_samples, n_channels)`` float32.
        """
        if self.architecture == "StudentCNN":
            return epoch_features(epochs, self.bundle.standardizer, self.bundle.pipeline)
        standardized = self.bundle.standardizer.transform(np.swapaxes(epochs, 1, 2))
        return np.asarray(np.swapaxes(standardized, 1, 2), dtype=np.float32)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` of :meth:`features` output."""
        if not self.is_network:
            # Classical models take the field's (n, n_channels, n_times).
            return np.asarray(self.model.predict_proba(np.swapaxes(features, 1, 2)), dtype=np.float32)
        import torch

        with torch.inference_mode():
            logits = self.model(torch.as_tensor(features, device=self.device))
            # A copy: a view would keep torch's output tensor alive, and with it about 45 KB of
            # the CPU allocator's memory per prediction (measured), for as long as anyone holds it.
            return torch.softmax(logits.float(), dim=1).cpu().numpy().copy()


def serve(bundle: Any, device: str = "auto") -> ServedModel:
    """The bundle's model behind the one decoding interface."""
    return ServedModel(bundle, device)
