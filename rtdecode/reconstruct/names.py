"""Class names as people read them, and the prompts made from them."""

from __future__ import annotations

import functools
import hashlib
import re

from rtdecode.classes import class_table

DEFAULT_PROMPT = "an image of a {label}"
_WNID = re.compile(r"n\d{8}")


@functools.cache
def _wnid_names() -> dict[str, str]:
    return {wnid: name for _, wnid, name in class_table()}


def display_name(class_name: str) -> str:
    """The human-readable name of a class: ImageNet synsets (``"n02389026"``) map to their name
    (``"sorrel"``) through the packaged ImageNet-EEG class table; other names are returned as they are.
    """
    name = str(class_name).strip()
    if _WNID.fullmatch(name):
        return _wnid_names().get(name, name)
    return name


def check_template(template: str) -> str:
    """Return ``template`` if it formats with a ``{label}`` field alone.

    Raises
    ------
    ValueError
        When the template has no ``{label}`` or other fields.
    """
    try:
        filled = template.format(label="\0")
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(
            f"prompt template {template!r} does not format ({error!r}); use {{label}} for the class name "
            f"and double other braces, e.g. {DEFAULT_PROMPT!r}"
        ) from None
    if "\0" not in filled:
        raise ValueError(f"prompt template {template!r} has no {{label}}; e.g. {DEFAULT_PROMPT!r}")
    return template


def make_prompt(class_name: str, template: str = DEFAULT_PROMPT) -> str:
    """The text prompt for a class, e.g. ``"an image of a sorrel"`` for ``"n02389026"``."""
    return check_template(template).format(label=display_name(class_name))


def name_key(name: str) -> str:
    """Case- and spacing-insensitive key under which a class name or its display name is matched."""
    return " ".join(display_name(name).lower().replace("_", " ").split())


def file_slug(class_name: str) -> str:
    """A file-system-safe folder name for a class, unique per class name (a short hash is appended)."""
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", display_name(class_name)).strip("._")[:48] or "class"
    digest = hashlib.sha1(class_name.encode("utf-8")).hexdigest()[:6]
    return f"{slug}-{digest}"
