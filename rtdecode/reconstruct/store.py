"""Per-class image cache on disk: PNG files plus a JSON index, filled before a session or live.

Layout of a cache folder (by default ``MODEL_DIR/images/`` next to the model bundle)::

    index.json                      {"format": 1, "images": [entry, ...]}
    <class slug>/seed-000000.png    one image, (H, W, 3) RGB

Each index entry holds ``class_name``, ``label`` (human-readable name), ``file`` (relative to the
folder), ``prompt``, ``seed``, ``steps``, ``guidance``, ``height``, ``width``, ``pipeline`` (where the
weights came from), ``model``, ``dtype``, ``seconds`` (generation time) and ``created`` (UTC ISO).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.reconstruct.names import display_name, file_slug

log = logging.getLogger(__name__)

INDEX_FILE = "index.json"
CACHE_FORMAT = 1
DEFAULT_CACHE_SUBDIR = "images"
_DECODED_LIMIT = 128  # decoded images kept in memory (about 100 MB at 512 x 512)


@dataclass(frozen=True)
class CacheEntry:
    """One cached image and how it was made (see the module docstring for the fields)."""

    class_name: str
    file: str | None
    prompt: str
    seed: int
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "class_name": self.class_name,
            "label": display_name(self.class_name),
            "file": self.file,
            "prompt": self.prompt,
            "seed": self.seed,
            **self.info,
        }

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> CacheEntry:
        known = {"class_name", "label", "file", "prompt", "seed"}
        return cls(
            class_name=str(record["class_name"]),
            file=record.get("file"),
            prompt=str(record.get("prompt", "")),
            seed=int(record.get("seed", 0)),
            info={k: v for k, v in record.items() if k not in known},
        )


def default_cache_dir(model_dir: str | Path) -> Path:
    """Where a bundle's pre-generated images live: ``MODEL_DIR/images``."""
    return Path(model_dir) / DEFAULT_CACHE_SUBDIR


class ImageCache:
    """Images per class, on disk (``folder``) or only in memory (``folder=None``); thread-safe.

    Parameters
    ----------
    folder : str or Path, optional
        Created on the first :meth:`add`. An unreadable index is set aside (renamed
        ``index.json.bad``) when the first image is added, and the cache starts empty.
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self._lock = threading.Lock()
        self._entries: list[CacheEntry] = []
        self._memory: dict[tuple[str, int], np.ndarray] = {}  # (class, seed) -> pixels, for folder=None
        self._decoded: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bad_index = False
        if self.folder is not None:
            self._entries = self._read_index()

    def _read_index(self) -> list[CacheEntry]:
        path = self.folder / INDEX_FILE
        if not path.exists():
            return []
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = [CacheEntry.from_json(r) for r in data["images"]]
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("ignoring the unreadable image cache index %s (%s); it starts empty", path, error)
            self._bad_index = True
            return []
        if int(data.get("format", 0)) > CACHE_FORMAT:
            log.warning("%s was written by a newer rtdecode (format %s); ignoring it", path, data["format"])
            self._bad_index = True
            return []
        present = [e for e in entries if e.file and (self.folder / e.file).exists()]
        if len(present) < len(entries):
            log.warning(
                "%d images listed in %s are missing; skipping them", len(entries) - len(present), path
            )
        return present

    def entries(self, class_name: str | None = None) -> list[CacheEntry]:
        """Entries of one class (or all), in the order they were added."""
        with self._lock:
            return [e for e in self._entries if class_name is None or e.class_name == class_name]

    def classes(self) -> set[str]:
        with self._lock:
            return {e.class_name for e in self._entries}

    def has(self, class_name: str) -> bool:
        with self._lock:
            return any(e.class_name == class_name for e in self._entries)

    def find(self, class_name: str, seed: int, info: dict[str, Any] | None = None) -> CacheEntry | None:
        """The entry of ``class_name`` with ``seed`` whose recorded settings include ``info``."""
        for entry in self.entries(class_name):
            if entry.seed == seed and all(entry.info.get(k) == v for k, v in (info or {}).items()):
                return entry
        return None

    def load(self, entry: CacheEntry) -> np.ndarray:
        """The pixels of an entry, ``(H, W, 3)`` uint8, a copy the caller may change (decoded PNGs
        are kept in a small LRU)."""
        if entry.file is None:
            with self._lock:
                return self._memory[(entry.class_name, entry.seed)].copy()
        with self._lock:
            if entry.file in self._decoded:
                self._decoded.move_to_end(entry.file)
                return self._decoded[entry.file].copy()
        from PIL import Image

        with Image.open(self.folder / entry.file) as image:
            pixels = np.asarray(image.convert("RGB"))
        with self._lock:
            self._decoded[entry.file] = pixels
            while len(self._decoded) > _DECODED_LIMIT:
                self._decoded.popitem(last=False)
        return pixels.copy()

    def add(
        self, class_name: str, image: np.ndarray, prompt: str, seed: int, info: dict[str, Any] | None = None
    ) -> CacheEntry:
        """Store an image ``(H, W, 3)`` uint8 (replacing the one with the same class and seed)."""
        pixels = np.array(image, dtype=np.uint8, copy=True)  # the caller keeps and may change its own
        info = {**(info or {}), "created": datetime.now(UTC).isoformat(timespec="seconds")}
        if self.folder is None:
            entry = CacheEntry(class_name, None, prompt, int(seed), info)
            with self._lock:
                self._entries = [
                    e for e in self._entries if not (e.class_name == class_name and e.seed == seed)
                ]
                self._entries.append(entry)
                self._memory[(class_name, int(seed))] = pixels
            return entry
        from PIL import Image

        relative = f"{file_slug(class_name)}/seed-{int(seed):06d}.png"
        target = self.folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".tmp.png")
        Image.fromarray(pixels).save(partial)
        os.replace(partial, target)  # a reader never sees half a PNG
        entry = CacheEntry(class_name, relative, prompt, int(seed), info)
        with self._lock:
            self._entries = [e for e in self._entries if e.file != relative]
            self._entries.append(entry)
            self._decoded[relative] = pixels
            self._write_index()
        return entry

    def _write_index(self) -> None:
        path = self.folder / INDEX_FILE
        if self._bad_index and path.exists():
            os.replace(path, path.with_name(INDEX_FILE + ".bad"))
            self._bad_index = False
        data = {"format": CACHE_FORMAT, "images": [e.to_json() for e in self._entries]}
        partial = path.with_name(INDEX_FILE + ".tmp")
        partial.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(partial, path)


def pregenerate(
    class_names: list[str],
    generator: Any,
    cache_dir: str | Path,
    per_class: int = 1,
    progress: bool | None = None,
) -> tuple[ImageCache, int]:
    """Generate ``per_class`` images for every class into the cache, before a session.

    Seeds are ``generator.seed + k`` for the k-th image of a class. Images already in the cache
    with the same seed and settings are kept, so an interrupted run resumes where it stopped.

    Parameters
    ----------
    class_names : list of str
    generator : Generator
    cache_dir : str or Path
    per_class : int
    progress : bool, optional
        tqdm bar (default: when stderr is a terminal).

    Returns
    -------
    (ImageCache, int)
        The cache and how many images were generated now.
    """
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    from tqdm import tqdm

    cache = ImageCache(cache_dir)
    info = generator.index_fields()
    jobs = [(c, generator.seed + k) for c in class_names for k in range(per_class)]
    todo = [(c, s) for c, s in jobs if cache.find(c, s, info) is None]
    if len(todo) < len(jobs):
        log.info("%d of %d images already in %s", len(jobs) - len(todo), len(jobs), cache_dir)
    bar = tqdm(todo, desc="images", unit="img", disable=None if progress is None else not progress)
    for class_name, seed in bar:
        started = time.perf_counter()
        image = generator.generate(class_name, seed)
        seconds = time.perf_counter() - started
        cache.add(
            class_name, image, generator.prompt(class_name), seed, {**info, "seconds": round(seconds, 4)}
        )
    return cache, len(todo)
