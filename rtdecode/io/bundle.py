"""The model bundle: everything live decoding needs, in one folder, with no pickle.

A bundle folder holds

- ``model.safetensors``: the student's weights;
- ``bundle.json``: format version, student architecture, class names, channel names, sampling
  rate, the exact :class:`~rtdecode.config.PipelineConfig`, the standardization statistics,
  training metrics and the software versions that made it.

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

BUNDLE_FORMAT = 1
WEIGHTS_FILE = "model.safetensors"
META_FILE = "bundle.json"


@dataclass
class ModelBundle:
    """A trained subject-specific decoder and how to feed it.

    Attributes
    ----------
    model : torch.nn.Module
        The student in evaluation mode (on the CPU after loading; move it with ``.to``).
    student_config : StudentConfig
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

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities for TFD features.

        Parameters
        ----------
        features : np.ndarray, shape (n, n_channels, n_time, n_freqs) or (n_channels, n_time, n_freqs)

        Returns
        -------
        np.ndarray, shape (n, n_classes) or (n_classes,), float32
        """
        import torch

        x = np.asarray(features, dtype=np.float32)
        single = x.ndim == 3
        device = next(self.model.parameters()).device
        with torch.no_grad():
            self.model.eval()
            logits = self.model(torch.as_tensor(x[None] if single else x, device=device))
            proba = torch.softmax(logits, dim=1).cpu().numpy()
        return proba[0] if single else proba


def save_bundle(bundle: ModelBundle, folder: str | Path) -> Path:
    """Write ``bundle`` into ``folder`` (created if needed); returns the folder."""
    import safetensors.torch
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in bundle.model.state_dict().items()}
    # Serialized in memory and written like every other output (mode from the umask, 0644
    # usually; safetensors' save_file makes 0600), through a temporary name so that a crash
    # never leaves half a bundle under the real names.
    _write_atomic(folder / WEIGHTS_FILE, safetensors.torch.save(state))
    meta = {
        "format": BUNDLE_FORMAT,
        "architecture": "StudentCNN",
        "student_config": bundle.student_config.to_dict(),
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
        When the folder is not a bundle, or its format is newer than this program.
    """
    import safetensors.torch

    from rtdecode.models.student import StudentCNN, StudentConfig

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
        raise ValueError(f"{meta_path} is not valid JSON ({error}); {damaged}") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{meta_path} holds no JSON object; {damaged}")
    if int(meta.get("format", 0)) > BUNDLE_FORMAT:
        raise ValueError(
            f"{folder} was written by a newer rtdecode (bundle format {meta['format']}, "
            f"this program reads up to {BUNDLE_FORMAT}); upgrade rtdecode"
        )
    try:
        state = safetensors.torch.load_file(str(weights_path))
    except Exception as error:  # safetensors raises its own SafetensorError (and OSError)
        raise ValueError(f"{weights_path} cannot be read ({_first_line(error)}); {damaged}") from None
    try:
        student_config = StudentConfig.from_dict(meta["student_config"])
        model = StudentCNN(student_config)
        model.load_state_dict(state)
        model.eval()
        return ModelBundle(
            model=model,
            student_config=student_config,
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
    except (RuntimeError, TypeError, ValueError) as error:
        # E.g. student_config edited by hand: the weights no longer fit the network it describes.
        raise ValueError(
            f"{folder}: {META_FILE} does not agree with {WEIGHTS_FILE} ({_first_line(error)}); {damaged}"
        ) from None


def _first_line(error: BaseException) -> str:
    # torch's load_state_dict error: a header line, then one line per mismatched tensor.
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if lines and lines[0].startswith("Error(s) in loading state_dict"):
        lines = lines[1:]
    return " ".join(lines[:2]).rstrip(".")[:300] if lines else type(error).__name__


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in bundle.json")
