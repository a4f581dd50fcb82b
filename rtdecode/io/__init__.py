"""Recordings on disk: one read_recording() for every format, the marker format, the model bundle."""

from rtdecode.io.formats import read_recording
from rtdecode.io.markers import block_marker, parse_marker, stimulus_marker
from rtdecode.io.recording import Marker, Recording

__all__ = ["Marker", "Recording", "block_marker", "parse_marker", "read_recording", "stimulus_marker"]
