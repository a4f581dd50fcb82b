"""Recordings on disk: XDF read/write, dataset importers, the model bundle format."""

from rtdecode.io.markers import block_marker, parse_marker, stimulus_marker
from rtdecode.io.recording import Marker, Recording

__all__ = ["Marker", "Recording", "block_marker", "parse_marker", "stimulus_marker"]
