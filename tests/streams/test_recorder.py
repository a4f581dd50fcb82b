"""Recording LSL streams to XDF: no lost sample, markers, clear errors, a killed recorder's file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
import warnings
from pathlib import Path

import numpy as np
import pytest

pylsl = pytest.importorskip("pylsl")
pyxdf = pytest.importorskip("pyxdf")

from rtdecode import cli  # noqa: E402
from rtdecode.cli import main  # noqa: E402
from rtdecode.io.xdf import XdfWarning, read_xdf  # noqa: E402
from rtdecode.streams.lsl_utils import StreamNotFoundError, StreamQuery, make_outlet  # noqa: E402
from rtdecode.streams.recorder import Recorder  # noqa: E402

SFREQ = 500.0
CHUNK_SIZES = [1, 7, 33, 250, 3, 120, 64, 2, 1, 500, 11]


def unique_name() -> str:
    return f"test-rec-{uuid.uuid4().hex[:12]}"


def counter_outlet(name: str) -> pylsl.StreamOutlet:
    return make_outlet(name, "EEG", 3, SFREQ, "float32", name, channel_names=["counter", "Cz", "Pz"])


def push_counter(outlet: pylsl.StreamOutlet, start: int, size: int, t0: float) -> None:
    """Push samples start..start+size-1, stamped t0 + k / SFREQ."""
    k = np.arange(start, start + size)
    block = np.zeros((size, 3), dtype=np.float32)
    block[:, 0] = k
    block[:, 1] = np.sin(k)
    outlet.push_chunk(block, (t0 + k / SFREQ).tolist())


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_stream_queries_parse() -> None:
    assert StreamQuery.parse("name=Amp") == StreamQuery("name", "Amp")
    assert StreamQuery.parse("Amp One") == StreamQuery("name", "Amp One")
    assert StreamQuery.parse("type=EEG") == StreamQuery("type", "EEG")
    assert StreamQuery.parse("source_id=a=b") == StreamQuery("source_id", "a=b")
    with pytest.raises(ValueError, match="name=NAME, type=TYPE or source_id=ID"):
        StreamQuery.parse("host=lab")
    with pytest.raises(ValueError, match="needs a value"):
        StreamQuery.parse("type=")


def test_recorder_refuses_bad_arguments(tmp_path: Path) -> None:
    existing = tmp_path / "taken.xdf"
    existing.write_bytes(b"XDF:")
    with pytest.raises(FileExistsError, match="overwrite"):
        Recorder(existing, ["x"])
    with pytest.raises(ValueError, match="streams is empty"):
        Recorder(tmp_path / "a.xdf", [])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Recorder(tmp_path / "no" / "a.xdf", ["x"])


def test_records_every_sample_and_marker(tmp_path: Path) -> None:
    name = unique_name()
    eeg = counter_outlet(name)
    marks = make_outlet(f"{name}-markers", "Markers", 1, 0.0, "string", f"{name}-markers")
    path = tmp_path / "rec.xdf"
    recorder = Recorder(path, [f"name={name}", f"source_id={name}-markers"], resolve_timeout=10.0)
    recorder.start()
    t0 = pylsl.local_clock()
    texts, pushed = [], 0
    try:
        for i, size in enumerate(CHUNK_SIZES * 2):
            push_counter(eeg, pushed, size, t0)
            pushed += size
            if i % 3 == 0:
                texts.append(json.dumps({"event": "stimulus", "label": i, "class": "café"}))
                marks.push_sample([texts[-1]], t0 + pushed / SFREQ)
            time.sleep(0.01)
        wait_for(lambda: [s.n_samples for s in recorder.stats()] == [pushed, len(texts)])
    finally:
        stats = recorder.stop()
    assert [(s.name, s.n_samples, s.error) for s in stats] == [
        (name, pushed, None),
        (f"{name}-markers", len(texts), None),
    ]
    assert all(s.n_clock_offsets >= 2 for s in stats)  # one at the start, one at the stop

    # the reference reader
    streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=True, dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in streams}
    counter = by_name[name]["time_series"][:, 0]
    np.testing.assert_array_equal(counter, np.arange(pushed))
    np.testing.assert_allclose(by_name[name]["time_stamps"], t0 + np.arange(pushed) / SFREQ, atol=1e-3)
    assert [row[0] for row in by_name[f"{name}-markers"]["time_series"]] == texts
    assert len(by_name[name]["clock_times"]) >= 2
    assert int(by_name[name]["footer"]["info"]["sample_count"][0]) == pushed

    # the project's reader: channel labels and units come through, no warning (footers written)
    with warnings.catch_warnings():
        warnings.simplefilter("error", XdfWarning)
        rec = read_xdf(path)
    assert rec.channel_names == ["counter", "Cz", "Pz"] and rec.sfreq == SFREQ
    np.testing.assert_array_equal(rec.data[:, 0], np.arange(pushed))
    assert [m.text for m in rec.markers] == texts


def test_missing_stream_times_out_with_the_visible_streams(tmp_path: Path) -> None:
    present = unique_name()
    _outlet = counter_outlet(present)  # noqa: F841 - must stay alive to be visible
    missing = unique_name()
    path = tmp_path / "never.xdf"
    recorder = Recorder(path, [f"name={present}", f"name={missing}"], resolve_timeout=1.0)
    with pytest.raises(StreamNotFoundError) as caught:
        recorder.start()
    message = str(caught.value)
    assert f"name={missing}" in message and f"name={present}" not in message
    assert f"'{present}' (type 'EEG', 3 ch, 500 Hz" in message  # listed as visible
    assert not path.exists()  # nothing is written before every stream is there


KILLED_SCRIPT = """
import sys, time
from rtdecode.streams.recorder import Recorder
recorder = Recorder(sys.argv[1], ["source_id=" + sys.argv[2]], resolve_timeout=20.0)
recorder.start()
print("READY", flush=True)
time.sleep(120)
"""


def test_killed_recorder_leaves_a_readable_file(tmp_path: Path) -> None:
    name = unique_name()
    eeg = counter_outlet(name)
    path = tmp_path / "killed.xdf"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_SCRIPT, str(path), name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()  # the recorder has connected: what follows is recorded
        assert line.strip() == "READY", child.stderr.read()[-2000:]
        t0 = pylsl.local_clock()
        pushed = 0
        while pushed < 2.5 * SFREQ:  # 2.5 s at real-time pace, 20 ms chunks
            push_counter(eeg, pushed, 10, t0)
            pushed += 10
            time.sleep(max(0.0, t0 + pushed / SFREQ - pylsl.local_clock()))
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()

    with pytest.warns(XdfWarning):  # no footer: the recording was interrupted
        rec = read_xdf(path)
    counter = rec.data[:, 0]
    np.testing.assert_array_equal(counter, np.arange(rec.n_samples))  # contiguous from the first
    lost_s = (pushed - rec.n_samples) / SFREQ
    # flushed every second; the bound is generous for a busy machine
    assert lost_s <= 2.0, f"{lost_s:.2f} s of {pushed / SFREQ:.1f} s lost"


def test_cli_record_for_a_duration(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # other packages' subcommands (calibration imports torch) are not under test here
    monkeypatch.setattr(cli, "_add_plugin_commands", lambda sub: None)
    name = unique_name()
    eeg = counter_outlet(name)
    path = tmp_path / "cli.xdf"
    stop = threading.Event()

    def pump() -> None:
        t0, pushed = pylsl.local_clock(), 0
        while not stop.is_set():
            push_counter(eeg, pushed, 10, t0)
            pushed += 10
            stop.wait(0.02)

    pusher = threading.Thread(target=pump, daemon=True)
    pusher.start()
    try:
        code = main(["record", "--out", str(path), f"name={name}", "--duration", "1.5", "--timeout", "10"])
    finally:
        stop.set()
        pusher.join()
    assert code == 0
    out = capsys.readouterr().out
    assert f"wrote {path}" in out and f"{name} [EEG]:" in out
    rec = read_xdf(path)
    assert rec.n_samples > 0
    assert np.all(np.diff(rec.data[:, 0]) == 1)

    assert (
        main(["record", "--out", str(tmp_path / "x.xdf"), f"name={unique_name()}", "--timeout", "0.5"]) == 1
    )
    assert "no LSL stream matching" in capsys.readouterr().err
