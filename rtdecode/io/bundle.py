"""The model bundle: everything live decoding needs, in one folder, with no pickle.

A bundle folder holds

- ``model.safetensors``: the model's weights: a network's tensors (the paper's student, or
  EEGNet), or the arrays of a classical decoder (:mod:`rtdecode.models.classical`);
- ``bundle.json``: format version, architecture and its config, class names, channel names,
  sampling rate, the exact :class:`~rtdecode.config.PipelineConfig`, the standardization
  statistics, training metrics and the software versions that made it.

Student bundles keep format 1 (readable by older programs); other architectures are format 2.

Loading never unpickles anything, so a bundle from a colleague is safe to open.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.config import PipelineConfig
from rtdecode.signal.standardize import Standardizer

BUNDLE_FORMAT = 2
STUDENT = "StudentCNN"
WEIGHTS_FILE = "model.safetensors"
META_FILE = "bundle.json"


@dataclass
class ModelBundle:
    """A trained subject-specific decoder and how to feed it.

    Attributes
    ----------
    model : torch.nn.Module or ClassicalModel
        The decoder: the student or EEGNet in evaluation mode (on the CPU after loading; move
        it with ``.to``), or a classical model's arrays. :attr:`architecture` says which.
    student_config : StudentConfig, EEGNetConfig or None
        The network's architecture config (None for a classical model).
    pipeline : PipelineConfig
        Preprocessing used in training; live decoding must use exactly this.
    standardizer : Standardizer
        Channel statistics fitted on the training split.
    class_names, channel_names : list of str
    sfreq : float
    metrics : dict
        Evaluation results recorded at training time.
    extra : dict
        Anything else worth keeping (subject, source recording, teacher report...).
    """

    model: Any
    student_config: Any
    pipeline: PipelineConfig
    standardizer: Standardizer
    class_names: list[str]
    channel_names: list[str]
    sfreq: float
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def architecture(self) -> str:
        """``"StudentCNN"``, ``"EEGNet"`` or a classical kind (``"xdawn_ts_lr"``, ``"lda_windowed"``)."""
        kind = getattr(self.model, "kind", None)
        return kind if isinstance(kind, str) and kind else type(self.model).__name__

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities for the model's input features.

        Parameters
        ----------
        features : np.ndarray
            The student: TFDs ``(n, n_channels, n_time, n_freqs)``; EEGNet and classical models:
            standardized epochs ``(n, n_samples, n_channels)``. One example without the leading
            axis gives one row.

        Returns
        -------
        np.ndarray, shape (n, n_classes) or (n_classes,)
        """
        import torch

        x = np.asarray(features, dtype=np.float32)
        single = x.ndim == (3 if self.architecture == STUDENT else 2)
        if not hasattr(self.model, "parameters"):
            # Classical models take the field's (n, n_channels, n_times).
            proba = self.model.predict_proba(np.swapaxes(x[None] if single else x, 1, 2))
            return proba[0] if single else proba
        device = next(self.model.parameters()).device
        with torch.no_grad():
            self.model.eval()
            logits = self.model(torch.as_tensor(x[None] if single else x, device=device))
            proba = torch.softmax(logits, dim=1).cpu().numpy()
        return proba[0] if single else proba


def save_bundle(bundle: ModelBundle, folder: str | Path) -> Path:
    """Write ``bundle`` into ``folder`` (created if needed); returns the folder."""
    import safetensors.numpy
    import safetensors.torch
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    architecture = bundle.architecture
    # Serialized in memory and written like every other output (mode from the umask, 0644
    # usually; safetensors' save_file makes 0600), through a temporary name so that a crash
    # never leaves half a bundle under the real names.
    if hasattr(bundle.model, "state_dict"):
        state = {k: v.detach().cpu().contiguous() for k, v in bundle.model.state_dict().items()}
        _write_atomic(folder / WEIGHTS_FILE, safetensors.torch.save(state))
        model_config = bundle.student_config.to_dict()
    else:
        arrays = {k: np.ascontiguousarray(v) for k, v in bundle.model.arrays.items()}
        _write_atomic(folder / WEIGHTS_FILE, safetensors.numpy.save(arrays))
        model_config = bundle.model.config()
    meta = {
        "format": 1 if architecture == STUDENT else BUNDLE_FORMAT,
        "architecture": architecture,
        "student_config": model_config,
        "pipeline": bundle.pipeline.to_dict(),
        "standardizer": bundle.standardizer.to_dict(),
        "class_names": list(bundle.class_names),
        "channel_names": list(bundle.channel_names),
        "sfreq": float(bundle.sfreq),
        "metrics": bundle.metrics,
        "extra": bundle.extra,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
        },
    }
    _write_atomic(folder / META_FILE, json.dumps(meta, indent=2, default=_json_default).encode("utf-8"))
    return folder


def _write_atomic(path: Path, content: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(content)
    os.replace(partial, path)


def load_bundle(folder: str | Path) -> ModelBundle:
    """Read a bundle written by :func:`save_bundle`.

    Raises
    ------
    ValueError
        When the folder is not a bundle, its format is newer than this program, its
        architecture is unknown, or its weights or metadata are corrupt.
    """
    folder = Path(folder)
    meta_path, weights_path = folder / META_FILE, folder / WEIGHTS_FILE
    if not meta_path.exists() or not weights_path.exists():
        raise ValueError(
            f"{folder} is not a model bundle: it needs {META_FILE} and {WEIGHTS_FILE} "
            "(make one with `rtdecode calibrate`)"
        )
    damaged = "the bundle is damaged: copy it again, or make it again with `rtdecode calibrate`"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{meta_path} is not valid JSON: it is corrupt ({error}); {damaged}") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{meta_path} holds no JSON object; {damaged}")
    if int(meta.get("format", 0)) > BUNDLE_FORMAT:
        raise ValueError(
            f"{folder} was written by a newer rtdecode (bundle format {meta['format']}, "
            f"this program reads up to {BUNDLE_FORMAT}); upgrade rtdecode"
        )
    from safetensors import SafetensorError

    architecture = meta.get("architecture", STUDENT)
    try:
        model, model_config = _load_model(architecture, meta["student_config"], weights_path)
    except KeyError as error:
        raise ValueError(f"{meta_path} lacks the entry {error}; {damaged}") from None
    except (SafetensorError, OSError) as error:
        raise ValueError(
            f"{weights_path} cannot be read: a corrupt {architecture} model ({_first_line(error)}); {damaged}"
        ) from None
    except UnknownArchitecture:
        raise
    except (RuntimeError, TypeError, ValueError) as error:
        # E.g. the model config edited by hand: the weights no longer fit the model it describes.
        raise ValueError(
            f"{folder}: {META_FILE} does not agree with {WEIGHTS_FILE}: a corrupt {architecture} model "
            f"({_first_line(error)}); {damaged}"
        ) from None
    try:
        return ModelBundle(
            model=model,
            student_config=model_config,
            pipeline=PipelineConfig.from_dict(meta["pipeline"]),
            standardizer=Standardizer.from_dict(meta["standardizer"]),
            class_names=list(meta["class_names"]),
            channel_names=list(meta["channel_names"]),
            sfreq=float(meta["sfreq"]),
            metrics=meta.get("metrics", {}),
            extra=meta.get("extra", {}),
        )
    except KeyError as error:
        raise ValueError(f"{meta_path} lacks the entry {error}; {damaged}") from None


class UnknownArchitecture(ValueError):
    """A bundle names a model this program does not serve."""


def _first_line(error: BaseException) -> str:
    # torch's load_state_dict error: a header line, then one line per mismatched tensor.
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if lines and lines[0].startswith("Error(s) in loading state_dict"):
        lines = lines[1:]
    return " ".join(lines[:2]).rstrip(".")[:300] if lines else type(error).__name__


def _load_model(architecture: str, config: dict[str, Any], weights_path: Path) -> tuple[Any, Any]:
    """Rebuild the model of a bundle from its config and weights (no pickle)."""
    from rtdecode.models.classical import CLASSICAL_MODELS
    from rtdecode.models.eegnet import EEGNet, EEGNetConfig
    from rtdecode.models.student import StudentCNN, StudentConfig

    networks = {STUDENT: (StudentCNN, StudentConfig), "EEGNet": (EEGNet, EEGNetConfig)}
    if architecture in networks:
        import safetensors.torch

        network, config_class = networks[architecture]
        model_config = config_class.from_dict(config)
        model = network(model_config)
        model.load_state_dict(safetensors.torch.load_file(str(weights_path)))
        return model.eval(), model_config
    if architecture in CLASSICAL_MODELS:
        import safetensors.numpy

        arrays = safetensors.numpy.load_file(str(weights_path))
        return CLASSICAL_MODELS[architecture].from_bundle(config, arrays), None
    raise UnknownArchitecture(
        f"unknown model architecture {architecture!r}; this program serves "
        f"{sorted([*networks, *CLASSICAL_MODELS])}"
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in bundle.json")
