"""The simulator's 128-channel montage: labels, geometry, regions, subsets, and MNE's view of it."""

from __future__ import annotations

import numpy as np
import pytest

from rtdecode.sim.montage import CHANNELS_128, evenly_spread_montage, parse_label, standard_montage


def test_montage_has_128_unique_10_5_labels_on_the_unit_sphere():
    montage = standard_montage()
    assert montage.n_channels == 128 == len(set(montage.names))
    assert {"Oz", "Fp1", "Cz", "Iz", "PPO1h", "POO1", "OI1h", "AFF1h"} <= set(montage.names)
    np.testing.assert_allclose(np.linalg.norm(montage.positions, axis=1), 1.0)
    assert montage.positions[montage.index("Cz"), 2] == pytest.approx(1.0)
    # Left labels on the left, front labels in front.
    assert montage.positions[montage.index("C3"), 0] < 0 < montage.positions[montage.index("C4"), 0]
    assert montage.positions[montage.index("Fpz"), 1] > 0 > montage.positions[montage.index("Oz"), 1]


def test_montage_regions_and_neighbours():
    montage = standard_montage()
    frontal, posterior = montage.frontal_mask(), montage.occipitoparietal_mask()
    assert frontal[montage.index("Fp1")] and not frontal[montage.index("Oz")]
    assert posterior[montage.index("Oz")] and posterior[montage.index("PO7")]
    assert not posterior[montage.index("Fp1")] and not (frontal & posterior).any()
    distances = montage.angular_distances(montage.positions)
    np.fill_diagonal(distances, np.inf)
    # Every electrode has a neighbour within 15 degrees, none closer than 5: a plausible cap.
    assert np.rad2deg(distances.min(axis=1)).max() < 15
    assert np.rad2deg(distances.min()) > 5


def test_parse_label():
    assert parse_label("Oz") == ("O", 0.0, 0)
    assert parse_label("PPO1h") == ("PPO", 0.5, -1)
    assert parse_label("FT10") == ("FT", 5.0, 1)
    with pytest.raises(ValueError, match="10-5"):
        parse_label("EEG001")


def test_evenly_spread_subset_keeps_the_label_order_and_covers_the_head():
    subset = evenly_spread_montage(32)
    assert subset.n_channels == 32 and "Cz" in subset.names
    assert list(subset.names) == [n for n in CHANNELS_128 if n in subset.names]
    assert subset.frontal_mask().any() and subset.occipitoparietal_mask().any()
    assert (subset.positions[:, 0] < -0.5).any() and (subset.positions[:, 0] > 0.5).any()
    assert evenly_spread_montage(128).names == CHANNELS_128
    with pytest.raises(ValueError, match="n_channels must be 1-128, got 0"):
        evenly_spread_montage(0)


def _mne_positions(kind: str, names: tuple[str, ...]) -> np.ndarray:
    mne = pytest.importorskip("mne")
    positions = mne.channels.make_standard_montage(kind).get_positions()["ch_pos"]
    by_label = {label.lower(): xyz for label, xyz in positions.items()}
    missing = [n for n in names if n.lower() not in by_label]
    assert not missing, f"not 10-5 labels MNE knows: {missing}"
    xyz = np.array([by_label[n.lower()] for n in names])
    return xyz / np.linalg.norm(xyz, axis=1, keepdims=True)


def test_every_label_sits_where_mne_puts_it_side_and_region():
    # colin27_1005 is MNE's digitized standard_1005 (renamed in MNE 1.13). The positions differ
    # in elevation (the module docstring gives the numbers); the side, front/back and the
    # direction around the head agree for every channel.
    ours = standard_montage()
    theirs = _mne_positions("colin27_1005", ours.names)
    lateral = np.abs(ours.positions[:, 0]) > 0.05
    assert (np.sign(theirs[lateral, 0]) == np.sign(ours.positions[lateral, 0])).all()
    sagittal = np.abs(ours.positions[:, 1]) > 0.05
    assert (np.sign(theirs[sagittal, 1]) == np.sign(ours.positions[sagittal, 1])).all()
    off_vertex = np.hypot(*ours.positions[:, :2].T) > 0.2
    azimuth = np.degrees(np.arctan2(ours.positions[:, 0], ours.positions[:, 1]))
    their_azimuth = np.degrees(np.arctan2(theirs[:, 0], theirs[:, 1]))
    assert np.abs((azimuth - their_azimuth + 180) % 360 - 180)[off_vertex].max() < 25
    for positions in (ours.positions, theirs):
        o1, fz = positions[ours.index("O1")], positions[ours.index("Fz")]
        assert o1[0] < 0 and o1[1] < -0.5  # posterior left
        assert abs(fz[0]) < 0.05 and fz[1] > 0.5  # frontal midline


def test_spherical_model_is_close_to_mnes_idealized_sphere():
    ours = standard_montage()
    theirs = _mne_positions("spherical_1005", ours.names)
    angle = np.degrees(np.arccos(np.clip(np.sum(ours.positions * theirs, axis=1), -1.0, 1.0)))
    assert np.median(angle) < 2.5
    assert angle.max() < 15  # the inferior 9/10 columns (PO9, P10...) differ most
