"""Pseudo-labels for THINGS-EEG2: K-means over CLIP image embeddings, k chosen by the elbow.

THINGS-EEG2 has 1654 training concepts with 10 images each and 200 test concepts, far too many
classes for single-trial EEG decoding. Ferrante et al. regroup the stimulus images by clustering
their CLIP image embeddings with K-means and pick the number of clusters with the elbow method on
the inertia curve; they found k = 8. The cluster index of each image is then its class label.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PseudoLabels:
    """Result of :func:`kmeans_pseudolabels`.

    Attributes
    ----------
    labels : np.ndarray, shape (n_images,), int64
        Cluster index 0..k-1 of each image, for the chosen ``k``.
    k : int
        Number of clusters chosen by the elbow.
    inertias : dict of int to float
        K-means inertia (sum of squared distances to the nearest centre) for every k tried.
    centers : np.ndarray, shape (k, n_features), float64
        Cluster centres for the chosen ``k``, in the (normalized, if asked) embedding space.
    """

    labels: np.ndarray
    k: int
    inertias: dict[int, float]
    centers: np.ndarray

    def class_names(self) -> list[str]:
        """``"cluster 0"`` .. ``"cluster k-1"``: the names the THINGS-EEG2 importer writes in markers."""
        return [f"cluster {i}" for i in range(self.k)]


def elbow_k(ks: Iterable[int], inertias: Iterable[float]) -> int:
    """The elbow of an inertia curve: the k farthest from the straight line joining its ends.

    Both axes are first rescaled to [0, 1] (k from its smallest to its largest value, inertia from
    its value at the largest k to its value at the smallest k), because the distance to the chord
    is otherwise dominated by whichever axis has the larger numbers, and the answer would change
    with the unit of the embeddings. On the rescaled curve the chord runs from (0, 1) to (1, 0);
    the elbow is the point farthest below it, i.e. where adding clusters stops paying off (the
    "knee" criterion of Satopää et al. 2011, "Kneedle"). With fewer than three ks, or a curve that
    never falls below its chord, the smallest k is returned.

    Parameters
    ----------
    ks : iterable of int
        Numbers of clusters tried, shape (n_k,).
    inertias : iterable of float
        Inertia for each k, shape (n_k,), expected to decrease with k.

    Returns
    -------
    int
        The chosen k.
    """
    k_arr = np.asarray(list(ks), dtype=np.float64)
    y_arr = np.asarray(list(inertias), dtype=np.float64)
    if k_arr.shape != y_arr.shape or k_arr.size == 0:
        raise ValueError(
            f"ks and inertias must be non-empty and of equal length, got {k_arr.size} and {y_arr.size}"
        )
    order = np.argsort(k_arr)
    k_arr, y_arr = k_arr[order], y_arr[order]
    if k_arr.size < 3 or k_arr[-1] == k_arr[0] or y_arr[0] == y_arr[-1]:
        return int(k_arr[0])
    x = (k_arr - k_arr[0]) / (k_arr[-1] - k_arr[0])
    y = (y_arr - y_arr[-1]) / (y_arr[0] - y_arr[-1])
    # Signed distance below the chord x + y = 1 (up to the constant 1/sqrt(2)).
    below = 1.0 - x - y
    best = int(np.argmax(below))
    if below[best] <= 0:
        return int(k_arr[0])
    return int(k_arr[best])


def kmeans_pseudolabels(
    embeddings: np.ndarray,
    k_range: Iterable[int] = range(2, 16),
    seed: int = 0,
    *,
    n_init: int = 10,
    normalize: bool = True,
) -> PseudoLabels:
    """Cluster image embeddings with K-means for every k in ``k_range`` and keep the elbow's k.

    Parameters
    ----------
    embeddings : np.ndarray, shape (n_images, n_features)
        One embedding per stimulus image (e.g. CLIP image features), in the order the labels
        should come out (for THINGS-EEG2: condition - 1 within a partition).
    k_range : iterable of int
        Numbers of clusters to try; each must be between 1 and n_images.
    seed : int
        ``random_state`` of every K-means run, so the labels are reproducible.
    n_init : int
        K-means restarts per k (fixed so that runs are comparable and reproducible).
    normalize : bool
        Scale each embedding to unit length first. CLIP compares images by cosine similarity,
        and K-means on unit vectors clusters by angle instead of by embedding norm.

    Returns
    -------
    PseudoLabels
        Labels, chosen k, inertia per k and centres.

    Raises
    ------
    ValueError
        For embeddings that are not a finite 2-D array, or ks outside 1..n_images.
    """
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"embeddings must be (n_images, n_features), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("embeddings contain NaN or infinite values; recompute or drop those images")
    ks = sorted({int(k) for k in k_range})
    if not ks or ks[0] < 1 or ks[-1] > x.shape[0]:
        raise ValueError(f"k_range must hold ks between 1 and n_images={x.shape[0]}, got {ks}")
    if normalize:
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        if np.any(norms == 0):
            raise ValueError(
                "an embedding is all zeros and cannot be normalized; pass normalize=False or drop it"
            )
        x = x / norms

    models: dict[int, KMeans] = {}
    inertias: dict[int, float] = {}
    for k in ks:
        model = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(x)
        models[k] = model
        inertias[k] = float(model.inertia_)
        log.debug("k-means k=%d inertia=%.6g", k, inertias[k])
    k = elbow_k(ks, [inertias[k] for k in ks])
    chosen = models[k]
    log.info("k-means pseudo-labels: elbow at k=%d over k in %d..%d", k, ks[0], ks[-1])
    return PseudoLabels(
        labels=chosen.labels_.astype(np.int64),
        k=k,
        inertias=inertias,
        centers=np.asarray(chosen.cluster_centers_, dtype=np.float64),
    )
