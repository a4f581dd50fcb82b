"""Marker strings: the project's JSON markers, and the one reader of every marker text.

Every marker the project writes is a JSON object with an ``"event"`` key:

- ``{"event": "stimulus", "image": "img_0003_012", "label": 3, "class": "anemone fish", "block": 2}``
  at each image onset (``label`` is the class index, ``class`` its human-readable name);
- ``{"event": "block_start", "block": 2}`` and ``{"event": "block_end", "block": 2}``.

Markers written by other software (plain strings such as ``"1"``, ``"S 12"`` or ``"stim/face/023"``)
are stimuli only through a :class:`~rtdecode.io.marker_mapping.MarkerMapping` (``--events``);
without one they parse to ``{"event": "other", "text": ...}`` so that they are kept and shown,
never dropped. :func:`parse_marker` is the one reader of a marker text, for files (through
:func:`~rtdecode.io.marker_mapping.map_markers`) and for live marker streams alike.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

STIMULUS = "stimulus"
BLOCK_START = "block_start"
BLOCK_END = "block_end"
OTHER = "other"


def stimulus_marker(
    image: str, label: int, class_name: str, block: int | None = None, *, code: str | None = None
) -> str:
    """JSON text of a stimulus-onset marker; ``code`` keeps the plain code it was mapped from."""
    event: dict[str, Any] = {"event": STIMULUS, "image": image, "label": int(label), "class": class_name}
    if block is not None:
        event["block"] = int(block)
    if code is not None:
        event["code"] = code
    return json.dumps(event)


def block_marker(kind: str, block: int) -> str:
    """JSON text of a block boundary marker; ``kind`` is ``"block_start"`` or ``"block_end"``."""
    if kind not in (BLOCK_START, BLOCK_END):
        raise ValueError(f"kind must be {BLOCK_START!r} or {BLOCK_END!r}, got {kind!r}")
    return json.dumps({"event": kind, "block": int(block)})


class CodeMapping(Protocol):
    """What :func:`parse_marker` needs of a mapping (:class:`~rtdecode.io.marker_mapping.MarkerMapping`)."""

    def event(self, text: str) -> dict[str, Any] | None:
        """The stimulus event of a plain code, or None when it is no stimulus."""


def project_event(text: str) -> dict[str, Any] | None:
    """The event of one of the project's JSON markers (an object with ``"event"``), else None."""
    try:
        event = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return None
    return event if isinstance(event, dict) and "event" in event else None


def parse_marker(text: str, mapping: CodeMapping | None = None) -> dict[str, Any]:
    """Parse a marker string into a dict with at least an ``"event"`` key.

    Parameters
    ----------
    text : str
        The marker as sent or recorded.
    mapping : MarkerMapping, optional
        Which plain codes are stimuli of which class. The project's JSON markers are read as
        they are, with or without it.

    Returns
    -------
    dict
        The JSON marker's object; for a plain code the mapping makes a stimulus of, the
        stimulus event (``class``, ``label``, ``code``, and ``image`` / ``block`` where the
        mapping's pattern gives them); otherwise ``{"event": "other", "text": text}``.
    """
    event = project_event(text)
    if event is not None:
        return event
    if mapping is not None:
        mapped = mapping.event(text)
        if mapped is not None:
            return mapped
    return {"event": OTHER, "text": text}


def marker_text(value: Any) -> str:
    """The text of one marker value: strings as they are, whole numbers without ``.0``.

    Numeric marker streams (some presenters send int or float codes) give ``"2"`` for ``2``,
    ``2.0`` and ``np.float32(2)`` alike, in files and live.
    """
    value = value.item() if hasattr(value, "item") and not isinstance(value, str) else value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
