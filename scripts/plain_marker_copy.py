"""Copy a recording with the project's JSON markers into an XDF file as a lab would record it.

A PsychoPy (or Presentation, E-Prime...) experiment sends a plain code per stimulus over an LSL
marker stream, and LabRecorder writes that stream next to the amplifier's EEG. This script makes
such a file from a recording of this project: the EEG samples and their timestamps are copied
unchanged (the pauses between runs stay), every stimulus marker becomes its plain code
(``--codes house=1,face=2`` by default: the N170 source's own codes), and the block markers and
the project's metadata are left out, as no presenter or recorder of a lab writes them. Clock
offsets are written every 5 s with offset 0, as LabRecorder writes them for streams on the
recording computer.

The result calibrates with ``--events``, e.g. for the real N170 recording::

    python scripts/plain_marker_copy.py ../shared/data/real/eegnb-n170-subject1.xdf n170-plain.xdf
    rtdecode info n170-plain.xdf
    rtdecode calibrate n170-plain.xdf --events 1=house,2=face --out runs/n170-plain
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

# Run as `python scripts/plain_marker_copy.py` from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rtdecode.io import read_recording  # noqa: E402
from rtdecode.io.recording import Recording  # noqa: E402
from rtdecode.io.xdf import XdfWriter  # noqa: E402

# LabRecorder measures each stream's clock offset every 5 s.
CLOCK_OFFSET_EVERY_S = 5.0


def parse_codes(text: str) -> dict[str, str]:
    """``"house=1,face=2"`` -> ``{"house": "1", "face": "2"}`` (class name -> plain code)."""
    codes = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, code = item.partition("=")
        if not sep or not name.strip() or not code.strip():
            raise argparse.ArgumentTypeError(f"expected CLASS=CODE pairs, got {item!r} in {text!r}")
        codes[name.strip()] = code.strip()
    return codes


def plain_markers(recording: Recording, codes: dict[str, str]) -> list[tuple[float, str]]:
    """``(timestamp, code)`` of every stimulus marker; block and other markers are left out.

    Raises
    ------
    ValueError
        A stimulus class without a code in ``codes``.
    """
    out = []
    for timestamp, event in recording.stimulus_events():
        name = str(event.get("class", event.get("label")))
        if name not in codes:
            raise ValueError(f"no code for class {name!r}; give one with --codes {name}=CODE,...")
        out.append((timestamp, codes[name]))
    return out


def write_labrecorder_xdf(path: Path, recording: Recording, markers: list[tuple[float, str]]) -> None:
    """Write EEG and a plain string marker stream the way LabRecorder does (no project metadata)."""
    stamps = recording.timestamps
    with XdfWriter(path, overwrite=True) as writer:
        eeg = writer.add_stream(
            "Muse",
            "EEG",
            recording.n_channels,
            recording.sfreq,
            "float32",
            source_id="Muse-00:55:DA:B0:00:00",
            channel_names=recording.channel_names,
        )
        marker_stream = writer.add_stream(
            "PsychoPy-Markers", "Markers", 1, 0.0, "string", source_id="psychopy"
        )
        times = np.array([t for t, _ in markers])
        chunk = max(1, int(round(recording.sfreq)))  # about one second per chunk, as recorded live
        written = 0
        next_offset = stamps[0]
        for start in range(0, recording.n_samples, chunk):
            stop = min(start + chunk, recording.n_samples)
            if stamps[start] >= next_offset:
                for stream in (eeg, marker_stream):
                    writer.write_clock_offset(stream, float(stamps[start]), 0.0)
                next_offset = stamps[start] + CLOCK_OFFSET_EVERY_S
            due = int(np.searchsorted(times, stamps[stop - 1], side="right"))
            if due > written:
                writer.write_samples(marker_stream, [c for _, c in markers[written:due]], times[written:due])
                written = due
            writer.write_samples(eeg, recording.data[start:stop], stamps[start:stop])
        if written < len(markers):
            writer.write_samples(marker_stream, [c for _, c in markers[written:]], times[written:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "source", help="a recording with the project's JSON markers (any format read_recording reads)"
    )
    parser.add_argument("out", help="the XDF file to write")
    parser.add_argument(
        "--codes",
        type=parse_codes,
        default=parse_codes("house=1,face=2"),
        help="CLASS=CODE pairs: the plain code sent for each class (default: house=1,face=2)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.exists() and not args.overwrite:
        parser.error(f"{out} exists; pass --overwrite to replace it")
    recording = read_recording(args.source)
    markers = plain_markers(recording, args.codes)
    write_labrecorder_xdf(out, recording, markers)
    counts = {code: sum(c == code for _, c in markers) for code in args.codes.values()}
    print(
        f"wrote {out}: {recording.n_samples} samples of {recording.n_channels} channels, "
        f"{len(markers)} plain markers ({', '.join(f'{c!r}: {n}' for c, n in counts.items())}), "
        f"no block markers (dropped {len(recording.markers) - len(markers)} other markers)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
