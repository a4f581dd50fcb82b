"""Euclidean alignment: whitening, live tracking, bundle round trip, against a scipy reference."""

import numpy as np
import pytest
from scipy.linalg import fractional_matrix_power

from rtdecode.signal.alignment import EuclideanAlignment, mean_covariance
from rtdecode.signal.standardize import Standardizer


def _mixed_epochs(seed: int, mixing: np.ndarray, n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sources = rng.normal(size=(n, mixing.shape[1], 120))
    return np.einsum("ij,njt->nit", mixing, sources).astype(np.float32)


def test_alignment_matches_scipy_inverse_square_root_and_whitens():
    rng = np.random.default_rng(0)
    x = _mixed_epochs(1, rng.normal(size=(6, 6)))
    alignment = EuclideanAlignment(shrinkage=0.0).fit(x)
    reference = np.mean([e.astype(np.float64) @ e.T.astype(np.float64) / e.shape[1] for e in x], axis=0)
    np.testing.assert_allclose(alignment.reference_, reference, rtol=1e-6)
    expected = np.real(fractional_matrix_power(reference, -0.5))
    np.testing.assert_allclose(alignment.matrix_, expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(mean_covariance(alignment.transform(x)), np.eye(6), atol=1e-4)


def test_two_subjects_mixed_differently_share_one_frame_after_alignment():
    """Alignment removes a subject's mixing up to a rotation: both end with an identity mean covariance."""
    rng = np.random.default_rng(1)
    a = _mixed_epochs(2, rng.normal(size=(5, 5)))
    b = _mixed_epochs(3, rng.normal(size=(5, 5)) * 3.0)
    for x in (a, b):
        aligned = Standardizer(align="whiten").fit(x).transform(x)
        np.testing.assert_allclose(mean_covariance(aligned), np.eye(5), atol=0.02)


def test_tracking_is_the_identity_until_adapted_then_follows_a_gain_change():
    rng = np.random.default_rng(4)
    x = _mixed_epochs(5, rng.normal(size=(6, 6)))
    plain = Standardizer().fit(x)
    tracking = Standardizer(align="track").fit(x)
    np.testing.assert_array_equal(tracking.transform(x), plain.transform(x))
    gains = np.diag([3.0, 0.3, 1.0, 2.0, 1.0, 0.5]).astype(np.float32)
    changed = np.einsum("ij,njt->nit", gains, x)
    before = mean_covariance(tracking.transform(changed))
    for epoch in changed[:150]:  # one live epoch at a time
        tracking.adapt(epoch[None], forgetting=0.05)
    after = mean_covariance(tracking.transform(changed[150:]))
    target = mean_covariance(plain.transform(x))
    assert np.abs(after - target).max() < 0.25 * np.abs(before - target).max()
    assert tracking.alignment_.n_updates_ == 150


def test_adapting_without_alignment_is_refused_and_bad_forgetting_too():
    x = _mixed_epochs(6, np.eye(3))
    with pytest.raises(ValueError, match="no alignment to adapt"):
        Standardizer().fit(x).adapt(x[:1], 0.1)
    with pytest.raises(ValueError, match="forgetting"):
        Standardizer(align="track").fit(x).adapt(x[:1], 0.0)


def test_bundle_dict_round_trip_keeps_the_alignment():
    x = _mixed_epochs(7, np.random.default_rng(8).normal(size=(4, 4)))
    fitted = Standardizer(align="whiten").fit(x)
    restored = Standardizer.from_dict(fitted.to_dict())
    assert restored.align == "whiten"
    np.testing.assert_allclose(restored.transform(x), fitted.transform(x), rtol=1e-5, atol=1e-6)
    assert "alignment" not in Standardizer().fit(x).to_dict()


@pytest.mark.parametrize("whiten", [False, True])
def test_a_channel_gain_change_is_undone_exactly_where_re_whitening_alone_leaves_a_rotation(whiten):
    rng = np.random.default_rng(9)
    x = _mixed_epochs(10, rng.normal(size=(6, 6)), n=50).astype(np.float64)
    alignment = EuclideanAlignment(whiten=whiten).fit(x)
    fitted = alignment.matrix_.copy()
    gains = np.diag([3.0, 0.3, 1.0, 2.0, 0.7, 0.5])
    # One "epoch" holding every training sample: with f = 1 the reference becomes G R_0 G exactly.
    changed = np.concatenate(list(np.einsum("ij,njt->nit", gains, x)), axis=1)[None]
    alignment.update(changed, forgetting=1.0)
    np.testing.assert_allclose(alignment.reference_, gains @ mean_covariance(x) @ gains, rtol=1e-9)
    # The gains are undone: the adapted transform of the changed data is the fitted one of the old.
    np.testing.assert_allclose(alignment.matrix_ @ gains, fitted, atol=1e-9)
    # Re-whitening alone (T (G R G)^{-1/2}) would not: its residual is a rotation far from identity.
    regularized = alignment.reference_ + alignment.shrinkage * np.trace(alignment.reference_) / 6 * np.eye(6)
    rewhitened = alignment.target_ @ np.real(fractional_matrix_power(regularized, -0.5)) @ gains
    assert np.abs(rewhitened - fitted).max() > 0.1 * np.abs(fitted).max()


def test_an_adapted_alignment_survives_the_bundle_round_trip_and_old_dicts_still_load():
    x = _mixed_epochs(11, np.random.default_rng(12).normal(size=(4, 4)))
    tracking = Standardizer(align="track").fit(x)
    for epoch in 2.0 * x[:20]:
        tracking.adapt(epoch[None], 0.1)
    restored = Standardizer.from_dict(tracking.to_dict())
    assert restored.alignment_.n_updates_ == 20
    np.testing.assert_allclose(restored.transform(x), tracking.transform(x), rtol=1e-5, atol=1e-6)
    # Dicts written at fit before the anchor was stored: the anchor is the reference's diagonal.
    fresh = Standardizer(align="track").fit(x).to_dict()
    old = {k: v for k, v in fresh["alignment"].items() if k not in ("anchor", "n_updates")}
    loaded = Standardizer.from_dict({**fresh, "alignment": old}).alignment_
    np.testing.assert_allclose(loaded.anchor_, fresh["alignment"]["anchor"], rtol=1e-12)
    assert loaded.n_updates_ == 0
