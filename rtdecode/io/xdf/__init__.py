"""XDF files: an incremental writer, a damaged-chunk scanner and a reader into a :class:`Recording`.

XDF 1.0 (https://github.com/sccn/xdf/wiki/Specifications) is the file format of LabRecorder and of
most LSL software; :mod:`~rtdecode.io.xdf.spec` holds what the specification fixes.

- Writing (:mod:`~rtdecode.io.xdf.writer`): :class:`XdfWriter` appends complete chunks straight
  to the file, so a recording cut at any byte still loads up to the last complete chunk;
  :func:`write_xdf` stores a whole :class:`~rtdecode.io.recording.Recording`.
- Scanning (:mod:`~rtdecode.io.xdf.scan`): every file is walked chunk by chunk before it is
  parsed, and damaged or incomplete chunks are dropped with a :class:`XdfWarning`.
- Reading (:mod:`~rtdecode.io.xdf.reader`): :func:`read_xdf` parses the intact chunks with
  ``pyxdf`` (clock-synchronized) and picks the EEG and marker streams; :func:`list_streams`
  summarizes every stream. Commands read recordings of any format through
  :func:`rtdecode.io.read_recording`, which calls :func:`read_xdf` for XDF files.
"""

from rtdecode.io.xdf.reader import list_streams, read_xdf
from rtdecode.io.xdf.spec import XDF_SUFFIXES, XdfError, XdfWarning
from rtdecode.io.xdf.writer import XdfWriter, write_xdf

__all__ = ["XDF_SUFFIXES", "XdfError", "XdfWarning", "XdfWriter", "list_streams", "read_xdf", "write_xdf"]
