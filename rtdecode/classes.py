"""The class vocabulary: the 40 ImageNet-EEG classes the project ships with.

One home for the packaged table (``rtdecode/data/imagenet-eeg-classes.tsv``: label index, WordNet
id, readable name), the names of the first ``n`` classes and the super-category of each class.
The ImageNet-EEG importer names its labels from it, the simulator draws its classes from it and
the reconstruction turns WordNet ids into prompts with it.
"""

from __future__ import annotations

from importlib import resources

CLASSES_RESOURCE = "imagenet-eeg-classes.tsv"
N_CLASSES = 40

# The super-category each class is filed under, in label order. The simulator clusters the classes
# of one super-category in its latent space, as ImageNet's related synsets cluster in image space.
# fmt: off
CLASS_SUPER_CATEGORIES: tuple[str, ...] = (
    "animal",  # 0 sorrel
    "vehicle",  # 1 parachute
    "device",  # 2 iron
    "animal",  # 3 anemone fish
    "device",  # 4 espresso maker
    "object",  # 5 coffee mug
    "vehicle",  # 6 mountain bike
    "object",  # 7 revolver
    "animal",  # 8 giant panda
    "food and plant",  # 9 daisy
    "vehicle",  # 10 canoe
    "animal",  # 11 lycaenid butterfly
    "animal",  # 12 German shepherd
    "object",  # 13 running shoe
    "food and plant",  # 14 jack-o'-lantern
    "device",  # 15 cellular phone
    "object",  # 16 golf ball
    "device",  # 17 desktop computer
    "object",  # 18 broom
    "food and plant",  # 19 pizza
    "vehicle",  # 20 missile
    "animal",  # 21 capuchin
    "object",  # 22 pool table
    "object",  # 23 mailbag
    "vehicle",  # 24 convertible
    "object",  # 25 folding chair
    "object",  # 26 pajama
    "object",  # 27 mitten
    "device",  # 28 electric guitar
    "device",  # 29 reflex camera
    "device",  # 30 grand piano
    "object",  # 31 mountain tent
    "food and plant",  # 32 banana
    "food and plant",  # 33 bolete
    "device",  # 34 digital watch
    "animal",  # 35 African elephant
    "vehicle",  # 36 airliner
    "vehicle",  # 37 electric locomotive
    "device",  # 38 radio telescope
    "animal",  # 39 Egyptian cat
)
# fmt: on
SUPER_CATEGORIES: tuple[str, ...] = ("animal", "vehicle", "device", "object", "food and plant")


def class_table() -> list[tuple[int, str, str]]:
    """Rows ``(index, wnid, name)`` of the packaged ``imagenet-eeg-classes.tsv``, in label order."""
    text = resources.files("rtdecode").joinpath("data", CLASSES_RESOURCE).read_text(encoding="utf-8")
    rows: list[tuple[int, str, str]] = []
    for line in text.splitlines()[1:]:
        if not line.strip():
            continue
        index, wnid, name = line.split("\t")
        rows.append((int(index), wnid.strip(), name.strip()))
    return rows


def class_names_for(n_classes: int) -> list[str]:
    """The readable names of the first ``n_classes`` classes, in label order.

    Raises
    ------
    ValueError
        When ``n_classes`` is outside 1-40.
    """
    _check_n_classes(n_classes)
    return [name for _, _, name in class_table()[:n_classes]]


def super_categories_for(n_classes: int) -> list[str]:
    """The super-category of each of the first ``n_classes`` classes, in label order.

    Raises
    ------
    ValueError
        When ``n_classes`` is outside 1-40.
    """
    _check_n_classes(n_classes)
    return list(CLASS_SUPER_CATEGORIES[:n_classes])


def _check_n_classes(n_classes: int) -> None:
    if not 1 <= n_classes <= N_CLASSES:
        raise ValueError(
            f"n_classes must be 1-{N_CLASSES} (the packaged ImageNet-EEG classes), got {n_classes}"
        )
