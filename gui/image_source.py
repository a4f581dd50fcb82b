"""Where the window's image comes from: the engine's ImageService, or an exemplar fallback.

:class:`rtdecode.reconstruct.ImageService` owns the diffusion pipeline and its cache. When that
module cannot be imported (an install without it), :class:`ExemplarImageService` offers the same
small interface and shows a calibration image of the predicted class instead, so the window
works the same either way and says which source it shows.
"""

from __future__ import annotations

import csv
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

PLACEHOLDER_SIZE = 256


@dataclass
class ExemplarImage:
    """The fields of :class:`rtdecode.reconstruct.GeneratedImage` the window reads.

    Attributes
    ----------
    class_name : str
    image : np.ndarray, shape (height, width, 3), uint8
    source : str
        ``"exemplar"`` or ``"placeholder"``.
    prompt : str
    seconds : float
        Time it took to produce.
    """

    class_name: str
    image: np.ndarray
    source: str
    prompt: str = ""
    seconds: float = 0.0


def find_exemplar_dir(start: str | Path | None) -> Path | None:
    """The folder holding ``images.tsv`` at or near ``start`` (a folder, or a bundle inside a run).

    Looks at ``start``, its parent and grandparent, and their ``stimuli/`` subfolders: the
    layouts ``SimulatedSubject.write_images`` and the calibration presenter write.
    """
    if start is None:
        return None
    start = Path(start)
    for folder in (start, start.parent, start.parent.parent):
        for candidate in (folder, folder / "stimuli"):
            if (candidate / "images.tsv").is_file():
                return candidate
    return None


def read_image_index(folder: str | Path) -> dict[str, list[Path]]:
    """Image files per class name from ``folder/images.tsv`` (columns image_id, label, class_name).

    Images listed in the index but missing on disk are skipped.
    """
    folder = Path(folder)
    out: dict[str, list[Path]] = {}
    with (folder / "images.tsv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            path = folder / (row.get("file") or f"images/{row['image_id']}.png")
            if path.is_file():
                out.setdefault(row["class_name"], []).append(path)
    return out


class ExemplarImageService:
    """An image per requested class from the calibration images, made in a worker thread.

    Same interface as :class:`rtdecode.reconstruct.ImageService` (``start``, ``stop``,
    ``request``, ``status``, ``dropped``, ``produced``); ``on_image`` is called in the worker.

    Parameters
    ----------
    class_names : list of str
    exemplar_dir : path, optional
        A folder with ``images.tsv`` and the images; without one every image is a placeholder.
    on_image : callable, optional
        Receives each :class:`ExemplarImage`.
    """

    def __init__(
        self,
        class_names: list[str],
        exemplar_dir: str | Path | None = None,
        on_image: Callable[[ExemplarImage], None] | None = None,
    ) -> None:
        self.class_names = list(class_names)
        self.exemplar_dir = Path(exemplar_dir) if exemplar_dir is not None else None
        self.on_image = on_image
        self.dropped = 0
        self.produced = 0
        # One slot: a newer request replaces an older one still waiting (only the latest matters).
        self._requests: queue.Queue[str | None] = queue.Queue(maxsize=1)
        self._thread: threading.Thread | None = None
        self._index: dict[str, list[Path]] = {}
        self._cache: dict[str, ExemplarImage] = {}

    def start(self) -> ExemplarImageService:
        if self.exemplar_dir is not None:
            try:
                self._index = read_image_index(self.exemplar_dir)
            except (OSError, KeyError, csv.Error) as error:
                log.warning("cannot read exemplar images from %s: %s", self.exemplar_dir, error)
        self._thread = threading.Thread(target=self._run, name="exemplar-images", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        if self._thread is None:
            return
        self._put(None)
        self._thread.join(timeout)

    def request(self, class_name: str) -> None:
        """Ask for an image of ``class_name``; returns at once."""
        self._put(class_name)

    def status(self) -> str:
        where = f"exemplars from {self.exemplar_dir}" if self._index else "placeholders (no exemplar images)"
        return f"no image generator: {where}; {self.produced} shown, {self.dropped} superseded"

    def _put(self, item: str | None) -> None:
        while True:
            try:
                self._requests.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._requests.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def _run(self) -> None:
        while (class_name := self._requests.get()) is not None:
            try:
                image = self._cache.get(class_name) or self._make(class_name)
                self._cache[class_name] = image
                self.produced += 1
                if self.on_image is not None:
                    self.on_image(image)
            except Exception:  # an unreadable file must not end the image thread
                log.exception("could not produce an image for %r", class_name)

    def _make(self, class_name: str) -> ExemplarImage:
        from PIL import Image

        started = time.perf_counter()
        paths = self._index.get(class_name, [])
        if paths:
            with Image.open(paths[0]) as img:
                array = np.asarray(img.convert("RGB"))
            return ExemplarImage(class_name, array, "exemplar", "", time.perf_counter() - started)
        return ExemplarImage(class_name, placeholder_image(class_name), "placeholder", "", 0.0)


def placeholder_image(class_name: str, size: int = PLACEHOLDER_SIZE) -> np.ndarray:
    """A plain tile whose colour is fixed by the class name, shape ``(size, size, 3)``, uint8."""
    rng = np.random.default_rng(sum(ord(c) for c in class_name))
    colour = rng.integers(90, 200, size=3)
    y = np.linspace(0.8, 1.1, size)[:, None, None]
    return np.clip(colour[None, None, :] * y * np.ones((size, size, 1)), 0, 255).astype(np.uint8)


def cache_dir_for(model_dir: str | Path) -> Path | None:
    """The bundle's per-class image cache (``rtdecode pregenerate`` fills it), if the engine has one."""
    try:
        from rtdecode.reconstruct import default_cache_dir
    except ImportError:
        return None
    return default_cache_dir(model_dir)


def make_image_service(
    class_names: list[str],
    exemplar_dir: str | Path | None,
    on_image: Callable[[object], None],
    generator=None,
    cache_dir: str | Path | None = None,
) -> tuple[object, str]:
    """The engine's ImageService when available, else :class:`ExemplarImageService`.

    Returns
    -------
    service : object
        Not started.
    note : str
        A sentence for the window about where images come from.
    """
    try:
        from rtdecode.reconstruct import ImageService
    except ImportError as error:
        log.info("rtdecode.reconstruct unavailable (%s); showing exemplar images", error)
        service = ExemplarImageService(class_names, exemplar_dir, on_image)
        return service, "image generation is not installed: showing calibration exemplars"
    service = ImageService(
        class_names,
        generator=generator,
        cache_dir=cache_dir,
        exemplar_dir=exemplar_dir,
        on_image=on_image,
    )
    if generator is None:
        return service, "no diffusion weights loaded: showing calibration exemplars (or cached images)"
    return service, "images generated by the diffusion model"
