"""The simulated subject's visual world: latent features of classes and images, and the images.

Every image has a latent feature vector ``z = prototype[class] + variation[image]``; class
prototypes are drawn around the centre of their super-category (animals, vehicles, ...), so
classes of one super-category are closer to each other than to the rest. The same latent drives
the EEG evoked response (:mod:`rtdecode.sim.evoked`) and the image's appearance here, through
fixed linear maps: colours, shape, size, orientation, texture. An image classifier can therefore
tell the classes apart, and classes of one super-category look alike, as in ImageNet.

Everything is a pure function of the seed: the subject number does not enter here, because all
subjects see the same images.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtdecode.classes import SUPER_CATEGORIES, super_categories_for
from rtdecode.sim.seeds import TAG_APPEARANCE, TAG_CLASS, TAG_IMAGE, TAG_SUPER, seeded_rng

LATENT_DIM = 24
# Spread of the latent hierarchy per dimension: super-category centres, class offsets around
# them, image offsets around the class. Classes stay separable; one super-category clusters.
SUPER_SCALE = 1.0
CLASS_SCALE = 0.6
IMAGE_SCALE = 0.3

SHAPES: tuple[str, ...] = ("disk", "square", "triangle", "star", "cross")


def image_id(label: int, k: int) -> str:
    """Identifier of the ``k``-th image of class ``label``, e.g. ``img_0003_012``."""
    return f"img_{label:04d}_{k:03d}"


@dataclass(frozen=True)
class LatentSpace:
    """Latent features of every class and image of a simulation.

    Attributes
    ----------
    super_centres : np.ndarray, shape (n_super, latent_dim)
        Centre of each super-category, in the order of :data:`SUPER_CATEGORIES`.
    prototypes : np.ndarray, shape (n_classes, latent_dim)
        Class prototypes.
    image_latents : np.ndarray, shape (n_images, latent_dim)
        One vector per image, class-major (all images of class 0 first).
    image_labels : np.ndarray, shape (n_images,), int
        Class index of each image.
    image_ids : tuple of str
        Identifier of each image (:func:`image_id`).
    """

    super_centres: np.ndarray
    prototypes: np.ndarray
    image_latents: np.ndarray
    image_labels: np.ndarray
    image_ids: tuple[str, ...]


def make_latent_space(seed: int, n_classes: int, images_per_class: int) -> LatentSpace:
    """Draw the latent hierarchy.

    Each class and each image gets its own seed derived from its index, so the first classes and
    images of a small simulation are identical to those of the full 40 x 50 one.
    """
    if images_per_class < 1:
        raise ValueError(f"images_per_class must be at least 1, got {images_per_class}")
    supers = np.stack(
        [
            seeded_rng(seed, TAG_SUPER, s).normal(0.0, SUPER_SCALE, LATENT_DIM)
            for s in range(len(SUPER_CATEGORIES))
        ]
    )
    super_index = [SUPER_CATEGORIES.index(s) for s in super_categories_for(n_classes)]
    prototypes = np.stack(
        [
            supers[super_index[c]] + seeded_rng(seed, TAG_CLASS, c).normal(0.0, CLASS_SCALE, LATENT_DIM)
            for c in range(n_classes)
        ]
    )
    latents, labels, ids = [], [], []
    for c in range(n_classes):
        for k in range(images_per_class):
            variation = seeded_rng(seed, TAG_IMAGE, c, k).normal(0.0, IMAGE_SCALE, LATENT_DIM)
            latents.append(prototypes[c] + variation)
            labels.append(c)
            ids.append(image_id(c, k))
    return LatentSpace(
        super_centres=supers,
        prototypes=prototypes,
        image_latents=np.stack(latents),
        image_labels=np.asarray(labels, dtype=np.int64),
        image_ids=tuple(ids),
    )


class ImageRenderer:
    """Draws a procedural RGB image from a latent vector through fixed linear maps.

    Parameters
    ----------
    seed : int
        Seeds the latent-to-appearance maps (shared by all subjects).
    size : int
        Height and width of the images in pixels.
    """

    # Rows of the appearance map, in order.
    _N_PARAMS = 3 + 3 + len(SHAPES) + 1 + 2 + 1 + 2 + 1 + 2

    def __init__(self, seed: int, size: int = 64) -> None:
        if size < 16:
            raise ValueError(f"image size must be at least 16 pixels, got {size}")
        self.size = int(size)
        rng = seeded_rng(seed, TAG_APPEARANCE)
        # Unit-norm-ish rows: each appearance parameter varies about as much as one latent axis.
        self._map = rng.normal(0.0, 1.0, (self._N_PARAMS, LATENT_DIM)) / np.sqrt(LATENT_DIM)
        # Shape logits get a larger gain so that shape follows the super-category firmly.
        self._map[6 : 6 + len(SHAPES)] *= 2.0
        axis = np.linspace(-1.0, 1.0, self.size)
        self._x, self._y = np.meshgrid(axis, -axis)

    def parameters(self, latent: np.ndarray) -> dict[str, object]:
        """Appearance parameters of one latent vector (colours in 0-1, angles in radians)."""
        p = self._map @ np.asarray(latent, dtype=float)
        it = iter(np.split(p, np.cumsum([3, 3, len(SHAPES), 1, 2, 1, 2, 1])))
        background, foreground, shape_logits = next(it), next(it), next(it)
        size, orientation, frequency, texture_dir, contrast, offset = (
            next(it),
            next(it),
            next(it),
            next(it),
            next(it),
            next(it),
        )
        return {
            "background": _sigmoid(1.5 * background),
            "foreground": _sigmoid(1.5 * foreground),
            "shape": SHAPES[int(np.argmax(shape_logits))],
            "size": 0.35 + 0.25 * _sigmoid(size[0]),
            "orientation": float(np.arctan2(orientation[1], orientation[0])),
            "frequency": 1.5 + 6.0 * _sigmoid(frequency[0]),
            "texture_angle": float(np.arctan2(texture_dir[1], texture_dir[0])),
            "contrast": 0.6 * _sigmoid(contrast[0]),
            "offset": 0.2 * np.tanh(offset),
        }

    def render(self, latent: np.ndarray) -> np.ndarray:
        """Render one image.

        Parameters
        ----------
        latent : np.ndarray, shape (latent_dim,)

        Returns
        -------
        np.ndarray, shape (size, size, 3), uint8
        """
        p = self.parameters(latent)
        dx, dy = p["offset"]
        cos, sin = np.cos(p["orientation"]), np.sin(p["orientation"])
        u = cos * (self._x - dx) + sin * (self._y - dy)
        v = -sin * (self._x - dx) + cos * (self._y - dy)
        inside = _shape_inside(p["shape"], u, v, p["size"])
        # About one pixel of anti-aliasing at the shape's edge.
        alpha = np.clip(inside * self.size / 2 + 0.5, 0.0, 1.0)[..., None]
        phase = 2 * np.pi * p["frequency"] * (u * np.cos(p["texture_angle"]) + v * np.sin(p["texture_angle"]))
        texture = 1.0 + p["contrast"] * np.sin(phase)[..., None]
        foreground = np.clip(p["foreground"] * texture, 0.0, 1.0)
        # A soft vertical gradient makes the background less flat without carrying class signal.
        background = p["background"] * (0.85 + 0.15 * (self._y[..., None] + 1) / 2)
        image = alpha * foreground + (1 - alpha) * background
        return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


def write_image_folder(
    folder: str | Path,
    renderer: ImageRenderer,
    latents: LatentSpace,
    class_names: list[str],
    super_categories: list[str],
) -> Path:
    """Write every image as ``folder/images/<image_id>.png`` plus ``folder/images.tsv``.

    The index has one row per image: ``image_id``, ``label``, ``class_name``, ``super_category``,
    ``file`` (path relative to ``folder``). Returns the index path.
    """
    from PIL import Image

    folder = Path(folder)
    image_dir = folder / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    index = folder / "images.tsv"
    with index.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["image_id", "label", "class_name", "super_category", "file"])
        for latent, label, name in zip(
            latents.image_latents, latents.image_labels, latents.image_ids, strict=True
        ):
            Image.fromarray(renderer.render(latent)).save(image_dir / f"{name}.png")
            label = int(label)
            writer.writerow([name, label, class_names[label], super_categories[label], f"images/{name}.png"])
    return index


def _shape_inside(shape: str, u: np.ndarray, v: np.ndarray, size: float) -> np.ndarray:
    # Positive inside the shape, roughly the distance to its edge in image half-widths.
    r = np.hypot(u, v)
    if shape == "disk":
        return size - r
    if shape == "square":
        return 0.8 * size - np.maximum(np.abs(u), np.abs(v))
    if shape == "triangle":
        angles = np.pi / 2 + np.array([0.0, 2 * np.pi / 3, 4 * np.pi / 3])
        planes = np.stack([-(np.cos(a) * u + np.sin(a) * v) for a in angles])
        return 0.5 * size - planes.max(axis=0)
    if shape == "star":
        theta = np.arctan2(v, u)
        return size * (0.7 + 0.3 * np.cos(5 * theta)) - r
    if shape == "cross":
        arm, length = 0.3 * size, size
        vertical = np.minimum(arm - np.abs(u), length - np.abs(v))
        horizontal = np.minimum(arm - np.abs(v), length - np.abs(u))
        return np.maximum(vertical, horizontal)
    raise ValueError(f"unknown shape {shape!r}; known shapes are {SHAPES}")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
