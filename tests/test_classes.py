"""The class vocabulary: the packaged 40 ImageNet-EEG classes."""

from __future__ import annotations

from importlib import resources

import pytest

from rtdecode.classes import (
    CLASS_SUPER_CATEGORIES,
    N_CLASSES,
    SUPER_CATEGORIES,
    class_names_for,
    class_table,
    super_categories_for,
)


def test_class_table_matches_the_packaged_names():
    text = resources.files("rtdecode").joinpath("data", "imagenet-eeg-classes.tsv").read_text("utf-8")
    packaged = [line.split("\t")[2] for line in text.splitlines()[1:] if line.strip()]
    assert len(packaged) == N_CLASSES == len(class_table())
    assert [index for index, _, _ in class_table()] == list(range(N_CLASSES))
    assert class_names_for(40) == packaged
    assert class_names_for(3) == ["sorrel", "parachute", "iron"]
    assert len(CLASS_SUPER_CATEGORIES) == len(packaged)
    assert set(CLASS_SUPER_CATEGORIES) == set(SUPER_CATEGORIES)
    assert super_categories_for(2) == ["animal", "vehicle"]


@pytest.mark.parametrize("n_classes", [0, 41, 100_000])
def test_no_class_is_invented(n_classes):
    for names_for in (class_names_for, super_categories_for):
        with pytest.raises(ValueError, match=rf"n_classes must be 1-40 .*got {n_classes}"):
            names_for(n_classes)
