"""Marker strings: JSON objects carried by an LSL string stream, one per event.

Every marker the project writes is a JSON object with an ``"event"`` key:

- ``{"event": "stimulus", "image": "img_0003_012", "label": 3, "class": "anemone fish", "block": 2}``
  at each image onset (``label`` is the class index, ``class`` its human-readable name);
- ``{"event": "block_start", "block": 2}`` and ``{"event": "block_end", "block": 2}``.

Markers written by other software (plain strings such as ``"S 12"``) parse to
``{"event": "other", "text": ...}`` so that they are kept and shown, never dropped.
"""

from __future__ import annotations

import json
from typing import Any

STIMULUS = "stimulus"
BLOCK_START = "block_start"
BLOCK_END = "block_end"
OTHER = "other"


def stimulus_marker(image: str, label: int, class_name: str, block: int | None = None) -> str:
    """JSON text of a stimulus-onset marker."""
    event: dict[str, Any] = {"event": STIMULUS, "image": image, "label": int(label), "class": class_name}
    if block is not None:
        event["block"] = int(block)
    return json.dumps(event)


def block_marker(kind: str, block: int) -> str:
    """JSON text of a block boundary marker; ``kind`` is ``"block_start"`` or ``"block_end"``."""
    if kind not in (BLOCK_START, BLOCK_END):
        raise ValueError(f"kind must be {BLOCK_START!r} or {BLOCK_END!r}, got {kind!r}")
    return json.dumps({"event": kind, "block": int(block)})


def parse_marker(text: str) -> dict[str, Any]:
    """Parse a marker string into a dict with at least an ``"event"`` key.

    Non-JSON text, or JSON that is not an object with an ``"event"``, becomes
    ``{"event": "other", "text": text}``.
    """
    try:
        event = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return {"event": OTHER, "text": text}
    if not isinstance(event, dict) or "event" not in event:
        return {"event": OTHER, "text": text}
    return event
