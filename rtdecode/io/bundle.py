"""The model bundle: everything live decoding needs, in one folder, with no pickle.

A bundle folder holds

- ``model.safetensors``: the model's weights: a network's tensors, or the arrays of a classical
  decoder (:mod:`rtdecode.models.classical`);
- ``bundle.json``: format version, architecture (the model's name in
  :mod:`rtdecode.models.registry`) and its config, class names, channel names, sampling rate,
  the exact :class:`~rtdecode.config.PipelineConfig`, the standardization statistics, training
  metrics and the software versions that made it.

Format 3 names the architecture as the registry does; formats 1 (the paper's student) and 2
(other models) used older names, which load through the registry's aliases. Format 4 adds
EEGNet's ``input_bin`` (its 4 ms input bins, :mod:`rtdecode.models.eegnet`) to its config; an
EEGNet config without it (formats 2-3) is the unbinned network it always was. An older program
refuses a newer bundle with "upgrade rtdecode" rather than calling it corrupt or unknown.

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
from rtdecode.io.blocks import BlockRule
from rtdecode.io.marker_mapping import MarkerMapping
from rtdecode.models import registry
from rtdecode.signal.standardize import Standardizer

BUNDLE_FORMAT = 4
WEIGHTS_FILE = "model.safetensors"
META_FILE = "bundle.json"


@dataclass
class ModelBundle:
    """A trained subject-specific decoder and how to feed it.

    Attributes
    ----------
    model : torch.nn.Module or ClassicalModel
        The decoder, a servable model of :mod:`rtdecode.models.registry`: a network in
        evaluation mode (on the CPU after loading; move it with ``.to``), or a classical
        model's arrays. :attr:`architecture` says which.
    model_config : network config or None
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
        Anything else worth keeping (subject, source recording, teacher report...), and
        ``marker_mapping``: how the calibration recording's plain marker codes became classes
        (:attr:`marker_mapping`); ``block_rule``: the ``--blocks`` it was calibrated with
        (:attr:`block_rule`).
    """

    model: Any
    model_config: Any
    pipeline: PipelineConfig
    standardizer: Standardizer
    class_names: list[str]
    channel_names: list[str]
    sfreq: float
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> registry.ModelSpec:
        """The model's kind in the registry."""
        return registry.spec_of(self.model)

    @property
    def architecture(self) -> str:
        """The model's name in the registry."""
        return self.spec.name

    @property
    def marker_mapping(self) -> MarkerMapping | None:
        """The marker mapping the model was calibrated with (labels in the model's class order),
        or None for a recording with the project's JSON markers.

        Live decoding and ``predict`` read plain marker codes with it when no ``--events`` is given.

        Raises
        ------
        ValueError
            ``extra["marker_mapping"]`` is not a stored mapping (an edited bundle).
        """
        stored = self.extra.get("marker_mapping")
        if not stored:
            return None
        return MarkerMapping.from_dict(stored).with_classes(self.class_names)

    @property
    def block_rule(self) -> BlockRule | None:
        """The ``--blocks`` rule the model was calibrated with, or None for the default rule.

        ``predict`` and ``figure`` group a recording's stimuli into blocks with it when no
        ``--blocks`` is given.

        Raises
        ------
        ValueError
            ``extra["block_rule"]`` is not a stored rule (an edited bundle).
        """
        stored = self.extra.get("block_rule")
        return None if not stored else BlockRule.from_dict(stored)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities for the model's input features.

        Parameters
        ----------
        features : np.ndarray
            The model's input (:func:`rtdecode.models.serving.model_input`): TFDs
            ``(n, n_channels, n_time, n_freqs)`` for the student, standardized epochs
            ``(n, n_samples, n_channels)`` for the others. One example without the leading axis
            gives one row.

        Returns
        -------
        np.ndarray, shape (n, n_classes) or (n_classes,)
        """
        import torch

        x = np.asarray(features, dtype=np.float32)
        spec = self.spec
        single = x.ndim == len(spec.view.layout)
        if spec.weights == "arrays":
            proba = self.model.predict_proba(x[None] if single else x)
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
    spec = bundle.spec
    # Serialized in memory and written like every other output (mode from the umask, 0644
    # usually; safetensors' save_file makes 0600), through a temporary name so that a crash
    # never leaves half a bundle under the real names.
    if spec.weights == "tensors":
        state = {k: v.detach().cpu().contiguous() for k, v in bundle.model.state_dict().items()}
        _write_atomic(folder / WEIGHTS_FILE, safetensors.torch.save(state))
        model_config = bundle.model_config.to_dict()
    else:
        arrays = {k: np.ascontiguousarray(v) for k, v in bundle.model.arrays.items()}
        _write_atomic(folder / WEIGHTS_FILE, safetensors.numpy.save(arrays))
        model_config = bundle.model.config()
    meta = {
        "format": BUNDLE_FORMAT,
        "architecture": spec.name,
        "model_config": model_config,
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

    # Format 1 bundles (the student's) may lack the architecture; formats 1-2 call its config "student_config".
    architecture = meta.get("architecture", registry.PAPER_MODEL)
    config_key = "model_config" if "model_config" in meta else "student_config"
    try:
        model, model_config = _load_model(architecture, meta[config_key], weights_path)
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
            model_config=model_config,
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
    spec = registry.find(architecture)
    if spec is None or not spec.servable:
        raise UnknownArchitecture(
            f"unknown model architecture {architecture!r}; this program serves "
            f"{[s.name for s in registry.servable()]} (older names: "
            f"{[a for s in registry.servable() for a in s.aliases]})"
        )
    if spec.weights == "tensors":
        import safetensors.torch

        model_config = spec.config_class().from_dict(config)
        model = spec.build(model_config)
        model.load_state_dict(safetensors.torch.load_file(str(weights_path)))
        return model.eval(), model_config
    import safetensors.numpy

    arrays = safetensors.numpy.load_file(str(weights_path))
    return spec.classical_class().from_bundle(config, arrays), None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in bundle.json")
