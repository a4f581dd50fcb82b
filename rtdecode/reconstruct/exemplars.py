"""Stimulus exemplars: what is shown when no diffusion weights are configured.

An exemplar folder is one of

- a **calibration image folder** as the simulator writes it: ``images.tsv`` (columns ``image_id``,
  ``label``, ``class_name``, ``super_category``, ``file``; ``file`` relative to the folder) next to
  ``images/<image_id>.png``. The folder itself or its ``images/`` subfolder may be given;
- a folder with **one subfolder per class**, named by the class name (or its WordNet id);
- a **flat folder** of files ``<class>_<n>.<ext>``, e.g. ImageNet's ``n02389026_3045.JPEG``.

Rows are matched to the bundle's classes by name (case-insensitive; WordNet ids and their names are
interchangeable); a ``label`` index is used when the name is unknown. When nothing matches, a gray
placeholder with the class name is drawn instead.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.reconstruct.names import display_name, name_key

log = logging.getLogger(__name__)

INDEX_NAME = "images.tsv"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


class ExemplarSource:
    """Exemplar images per class.

    Parameters
    ----------
    files : dict of str to list of Path
        Image files per class name (the bundle's names), in a stable order.
    image_ids : dict of str to Path, optional
        Image id (as in stimulus markers) -> file.
    folder : Path, optional
        Where they came from (for messages).
    """

    def __init__(
        self,
        files: dict[str, list[Path]],
        image_ids: dict[str, Path] | None = None,
        folder: Path | None = None,
    ) -> None:
        self.files = {k: list(v) for k, v in files.items() if v}
        self.image_ids = dict(image_ids or {})
        self.folder = folder

    @classmethod
    def from_folder(cls, folder: str | Path, class_names: list[str]) -> ExemplarSource:
        """Index an exemplar folder (layouts in the module docstring) for these classes.

        Raises
        ------
        ValueError
            The folder does not exist.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise ValueError(
                f"exemplar folder {folder} does not exist; give the stimulus image folder of the "
                "calibration session (the one with images.tsv), or none"
            )
        index = _find_index(folder)
        if index is not None:
            files, ids = _from_index(index, class_names)
        else:
            files, ids = _from_layout(folder, class_names)
        source = cls(files, ids, folder)
        log.info("exemplars for %d of %d classes in %s", len(source.files), len(class_names), folder)
        return source

    def classes(self) -> set[str]:
        return set(self.files)

    def has(self, class_name: str) -> bool:
        return class_name in self.files

    def path(self, class_name: str, rng: np.random.Generator | None = None) -> Path | None:
        """The first exemplar of a class, or a random one with ``rng``; None if the class has none."""
        options = self.files.get(class_name)
        if not options:
            return None
        return options[int(rng.integers(len(options)))] if rng is not None else options[0]

    def image(self, class_name: str, rng: np.random.Generator | None = None) -> np.ndarray | None:
        """Pixels ``(H, W, 3)`` uint8 of :meth:`path`, or None."""
        path = self.path(class_name, rng)
        return read_rgb(path) if path is not None else None

    def image_for_id(self, image_id: str) -> np.ndarray | None:
        """The stimulus with this image id (as named in stimulus markers), or None."""
        path = self.image_ids.get(str(image_id))
        return read_rgb(path) if path is not None else None


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as ``(H, W, 3)`` uint8."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _find_index(folder: Path) -> Path | None:
    for candidate in (folder / INDEX_NAME, folder.parent / INDEX_NAME):
        if candidate.exists():
            return candidate
    return None


def _matcher(class_names: list[str]) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for name in class_names:
        lookup.setdefault(name_key(name), name)
        lookup.setdefault(name.lower(), name)
    return lookup


def _from_index(index: Path, class_names: list[str]) -> tuple[dict[str, list[Path]], dict[str, Path]]:
    lookup = _matcher(class_names)
    files: dict[str, list[Path]] = {}
    ids: dict[str, Path] = {}
    with index.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            image_id = (row.get("image_id") or "").strip()
            relative = (row.get("file") or "").strip() or f"images/{image_id}.png"
            path = index.parent / relative
            if not path.exists():
                continue
            class_name = _row_class(row, lookup, class_names)
            if image_id:
                ids[image_id] = path
            if class_name is not None:
                files.setdefault(class_name, []).append(path)
    return files, ids


def _row_class(row: dict[str, Any], lookup: dict[str, str], class_names: list[str]) -> str | None:
    name = (row.get("class_name") or "").strip()
    if name:
        match = lookup.get(name_key(name)) or lookup.get(name.lower())
        if match is not None:
            return match
    try:
        label = int(row.get("label", ""))
    except ValueError:
        return None
    return class_names[label] if 0 <= label < len(class_names) else None


def _from_layout(folder: Path, class_names: list[str]) -> tuple[dict[str, list[Path]], dict[str, Path]]:
    lookup = _matcher(class_names)
    files: dict[str, list[Path]] = {}
    ids: dict[str, Path] = {}
    for child in sorted(folder.iterdir()):
        if child.is_dir():
            match = lookup.get(name_key(child.name)) or lookup.get(child.name.lower())
            if match is not None:
                files.setdefault(match, []).extend(
                    p for p in sorted(child.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES
                )
        elif child.suffix.lower() in IMAGE_SUFFIXES:
            ids[child.stem] = child
            prefix = child.stem.rsplit("_", 1)[0]
            match = lookup.get(name_key(prefix)) or lookup.get(prefix.lower())
            if match is not None:
                files.setdefault(match, []).append(child)
    return files, ids


def placeholder_image(
    class_name: str, size: tuple[int, int] = (256, 256), note: str = "no image"
) -> np.ndarray:
    """A plain gray image with the class name and a note, ``(height, width, 3)`` uint8."""
    from PIL import Image, ImageDraw, ImageFont

    height, width = size
    image = Image.new("RGB", (width, height), (128, 128, 128))
    draw = ImageDraw.Draw(image)
    try:
        font = ImageFont.load_default(size=max(10, width // 14))
    except TypeError:  # Pillow < 10.1 has one fixed-size default font
        font = ImageFont.load_default()
    text = f"{display_name(class_name)}\n({note})"
    draw.multiline_text(
        (width / 2, height / 2), text, fill=(235, 235, 235), font=font, anchor="mm", align="center"
    )
    return np.asarray(image)


def find_exemplar_dir(
    model_dir: str | Path | None = None,
    extra: dict[str, Any] | None = None,
    recording_path: str | Path | None = None,
    recording_metadata: dict[str, Any] | None = None,
) -> Path | None:
    """Where the calibration stimuli of a model are, if anything says so.

    Looks at the bundle's ``extra`` (``"image_dir"``, ``"images"`` or ``"exemplar_dir"``; relative
    paths are relative to the bundle folder), then at a recording's metadata ``"image_dir"``
    (relative to the recording file, as the simulator writes it). Returns the first that exists.
    """
    candidates: list[Path] = []
    for key in ("image_dir", "exemplar_dir", "images"):
        value = (extra or {}).get(key)
        if isinstance(value, str) and value:
            path = Path(value)
            candidates.append(path if path.is_absolute() or model_dir is None else Path(model_dir) / path)
    value = (recording_metadata or {}).get("image_dir")
    if isinstance(value, str) and value:
        path = Path(value)
        if not path.is_absolute() and recording_path is not None:
            path = Path(recording_path).parent / path
        candidates.append(path)
    return next((c for c in candidates if c.is_dir()), None)
