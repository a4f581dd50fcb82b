"""What the XDF 1.0 specification fixes, shared by the writer, the chunk scanner and the reader.

XDF 1.0 (https://github.com/sccn/xdf/wiki/Specifications) is the file format of LabRecorder and of
most LSL software. A file is the magic bytes ``XDF:`` followed by chunks::

    [NumLengthBytes 1|4|8][Length][Tag uint16][Content]

where ``Length`` counts the tag and the content, and the tags are FileHeader=1, StreamHeader=2,
Samples=3, ClockOffset=4, Boundary=5, StreamFooter=6. All numbers are little-endian.
"""

from __future__ import annotations

import numpy as np

# File names the XDF reader takes: plain, and gzip-compressed as LabRecorder writes them.
XDF_SUFFIXES = (".xdf", ".xdfz", ".xdf.gz")

MAGIC = b"XDF:"
TAG_FILE_HEADER = 1
TAG_STREAM_HEADER = 2
TAG_SAMPLES = 3
TAG_CLOCK_OFFSET = 4
TAG_BOUNDARY = 5
TAG_STREAM_FOOTER = 6
# Fixed content of every Boundary chunk (XDF spec); readers resynchronize on it after damage.
BOUNDARY_SIGNATURE = bytes.fromhex("43A546DCCBF5410FB30ED5467383CBE4")

NUMERIC_FORMATS: dict[str, np.dtype] = {
    "float32": np.dtype("<f4"),
    "double64": np.dtype("<f8"),
    "int8": np.dtype("<i1"),
    "int16": np.dtype("<i2"),
    "int32": np.dtype("<i4"),
    "int64": np.dtype("<i8"),
}
CHANNEL_FORMATS = (*NUMERIC_FORMATS, "string")

DEFAULT_EEG_NAME = "rtdecode-EEG"
DEFAULT_MARKER_NAME = "rtdecode-Markers"
METADATA_TAG = "rtdecode_metadata"


class XdfError(ValueError):
    """An XDF file that cannot be read: missing magic bytes, damaged beyond use, no usable stream."""


class XdfWarning(UserWarning):
    """An XDF file was read, but part of it was damaged or incomplete and was skipped."""
