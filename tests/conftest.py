"""Shared test settings: headless Qt, no network for model hubs."""

from __future__ import annotations

import os

# Set before any test imports Qt or huggingface_hub.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
