"""XDF writing and reading: exact round trips, an independent reader, damaged files, real files."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap
import uuid
import warnings
from pathlib import Path

import numpy as np
import pytest
import pyxdf

from rtdecode.io.recording import Marker, Recording
from rtdecode.io.xdf import XdfError, XdfWarning, XdfWriter, list_streams, read_xdf, write_xdf

REPO = Path(__file__).parents[2]
# Public files written by other LSL software (xdf-modules/example-files, MIT; see its LICENSE).
FIXTURES = REPO / "tests" / "fixtures" / "xdf"


def make_recording(n_samples: int = 600, n_channels: int = 4, sfreq: float = 200.0) -> Recording:
    rng = np.random.default_rng(7)
    data = rng.normal(0, 20, (n_samples, n_channels)).astype(np.float32)
    data[:, 0] = np.arange(n_samples)  # counter channel: exact loss checks
    # irregular jitter so that exact float64 timestamps are really tested
    timestamps = 1234.5 + np.arange(n_samples) / sfreq + rng.normal(0, 1e-5, n_samples)
    markers = [
        Marker(1234.6, json.dumps({"event": "stimulus", "image": "img_1", "label": 3, "class": "fish"})),
        Marker(1235.0, "S 12 <b>&amp;</b>"),
        Marker(1235.9, "ünïcode ✓"),
        Marker(1236.7, '{"event": "block_end", "block": 1}'),
    ]
    names = ["counter", "C<z>&", 'O"1', "Pz ü"][:n_channels]
    metadata = {"subject": "s01", "seed": 3, "nested": {"a": [1, 2.5, None], "b": "<x>&"}, "ok": True}
    return Recording(data, timestamps, sfreq, names, markers, metadata)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Recording]:
    path = tmp_path_factory.mktemp("xdf") / "recording.xdf"
    recording = make_recording()
    write_xdf(path, recording)
    return path, recording


def read_quietly(path: Path, **kwargs: str) -> Recording:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XdfWarning)
        return read_xdf(path, **kwargs)


# --- round trips ------------------------------------------------------------------------------


def test_write_xdf_is_read_exactly_by_pyxdf(written: tuple[Path, Recording]) -> None:
    path, rec = written
    streams, header = pyxdf.load_xdf(path, synchronize_clocks=False, dejitter_timestamps=False)
    assert header["info"]["version"] == ["1.0"]
    eeg, markers = streams
    assert eeg["info"]["type"] == ["EEG"] and eeg["info"]["channel_format"] == ["float32"]
    assert eeg["time_series"].dtype == np.float32
    np.testing.assert_array_equal(eeg["time_series"], rec.data)
    np.testing.assert_array_equal(eeg["time_stamps"], rec.timestamps)
    labels = [c["label"][0] for c in eeg["info"]["desc"][0]["channels"][0]["channel"]]
    assert labels == rec.channel_names
    assert markers["info"]["type"] == ["Markers"] and markers["info"]["nominal_srate"] == ["0.0"]
    assert [row[0] for row in markers["time_series"]] == [m.text for m in rec.markers]
    np.testing.assert_array_equal(markers["time_stamps"], [m.timestamp for m in rec.markers])
    assert eeg["footer"]["info"]["sample_count"] == [str(rec.n_samples)]
    assert float(eeg["footer"]["info"]["last_timestamp"][0]) == rec.timestamps[-1]


def test_read_xdf_round_trips_the_recording(written: tuple[Path, Recording]) -> None:
    path, rec = written
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an intact file reads without any warning
        back = read_xdf(path)
    np.testing.assert_array_equal(back.data, rec.data)
    np.testing.assert_array_equal(back.timestamps, rec.timestamps)
    assert back.sfreq == rec.sfreq
    assert back.channel_names == rec.channel_names
    assert back.markers == rec.markers
    assert {k: back.metadata[k] for k in rec.metadata} == rec.metadata
    assert back.metadata["source_file"] == str(path)
    assert back.metadata["stream_name"] == "rtdecode-EEG"
    assert back.metadata["marker_stream"] == "rtdecode-Markers"


def test_round_trip_keeps_stream_names_from_metadata(tmp_path: Path) -> None:
    rec = make_recording(50, 2)
    rec.metadata.update(stream_name="amp-A", marker_stream="stim-A")
    write_xdf(tmp_path / "a.xdf", rec)
    back = read_xdf(tmp_path / "a.xdf")
    write_xdf(tmp_path / "b.xdf", back)  # and again: a read recording writes back unchanged
    again = read_xdf(tmp_path / "b.xdf")
    assert [s["name"] for s in list_streams(tmp_path / "b.xdf")] == ["amp-A", "stim-A"]
    np.testing.assert_array_equal(again.data, rec.data)
    assert again.markers == rec.markers
    assert again.metadata == {**back.metadata, "source_file": str(tmp_path / "b.xdf")}


def test_empty_recording_round_trips(tmp_path: Path) -> None:
    rec = Recording(np.zeros((0, 3)), np.zeros(0), 500.0, ["a", "b", "c"])
    write_xdf(tmp_path / "e.xdf", rec)
    with pytest.warns(XdfWarning, match="no samples"):
        back = read_xdf(tmp_path / "e.xdf")
    assert back.data.shape == (0, 3) and back.markers == [] and back.channel_names == ["a", "b", "c"]


def test_write_xdf_refuses_to_overwrite(written: tuple[Path, Recording], tmp_path: Path) -> None:
    path, rec = written
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_xdf(path, rec)
    target = tmp_path / "x.xdf"
    target.write_bytes(b"old")
    write_xdf(target, rec, overwrite=True)
    assert read_xdf(target).n_samples == rec.n_samples
    assert not (tmp_path / "x.xdf.part").exists()


def test_metadata_must_be_json(tmp_path: Path) -> None:
    rec = make_recording(10, 2)
    rec.metadata["numpy"] = np.arange(3)  # converted: unambiguous
    write_xdf(tmp_path / "ok.xdf", rec)
    assert read_xdf(tmp_path / "ok.xdf").metadata["numpy"] == [0, 1, 2]
    rec.metadata["bad"] = object()
    with pytest.raises(ValueError, match="JSON-compatible"):
        write_xdf(tmp_path / "bad.xdf", rec)
    assert not (tmp_path / "bad.xdf").exists()


# --- the incremental writer -------------------------------------------------------------------


def test_writer_formats_clock_offsets_and_footers(tmp_path: Path) -> None:
    path = tmp_path / "multi.xdf"
    ints = np.array([[1, -2], [32767, -32768], [0, 5]], dtype=np.int64)
    with XdfWriter(path) as w:
        a = w.add_stream("ints", "EEG", 2, 100.0, "int16", source_id="src-1", channel_names=["x", "y"])
        b = w.add_stream("doubles", "Aux", 1, 0.0, "double64", desc_xml_extra={"device": {"serial": 12}})
        c = w.add_stream("words", "Markers", 2, 0.0, "string")
        w.write_samples(a, ints, [10.0, 10.01, 10.02])
        w.write_samples(b, np.array([[np.pi]]), [10.005])
        w.write_samples(c, [["a", "b"], ["", "ç<>&"]], [10.0, 11.0])
        w.write_samples(c, [], [])  # nothing written
        w.write_boundary()
        w.write_clock_offset(a, 10.5, 0.25)
        w.write_clock_offset(a, 15.5, 0.25)
        w.flush(fsync=True)
        assert w.sample_count(a) == 3
    assert w.closed
    streams, _ = pyxdf.load_xdf(path, synchronize_clocks=False, dejitter_timestamps=False)
    s_ints, s_doubles, s_words = streams
    assert s_ints["time_series"].dtype == np.int16
    np.testing.assert_array_equal(s_ints["time_series"], ints)
    assert s_ints["info"]["source_id"] == ["src-1"]
    assert s_ints["clock_times"] == [10.5, 15.5] and s_ints["clock_values"] == [0.25, 0.25]
    footer = s_ints["footer"]["info"]
    assert footer["first_timestamp"] == ["10.0"] and footer["sample_count"] == ["3"]
    assert float(footer["measured_srate"][0]) == pytest.approx(100.0)
    assert len(footer["clock_offsets"][0]["offset"]) == 2
    assert s_doubles["time_series"][0, 0] == np.pi
    assert s_doubles["info"]["desc"][0]["device"][0]["serial"] == ["12"]
    assert s_words["time_series"] == [["a", "b"], ["", "ç<>&"]]

    # read_xdf applies the clock offsets (synchronize_clocks=True): local = remote + 0.25
    back = read_xdf(path, marker_stream="words")
    np.testing.assert_allclose(back.timestamps, [10.25, 10.26, 10.27])
    assert back.channel_names == ["x", "y"]
    assert [m.text for m in back.markers] == ['["a", "b"]', '["", "ç<>&"]']


def test_writer_refuses_bad_input(tmp_path: Path) -> None:
    w = XdfWriter(tmp_path / "bad.xdf")
    eeg = w.add_stream("eeg", "EEG", 2, 100.0, "int16")
    text = w.add_stream("m", "Markers", 1, 0.0, "string")
    bad_calls = [
        (lambda: w.add_stream("x", "EEG", 2, 100.0, "float16"), "channel_format"),
        (lambda: w.add_stream("x", "EEG", 0, 100.0, "float32"), "channel_count"),
        (lambda: w.add_stream("x", "EEG", 1, -1.0, "float32"), "nominal_srate"),
        (lambda: w.add_stream("", "EEG", 1, 1.0, "float32"), "name"),
        (lambda: w.add_stream("x", "EEG", 2, 1.0, "float32", channel_names=["a"]), "channel_names"),
        (lambda: w.add_stream("x", "EEG", 1, 1.0, "float32", channel_names=["a\x00"]), "control"),
        (lambda: w.add_stream("x", "EEG", 1, 1.0, "float32", desc_xml_extra={"1bad": 1}), "XML element"),
        (lambda: w.write_samples(eeg, np.zeros((3, 3)), np.zeros(3)), "shape"),
        (lambda: w.write_samples(eeg, np.zeros((2, 2)), np.zeros(3)), "shape"),
        (lambda: w.write_samples(eeg, np.full((1, 2), 0.5), [0.0]), "int16"),
        (lambda: w.write_samples(eeg, np.full((1, 2), 1e6), [0.0]), "int16"),
        (lambda: w.write_samples(eeg, np.zeros((1, 2)), [np.nan]), "NaN"),
        (lambda: w.write_samples(text, "abc", [0.0]), "single str"),
        (lambda: w.write_samples(text, [1], [0.0]), "str"),
        (lambda: w.write_samples(99, np.zeros((1, 2)), [0.0]), "unknown stream_id"),
        (lambda: w.write_clock_offset(eeg, 0.0, float("inf")), "finite"),
    ]
    for call, message in bad_calls:
        with pytest.raises(ValueError, match=message):
            call()
    w.close()
    w.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        w.write_samples(eeg, np.zeros((1, 2)), [0.0])
    with pytest.raises(FileExistsError, match="overwrite=True"):
        XdfWriter(tmp_path / "bad.xdf")
    assert read_quietly(tmp_path / "bad.xdf").n_samples == 0  # the refused calls wrote nothing


def test_open_writer_file_is_readable_after_flush(tmp_path: Path) -> None:
    path = tmp_path / "live.xdf"
    rec = make_recording(300, 3)
    w = XdfWriter(path)
    eeg = w.add_stream("eeg", "EEG", 3, rec.sfreq, "float32", channel_names=rec.channel_names)
    w.write_samples(eeg, rec.data[:200], rec.timestamps[:200])
    w.flush()
    with pytest.warns(XdfWarning, match="no footer"):
        partial = read_xdf(path)
    np.testing.assert_array_equal(partial.data, rec.data[:200])
    w.write_samples(eeg, rec.data[200:], rec.timestamps[200:])
    w.close()
    np.testing.assert_array_equal(read_xdf(path).data, rec.data)


def test_killed_writer_loses_at_most_the_unflushed_chunk(tmp_path: Path) -> None:
    path = tmp_path / "killed.xdf"
    script = textwrap.dedent(
        f"""
        import os, signal
        import numpy as np
        from rtdecode.io.xdf import XdfWriter
        w = XdfWriter({str(path)!r})
        eeg = w.add_stream("eeg", "EEG", 2, 100.0, "float32")
        for i in range(6):
            block = np.arange(i * 100, (i + 1) * 100, dtype=np.float32)
            w.write_samples(eeg, np.column_stack([block, -block]), block / 100.0)
            if i < 5:
                w.flush()  # the sixth block stays in the buffer and dies with the process
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, timeout=60)
    assert done.returncode == -9, done.stderr.decode()
    with pytest.warns(XdfWarning):
        rec = read_xdf(path)
    assert 500 <= rec.n_samples <= 600
    np.testing.assert_array_equal(rec.data[:, 0], np.arange(rec.n_samples))


# --- choosing streams -------------------------------------------------------------------------


def write_streams(path: Path, streams: list[tuple[str, str, str, int, float, int]]) -> None:
    """Write (name, type, format, channels, srate, n_samples) streams with counter values."""
    with XdfWriter(path) as w:
        for name, type_, fmt, channels, srate, n in streams:
            sid = w.add_stream(name, type_, channels, srate, fmt)
            stamps = 50.0 + np.arange(n) / (srate or 10.0)
            if fmt == "string":
                w.write_samples(sid, [f"{name}-{i}" for i in range(n)], stamps)
            else:
                w.write_samples(sid, np.repeat(np.arange(n)[:, None], channels, axis=1), stamps)


def test_stream_choice_and_names(tmp_path: Path) -> None:
    path = tmp_path / "choice.xdf"
    write_streams(
        path,
        [
            ("aux", "Accelerometer", "float32", 3, 50.0, 400),
            ("empty-eeg", "eeg", "float32", 8, 500.0, 0),
            ("amp", "EEG", "int32", 2, 250.0, 20),
            ("stim", "Markers", "string", 1, 0.0, 3),
            ("codes", "Markers", "int32", 1, 0.0, 2),
            ("ctrl", "Control", "string", 1, 0.0, 1),
        ],
    )
    rec = read_xdf(path)  # first EEG-typed numeric stream with samples
    assert rec.metadata["stream_name"] == "amp" and rec.sfreq == 250.0
    assert rec.channel_names == ["ch1", "ch2"]  # no <desc><channels>
    # All string streams and the numeric ones of marker type (a presenter's int codes), merged.
    assert rec.metadata["marker_stream"] == "stim, codes, ctrl"
    assert len(rec.markers) == 6 and {"0", "1"} <= {m.text for m in rec.markers}
    assert [m.timestamp for m in rec.markers] == sorted(m.timestamp for m in rec.markers)

    rec = read_xdf(path, eeg_stream="aux", marker_stream="codes")
    assert rec.n_channels == 3 and rec.n_samples == 400
    assert [m.text for m in rec.markers] == ["0", "1"]  # numeric event codes as text

    with pytest.raises(ValueError, match=r"eeg_stream='nope'.*'amp'"):
        read_xdf(path, eeg_stream="nope")
    with pytest.raises(ValueError, match="marker_stream='nope'"):
        read_xdf(path, marker_stream="nope")


def test_without_eeg_type_the_largest_numeric_stream_is_used(tmp_path: Path) -> None:
    path = tmp_path / "noeeg.xdf"
    write_streams(path, [("small", "data", "float32", 1, 10.0, 5), ("big", "data", "double64", 4, 10.0, 5)])
    assert read_xdf(path).metadata["stream_name"] == "big"


def test_no_numeric_stream_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "markers_only.xdf"
    write_streams(path, [("stim", "Markers", "string", 1, 0.0, 3)])
    with pytest.raises(XdfError, match=r"no numeric.*'stim' \(type 'Markers', 1 ch, string, 3 samples\)"):
        read_xdf(path)


def test_irregular_eeg_gets_its_measured_rate(tmp_path: Path) -> None:
    path = tmp_path / "irregular.xdf"
    write_streams(path, [("amp", "EEG", "float32", 1, 0.0, 11)])  # stamps every 0.1 s
    assert read_xdf(path).sfreq == pytest.approx(10.0)


def test_volts_are_converted_to_microvolts(tmp_path: Path) -> None:
    path = tmp_path / "volts.xdf"
    with XdfWriter(path) as w:
        sid = w.add_stream("amp", "EEG", 2, 100.0, "double64", channel_names=["a", "b"], unit="volts")
        w.write_samples(sid, np.array([[1e-6, -2e-6], [3e-6, 0.0]]), [0.0, 0.01])
    np.testing.assert_allclose(read_xdf(path).data, [[1.0, -2.0], [3.0, 0.0]], rtol=1e-6)


def test_list_streams(written: tuple[Path, Recording]) -> None:
    path, rec = written
    eeg, markers = list_streams(path)
    assert eeg == {
        "stream_id": 1,
        "name": "rtdecode-EEG",
        "type": "EEG",
        "source_id": "",
        "channel_count": rec.n_channels,
        "channel_format": "float32",
        "nominal_srate": rec.sfreq,
        "n_samples": rec.n_samples,
        "first_timestamp": rec.timestamps[0],
        "last_timestamp": rec.timestamps[-1],
    }
    assert markers["n_samples"] == len(rec.markers) and markers["channel_format"] == "string"


# --- bad and damaged files --------------------------------------------------------------------


def test_missing_empty_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_xdf(tmp_path / "missing.xdf")
    (tmp_path / "empty.xdf").write_bytes(b"")
    with pytest.raises(XdfError, match=r"empty\.xdf is not an XDF file: it is only 0 bytes"):
        read_xdf(tmp_path / "empty.xdf")
    (tmp_path / "data.csv").write_text("time,value\n0,1\n")
    with pytest.raises(XdfError, match=r"data\.csv is not an XDF file: it starts with b'time'"):
        read_xdf(tmp_path / "data.csv")
    with pytest.raises(XdfError, match="directory"):
        read_xdf(tmp_path)


def check_prefix_or_error(path: Path, rec: Recording) -> str:
    """Read a damaged copy: either an exact prefix of ``rec`` or an XdfError, nothing else."""
    try:
        back = read_quietly(path)
    except XdfError as e:
        assert str(path) in str(e)
        return "error"
    n = back.n_samples
    assert n <= rec.n_samples
    np.testing.assert_array_equal(back.data, rec.data[:n])
    np.testing.assert_array_equal(back.timestamps, rec.timestamps[:n])
    assert back.markers == rec.markers[: len(back.markers)]
    return "full" if n == rec.n_samples else "prefix"


def test_truncated_files_load_up_to_the_cut(written: tuple[Path, Recording], tmp_path: Path) -> None:
    path, rec = written
    raw = path.read_bytes()
    cuts = sorted({1, 3, 4, 5, 30, *np.linspace(60, len(raw) - 1, 22).astype(int).tolist()})
    outcomes = []
    for cut in cuts:
        damaged = tmp_path / f"cut{cut}.xdf"
        damaged.write_bytes(raw[:cut])
        outcomes.append(check_prefix_or_error(damaged, rec))
    assert outcomes.count("prefix") >= 15  # most cuts keep data, each an exact prefix
    assert outcomes[-1] == "full"  # only the footers were cut off


def test_cut_inside_a_sample_warns_and_drops_that_chunk(
    written: tuple[Path, Recording], tmp_path: Path
) -> None:
    # pyxdf alone would repeat the previous sample's values for a cut sample; we must not
    path, rec = written
    raw = path.read_bytes()
    damaged = tmp_path / "mid_sample.xdf"
    damaged.write_bytes(raw[: len(raw) // 2])
    with pytest.warns(XdfWarning, match="ends inside a chunk"):
        back = read_xdf(damaged)
    assert 0 < back.n_samples < rec.n_samples
    np.testing.assert_array_equal(back.data, rec.data[: back.n_samples])


def test_garbage_in_the_middle(tmp_path: Path) -> None:
    rec = make_recording(1000, 3, sfreq=100.0)
    path = tmp_path / "boundaries.xdf"
    with XdfWriter(path) as w:  # like LabRecorder: boundary chunks between data chunks
        eeg = w.add_stream("eeg", "EEG", 3, rec.sfreq, "float32")
        for start in range(0, rec.n_samples, 100):
            w.write_samples(eeg, rec.data[start : start + 100], rec.timestamps[start : start + 100])
            w.write_boundary()
    raw = path.read_bytes()
    rng = np.random.default_rng(3)
    outcomes = []
    for offset in np.linspace(0, len(raw) - 40, 25).astype(int):
        damaged = bytearray(raw)
        damaged[offset + 4 : offset + 36] = rng.integers(0, 256, 32, dtype=np.uint8).tobytes()
        (tmp_path / "garbage.xdf").write_bytes(bytes(damaged))
        try:
            read_quietly(tmp_path / "garbage.xdf")
            outcomes.append("read")
        except XdfError:
            outcomes.append("error")
    assert outcomes.count("read") >= 20

    # garbage over the header of the third chunk: the rest is found again after the boundary
    damaged = bytearray(raw)
    third = raw.index(b"\x43\xa5\x46\xdc", raw.index(b"\x43\xa5\x46\xdc") + 1) + 16
    damaged[third : third + 8] = b"\xff" * 8
    (tmp_path / "resync.xdf").write_bytes(bytes(damaged))
    with pytest.warns(XdfWarning, match="next boundary"):
        back = read_xdf(tmp_path / "resync.xdf")
    assert back.n_samples == 900
    np.testing.assert_array_equal(back.data[:200], rec.data[:200])
    np.testing.assert_array_equal(back.data[200:], rec.data[300:])
    assert [(g.index, g.missing_samples) for g in back.time_base.gaps] == [(200, 100)]


def test_gzip_compressed_xdf(written: tuple[Path, Recording], tmp_path: Path) -> None:
    path, rec = written
    packed = tmp_path / "recording.xdfz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    np.testing.assert_array_equal(read_xdf(packed).data, rec.data)
    packed.write_bytes(gzip.compress(path.read_bytes())[:-4000])  # truncated archive
    check_prefix_or_error(packed, rec)


# --- files written by other LSL software ------------------------------------------------------


def fixture(name: str) -> Path:
    return FIXTURES / name


def test_minimal_fixture() -> None:
    rec = read_xdf(fixture("minimal.xdf"))
    assert rec.n_samples == 9 and rec.n_channels == 3 and rec.sfreq == 10.0
    assert rec.data[0].tolist() == [192, 255, 238] and rec.data[1].tolist() == [12, 22, 32]
    # raw stamps are 5.1 ... 5.9; both clock offsets are -0.1 s, which clock sync applies
    np.testing.assert_allclose(rec.timestamps, np.arange(9) / 10 + 5.0)
    assert [m.text for m in rec.markers[1:5]] == ["Hello", "World", "from", "LSL"]
    assert rec.metadata["stream_name"] == "SendDataC"


def test_clock_resets_fixture() -> None:
    rec = read_xdf(fixture("clock_resets.xdf"))
    assert rec.metadata["stream_name"] == "BioSemi"
    assert (rec.n_samples, rec.n_channels, len(rec.markers)) == (27815, 8, 175)
    # after the per-segment clock correction, time never runs backwards
    assert np.all(np.diff(rec.timestamps) > 0)


def test_empty_streams_fixture() -> None:
    path = fixture("empty_streams.xdf")
    assert [s["n_samples"] for s in list_streams(path)] == [0, 10, 1, 0]
    rec = read_xdf(path)
    assert rec.metadata["stream_name"] == "Data stream: test stream 0 counter"
    assert rec.data[:, 0].tolist() == list(range(10)) and rec.sfreq == 1.0
    assert rec.channel_names == ["ch:00"]
    assert [m.text for m in rec.markers] == ['{"state": 2}']


# --- a real LabRecorder -----------------------------------------------------------------------

LABRECORDER_SCRIPT = """
import sys, time
import pylsl, labrecorder

path, name = sys.argv[1], sys.argv[2]
info = pylsl.StreamInfo(name, "EEG", 2, 200.0, "float32", name)
channels = info.desc().append_child("channels")
for label in ("counter", "zero"):
    channels.append_child("channel").append_child_value("label", label).append_child_value("unit", "microvolts")
eeg = pylsl.StreamOutlet(info)
marks = pylsl.StreamOutlet(pylsl.StreamInfo(name + "-m", "Markers", 1, 0.0, "string", name + "-m"))
found = pylsl.resolve_byprop("source_id", name, 1, 5.0) + pylsl.resolve_byprop("source_id", name + "-m", 1, 5.0)
assert len(found) == 2, found
# the binding writes the file when the object is destroyed; collect_offsets=False crashes it
recording = labrecorder.Recording(path, found)
deadline = time.monotonic() + 10
while not (eeg.have_consumers() and marks.have_consumers()) and time.monotonic() < deadline:
    time.sleep(0.01)
counter = 0
for block in range(20):
    eeg.push_chunk([[float(counter + k), 0.0] for k in range(10)])
    counter += 10
    if block % 4 == 0:
        marks.push_sample([f"block {block}"])
    time.sleep(0.05)
time.sleep(0.5)
recording.stop()
del recording
print("pushed", counter)
"""


def test_labrecorder_recording_reads_without_gaps(tmp_path: Path) -> None:
    pytest.importorskip("pylsl")
    pytest.importorskip("labrecorder")
    path = tmp_path / "labrecorder.xdf"
    name = f"rtdecode-test-{uuid.uuid4().hex[:12]}"
    done = subprocess.run(
        [sys.executable, "-c", LABRECORDER_SCRIPT, str(path), name], capture_output=True, timeout=90
    )
    assert done.returncode == 0, done.stdout.decode()[-2000:] + done.stderr.decode()[-2000:]
    rec = read_xdf(path)
    assert rec.metadata["stream_name"] == name
    assert rec.channel_names == ["counter", "zero"] and rec.sfreq == 200.0
    counter = rec.data[:, 0]
    assert rec.n_samples >= 100, f"only {rec.n_samples} of 200 samples recorded"
    assert np.all(np.diff(counter) == 1), "the counter channel has gaps or repeats"
    assert np.all(np.diff(rec.timestamps) > 0)
    assert [m.text for m in rec.markers] == [f"block {b}" for b in range(0, 20, 4)]
