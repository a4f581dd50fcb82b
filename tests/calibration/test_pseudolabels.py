"""K-means pseudo-labels with the elbow choice of k, on synthetic blobs with a known number of clusters."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from calibration.pseudolabels import PseudoLabels, elbow_k, kmeans_pseudolabels
from rtdecode.io.things_eeg2 import read_things_eeg2


def _blobs(n_clusters: int, per_cluster: int = 40, dim: int = 24, noise: float = 0.08, seed: int = 0):
    """Well separated blobs whose centres are equidistant (scaled basis vectors plus an offset).

    Equidistant centres give the inertia curve one clean knee at the true k; centres drawn at
    random can put two blobs close together, and then the elbow is honestly ambiguous.
    """
    rng = np.random.default_rng(seed)
    centers = 3.0 * np.eye(dim)[:n_clusters] + 1.0  # offset keeps the cluster directions distinct
    truth = np.repeat(np.arange(n_clusters), per_cluster)
    x = centers[truth] + noise * rng.standard_normal((truth.size, dim))
    order = rng.permutation(truth.size)
    return x[order], truth[order]


@pytest.mark.parametrize("n_clusters", [5, 8])
@pytest.mark.parametrize("normalize", [True, False])
def test_elbow_finds_the_true_number_of_blobs(n_clusters, normalize):
    x, truth = _blobs(n_clusters)
    # n_init=3 keeps the test quick; the blobs are separated enough for any restart to find them.
    result = kmeans_pseudolabels(x, k_range=range(2, 16), seed=0, normalize=normalize, n_init=3)
    assert isinstance(result, PseudoLabels)
    assert result.k == n_clusters
    assert result.labels.shape == (x.shape[0],) and result.labels.dtype == np.int64
    assert set(result.labels.tolist()) == set(range(n_clusters))
    assert adjusted_rand_score(truth, result.labels) == pytest.approx(1.0)
    assert sorted(result.inertias) == list(range(2, 16))
    assert result.centers.shape == (n_clusters, x.shape[1])
    assert result.class_names()[-1] == f"cluster {n_clusters - 1}"


def test_pseudolabels_are_reproducible_with_the_seed():
    x, _ = _blobs(5, seed=3)
    a = kmeans_pseudolabels(x, k_range=range(4, 7), seed=7)
    b = kmeans_pseudolabels(x, k_range=range(4, 7), seed=7)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.inertias == b.inertias


def test_elbow_k_on_a_known_curve_and_scale_invariance():
    ks = list(range(2, 12))
    # Steep fall until k = 4, flat afterwards.
    inertias = [100.0, 50.0, 10.0, 9.0, 8.5, 8.0, 7.6, 7.3, 7.0, 6.8]
    assert elbow_k(ks, inertias) == 4
    assert elbow_k(ks, [v * 1e6 for v in inertias]) == 4
    assert elbow_k(reversed(ks), list(reversed(inertias))) == 4
    # Degenerate curves fall back to the smallest k.
    assert elbow_k([2, 3], [10.0, 5.0]) == 2
    assert elbow_k([2, 3, 4], [5.0, 5.0, 5.0]) == 2
    with pytest.raises(ValueError, match="equal length"):
        elbow_k([2, 3], [1.0])


def test_kmeans_pseudolabels_rejects_bad_input():
    x, _ = _blobs(3)
    with pytest.raises(ValueError, match="n_images, n_features"):
        kmeans_pseudolabels(x[0])
    with pytest.raises(ValueError, match="k_range"):
        kmeans_pseudolabels(x[:5], k_range=range(2, 10))
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        kmeans_pseudolabels(bad)


def test_pseudolabels_feed_the_things_eeg2_importer(tmp_path):
    # 6 training images (conditions 1..6) in 2 obvious groups; the session shows four of them.
    embeddings = np.array([[1, 0], [0, 1], [1, 0.05], [0.05, 1], [1, 0.1], [0.1, 1]], dtype=float)
    pseudo = kmeans_pseudolabels(embeddings, k_range=[2], seed=0)
    assert pseudo.k == 2 and pseudo.labels[0] == pseudo.labels[2] != pseudo.labels[1]

    n = 2000
    stim = np.zeros(n)
    onsets = {200: 1, 600: 2, 1000: 99999, 1400: 5, 1800: 6}
    for sample, cond in onsets.items():
        stim[sample] = cond
    raw = {
        "raw_eeg_data": np.concatenate([np.zeros((63, n)), stim[None]], axis=0),
        "ch_names": [f"E{i}" for i in range(63)] + ["stim"],
        "ch_types": ["eeg"] * 63 + ["stim"],
        "sfreq": 1000,
        "highpass": 0.01,
        "lowpass": 100,
    }
    path = tmp_path / "raw_eeg_training.npy"
    np.save(path, raw)
    rec = read_things_eeg2(path, labels=pseudo.labels, trust_file=True)
    events = [e for _, e in rec.stimulus_events()]
    assert [e["condition"] for e in events] == [1, 2, 5, 6]
    assert [e["label"] for e in events] == [int(pseudo.labels[c - 1]) for c in (1, 2, 5, 6)]
    assert [e["class"] for e in events] == [f"cluster {pseudo.labels[c - 1]}" for c in (1, 2, 5, 6)]
