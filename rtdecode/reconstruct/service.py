"""The image service: an image for every predicted class, never in the way of decoding.

Two threads, each with one job (DESIGN: threads with one owner each):

- the **service thread** (``"images"``) takes requests and answers those it can answer at once,
  from the per-class cache or the calibration exemplars (milliseconds: a PNG read);
- the **generation thread** (``"diffusion"``) owns the pipeline and generates the rest.

Both take work from one-item slots that keep only the newest request: when predictions come
faster than images, older requests are dropped (``dropped`` counts them), never queued. A request
for a cached class is answered by the service thread even while a generation is in progress. Every
request carries a sequence number and an image is delivered only if no newer request has been
delivered already, so the display never goes back to a stale class; a finished but stale
generation is still kept in the cache. Once idle, ``produced + dropped`` equals the number of
accepted requests.
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.reconstruct.exemplars import ExemplarSource, placeholder_image
from rtdecode.reconstruct.names import name_key
from rtdecode.reconstruct.store import ImageCache
from rtdecode.worker import BackgroundWorker

log = logging.getLogger(__name__)

SOURCES = ("generated", "cache", "exemplar", "placeholder")


@dataclass
class GeneratedImage:
    """An image for one class, ready to show.

    Attributes
    ----------
    class_name : str
        The class it was made for (a name from the model bundle).
    image : np.ndarray, shape (H, W, 3), uint8
    source : str
        ``"generated"`` (just now), ``"cache"`` (generated earlier), ``"exemplar"`` (a calibration
        stimulus of the class: no diffusion weights) or ``"placeholder"`` (nothing to show).
    prompt : str or None
        The text prompt (generated and cached images).
    seconds : float
        Time it took to produce (generation, or reading the file).
    seed : int or None
        The diffusion seed (generated and cached images).
    """

    class_name: str
    image: np.ndarray = field(repr=False)
    source: str
    prompt: str | None
    seconds: float
    seed: int | None = None


class ImageSources:
    """Synchronous lookup of an image for a class: cache, generation, exemplar, placeholder.

    Shared by :class:`ImageService` (which calls the parts from its threads) and by the offline
    users (the reconstruction figure).

    Parameters
    ----------
    generator : Generator or None
    cache : ImageCache
        Generated images are added here (the first one of each class).
    exemplars : ExemplarSource or None
    placeholder_size : (height, width)
    """

    def __init__(
        self,
        generator: Any = None,
        cache: ImageCache | None = None,
        exemplars: ExemplarSource | None = None,
        placeholder_size: tuple[int, int] = (256, 256),
    ) -> None:
        self.generator = generator
        self.cache = cache if cache is not None else ImageCache(None)
        self.exemplars = exemplars
        self.placeholder_size = placeholder_size

    def cached(self, class_name: str, rng: np.random.Generator | None = None) -> GeneratedImage | None:
        """The class's first cached image (a random one with ``rng``), or None."""
        entries = self.cache.entries(class_name)
        if not entries:
            return None
        entry = entries[int(rng.integers(len(entries)))] if rng is not None else entries[0]
        started = time.perf_counter()
        try:
            pixels = self.cache.load(entry)
        except OSError as error:
            log.warning("cannot read cached image %s (%s)", entry.file, error)
            return None
        return GeneratedImage(
            class_name, pixels, "cache", entry.prompt, time.perf_counter() - started, entry.seed
        )

    def fallback(
        self, class_name: str, rng: np.random.Generator | None = None, note: str = "no image"
    ) -> GeneratedImage:
        """A calibration exemplar of the class (a random one with ``rng``), else a placeholder."""
        started = time.perf_counter()
        if self.exemplars is not None:
            try:
                pixels = self.exemplars.image(class_name, rng)
            except OSError as error:
                log.warning("cannot read the exemplar of %r (%s)", class_name, error)
                pixels = None
            if pixels is not None:
                return GeneratedImage(class_name, pixels, "exemplar", None, time.perf_counter() - started)
        pixels = placeholder_image(class_name, self.placeholder_size, note)
        return GeneratedImage(class_name, pixels, "placeholder", None, time.perf_counter() - started)

    def generate(
        self, class_name: str, seed: int | None = None, should_stop: Callable[[], bool] | None = None
    ) -> GeneratedImage:
        """Generate an image now; the class's first generated image is added to the cache."""
        if self.generator is None:
            raise RuntimeError("no generator configured")
        seed = self.generator.seed if seed is None else int(seed)
        started = time.perf_counter()
        pixels = self.generator.generate(class_name, seed, should_stop=should_stop)
        seconds = time.perf_counter() - started
        prompt = self.generator.prompt(class_name)
        if not self.cache.has(class_name):
            try:
                info = {**self.generator.index_fields(), "seconds": round(seconds, 4)}
                self.cache.add(class_name, pixels, prompt, seed, info)
            except OSError as error:  # a full disk must not cost the image
                log.warning("cannot store the image of %r in the cache: %s", class_name, error)
        return GeneratedImage(class_name, pixels, "generated", prompt, seconds, seed)

    def get(
        self, class_name: str, variety: bool = False, rng: np.random.Generator | None = None
    ) -> GeneratedImage:
        """Blocking: cached image, else a generated one (when a generator is set), else the fallback.

        With ``variety`` and a generator, a new image with a new seed is generated even if cached;
        without a generator, a random cached image or exemplar is picked.
        """
        rng = rng if rng is not None else np.random.default_rng()
        if self.generator is None or not variety:
            hit = self.cached(class_name, rng if variety else None)
            if hit is not None:
                return hit
        if self.generator is None:
            return self.fallback(class_name, rng if variety else None)
        try:
            return self.generate(class_name, self.next_seed(class_name, variety, rng))
        except InterruptedError:
            raise
        except Exception:
            log.exception("generating an image of %r failed; showing the fallback", class_name)
            return self.fallback(class_name, None, "generation failed")

    def next_seed(self, class_name: str, variety: bool, rng: np.random.Generator) -> int:
        """The settings' seed for a class's first image; a random one for variety."""
        if variety:
            return int(rng.integers(0, 2**31 - 1))
        return int(self.generator.seed)


class _LatestSlot:
    """A queue of length one: putting replaces (and returns) what was waiting."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Any = None
        self._busy = False

    def put(self, item: Any) -> Any:
        with self._cond:
            replaced, self._item = self._item, item
            self._cond.notify_all()
            return replaced

    def get(self, timeout: float) -> Any:
        """The waiting item (marking the slot busy until :meth:`done`), or None after ``timeout``."""
        with self._cond:
            if self._item is None:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            self._busy = item is not None
            return item

    def done(self) -> None:
        with self._cond:
            self._busy = False
            self._cond.notify_all()

    def idle(self) -> bool:
        with self._cond:
            return self._item is None and not self._busy

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


class _GenerationThread(BackgroundWorker):
    """The thread that owns the diffusion pipeline of an :class:`ImageService`."""

    def __init__(self, service: ImageService, warmup: bool, nice: int) -> None:
        super().__init__("diffusion")
        self.service = service
        self.warmup = warmup
        self.nice = nice
        self.ready = threading.Event()

    def start(self) -> _GenerationThread:
        self._start_thread()
        return self

    def _run(self) -> None:
        generator = self.service.sources.generator
        if self.nice and str(getattr(generator, "device", "")).startswith("cpu"):
            _lower_thread_priority(self.nice)
        if self.warmup:
            try:
                log.info("diffusion warm-up took %.2f s", self.service.sources.generator.warmup())
            except Exception:
                log.exception("diffusion warm-up failed; the first image will be slow or fail")
        self.ready.set()
        while not self._stop.is_set():
            item = self.service._generation.get(timeout=0.1)
            if item is None:
                continue
            try:
                self.service._generate(*item, should_stop=self._stop.is_set)
            finally:
                self.service._generation.done()


class ImageService(BackgroundWorker):
    """Images for predicted classes, produced in worker threads (see the module docstring).

    Parameters
    ----------
    class_names : list of str
        The model bundle's classes; requests for anything else are logged and ignored.
    generator : Generator, optional
        A loaded pipeline; None shows cached images and calibration exemplars instead.
    cache_dir : str or Path, optional
        Per-class image cache (e.g. ``MODEL_DIR/images`` filled by ``rtdecode pregenerate``).
        Generated images are added to it. None: an in-memory cache for this session.
    exemplar_dir : str or Path, optional
        Calibration stimuli (see :mod:`rtdecode.reconstruct.exemplars`), shown without weights and
        when generation fails.
    on_image : callable, optional
        Called with every :class:`GeneratedImage`, from one of the service's threads (never the
        caller of :meth:`request`), one call at a time. A GUI marshals it to its own thread.
    variety : bool
        Generate a new image with a new seed even for cached classes (without a generator:
        a random cached image or exemplar). May be changed while running.
    placeholder_size : (height, width)
        Size of placeholder images (default: the generator's size, else 256 x 256).
    warmup : bool
        Generate one throw-away image when the generation thread starts.
    nice : int
        On the CPU (Linux), the generation thread and the compute threads it starts run at this
        niceness, so that the decoder keeps its share of the cores. 0 leaves it alone.
    """

    def __init__(
        self,
        class_names: list[str],
        generator: Any = None,
        cache_dir: str | Path | None = None,
        exemplar_dir: str | Path | None = None,
        on_image: Callable[[GeneratedImage], None] | None = None,
        variety: bool = False,
        *,
        placeholder_size: tuple[int, int] | None = None,
        warmup: bool = True,
        nice: int = 10,
    ) -> None:
        super().__init__("images")
        self.class_names = list(class_names)
        self._aliases = {name_key(c): c for c in self.class_names}
        self._aliases.update({c: c for c in self.class_names})
        self.on_image = on_image
        self.variety = variety
        if placeholder_size is None:
            placeholder_size = (
                (generator.settings.height, generator.settings.width) if generator is not None else (256, 256)
            )
        self.sources = ImageSources(
            generator, ImageCache(cache_dir), _exemplars(exemplar_dir, class_names), placeholder_size
        )
        self.produced = 0
        self.dropped = 0
        self.requested = 0
        self.failed = 0
        self.latest: GeneratedImage | None = None
        self._rng = np.random.default_rng()
        self._sequence = itertools.count()
        self._last_delivered = -1
        self._count_lock = threading.Lock()
        self._deliver_lock = threading.Lock()
        self._intake = _LatestSlot()
        self._generation = _LatestSlot()
        self._unknown: set[str] = set()
        self._generation_thread = _GenerationThread(self, warmup, nice) if generator is not None else None

    # Public ------------------------------------------------------------------------------------

    @property
    def generator(self) -> Any:
        return self.sources.generator

    def start(self) -> ImageService:
        """Start the service thread (and the generation thread when there is a generator)."""
        if self._generation_thread is not None:
            self._generation_thread.start()
        self._start_thread()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop both threads; a generation in progress skips its remaining steps."""
        self._stop.set()
        self._intake.wake()
        if self._generation_thread is not None:
            self._generation_thread.stop(timeout)
        super().stop(timeout)

    def request(self, class_name: str) -> None:
        """Ask for an image of a class; returns at once. Unknown classes are logged and ignored;
        a request still waiting when a newer one arrives is dropped."""
        name = self._aliases.get(class_name) or self._aliases.get(name_key(str(class_name)))
        if name is None:
            if class_name not in self._unknown:  # once per name: predictions repeat several times a second
                self._unknown.add(class_name)
                log.warning(
                    "no image for unknown class %r (not among the model's %d classes)",
                    class_name,
                    len(self.class_names),
                )
            return
        with self._count_lock:
            self.requested += 1
            seq = next(self._sequence)
        if self._intake.put((seq, name)) is not None:
            self._count_drop()

    def status(self) -> str:
        """One line for a status bar, e.g. ``"diffusion: sd-turbo on cuda"``."""
        cache = self.sources.cache
        cached = len(cache.classes() & set(self.class_names))
        cache_note = f", cache {cached}/{len(self.class_names)} classes" if cache.folder is not None else ""
        if self.generator is not None:
            s = self.generator.settings
            return (
                f"diffusion: {self.generator.describe()} ({s.steps} step{'s' if s.steps != 1 else ''}, "
                f"{s.width}x{s.height}){cache_note}"
            )
        exemplars = self.sources.exemplars
        if exemplars is not None and exemplars.classes():
            more = f"; cached images for {cached} classes" if cached else ""
            return f"no diffusion weights: showing calibration exemplars{more}"
        if cached:
            return f"no diffusion weights: showing cached images ({cached}/{len(self.class_names)} classes), placeholders otherwise"
        return "no diffusion weights and no exemplar images: showing placeholders"

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every request has been answered or dropped; True if so within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._intake.idle() and self._generation.idle():
                return True
            time.sleep(0.005)
        return False

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Wait for the generation thread's warm-up; True at once without a generator."""
        thread = self._generation_thread
        return thread is None or thread.ready.wait(timeout)

    # Threads -----------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._intake.get(timeout=0.1)
            if item is None:
                continue
            try:
                self._answer(*item)
            except Exception:  # one bad file must not end the session's images
                log.exception("answering an image request failed")
                self._count_drop()
            finally:
                self._intake.done()

    def _answer(self, seq: int, class_name: str) -> None:
        variety = self.variety
        rng = self._rng if variety else None
        if self.generator is None:
            image = self.sources.cached(class_name, rng) or self.sources.fallback(class_name, rng)
            self._deliver(seq, image)
            return
        if not variety:
            hit = self.sources.cached(class_name)
            if hit is not None:
                self._deliver(seq, hit)
                return
        if self._generation.put((seq, class_name)) is not None:
            self._count_drop()

    def _generate(self, seq: int, class_name: str, should_stop: Callable[[], bool]) -> None:
        if seq < self._last_delivered:  # a newer request has been shown meanwhile
            self._count_drop()
            return
        variety = self.variety
        if not variety:
            hit = self.sources.cached(class_name)  # generated while this request waited
            if hit is not None:
                self._deliver(seq, hit)
                return
        try:
            image = self.sources.generate(
                class_name, self.sources.next_seed(class_name, variety, self._rng), should_stop
            )
        except InterruptedError:
            self._count_drop()
            return
        except Exception:
            log.exception("generating an image of %r failed; showing the fallback", class_name)
            with self._count_lock:
                self.failed += 1
            image = self.sources.fallback(class_name, None, "generation failed")
        self._deliver(seq, image)

    def _deliver(self, seq: int, image: GeneratedImage) -> None:
        with self._deliver_lock:
            if seq < self._last_delivered:
                self._count_drop()
                return
            self._last_delivered = seq
            with self._count_lock:
                self.produced += 1
            self.latest = image
            if self.on_image is not None:
                try:
                    self.on_image(image)
                except Exception:
                    log.exception("the on_image callback failed")

    def _count_drop(self) -> None:
        with self._count_lock:
            self.dropped += 1


def _lower_thread_priority(nice: int) -> None:
    """Make the calling thread (and the compute threads it starts later, which inherit it) yield
    the CPU to the decoder: on Linux, niceness is per thread."""
    if not sys.platform.startswith("linux"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except OSError as error:
        log.debug("cannot lower the generation thread's priority: %s", error)


def _exemplars(folder: str | Path | None, class_names: list[str]) -> ExemplarSource | None:
    if folder is None:
        return None
    try:
        return ExemplarSource.from_folder(folder, class_names)
    except (ValueError, OSError) as error:  # a missing folder must not stop a live session
        log.warning("no exemplars: %s", error)
        return None
