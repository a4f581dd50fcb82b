"""Files written by MNE's own writers (BrainVision through pybv, EDF through edfio) read back as
recordings whose annotations are the project's markers; export to MNE objects."""

from __future__ import annotations

import numpy as np
import pytest

mne = pytest.importorskip("mne")

from calibration.epochs import epochs_from_recording  # noqa: E402
from rtdecode.config import PipelineConfig  # noqa: E402
from rtdecode.io import read_recording  # noqa: E402
from rtdecode.io.marker_mapping import MarkerMapping  # noqa: E402
from rtdecode.io.mne_io import epochs_to_mne, read_mne, to_mne_raw  # noqa: E402
from tests.recording_files import MNE_SFREQ as SFREQ  # noqa: E402
from tests.recording_files import mne_raw_with_annotations, write_mne_file  # noqa: E402


@pytest.mark.parametrize("suffix", [".vhdr", ".edf", ".set", "_raw.fif"])
def test_mne_written_files_read_back_with_markers(tmp_path, suffix):
    path = tmp_path / f"session{suffix}"
    raw, onsets, codes = write_mne_file(path)
    recording = read_mne(path, events="1=face,2=house")
    assert recording.sfreq == SFREQ and recording.channel_names == ["Oz", "Pz", "Cz"]
    # Microvolts, samples as rows; EDF stores 16-bit integers, BrainVision floats or scaled ints.
    np.testing.assert_allclose(recording.data, raw.get_data().T * 1e6, atol=0.05, rtol=1e-3)
    stimuli = recording.stimulus_events()
    assert len(stimuli) == len(onsets)
    np.testing.assert_allclose([t for t, _ in stimuli], onsets, atol=1.5 / SFREQ)
    assert [e["class"] for _, e in stimuli] == ["face" if c == "1" else "house" for c in codes]
    assert [e["label"] for _, e in stimuli] == [0 if c == "1" else 1 for c in codes]
    assert sorted({e["block"] for _, e in stimuli}) == [0, 1, 2]  # blocks at the two pauses
    others = [m.text for m in recording.markers if "99" in m.text]
    assert len(others) == 1  # the response code is kept as a plain marker
    # The project's own epoching takes it as a calibration session.
    pipeline = PipelineConfig(sfreq=SFREQ)
    epochs = epochs_from_recording(recording, pipeline)
    assert len(epochs) == len(onsets) and epochs.class_names == ["face", "house"]
    # And replay / predict / calibrate reach it through read_recording.
    assert len(read_recording(path, events="1=face,2=house").stimulus_events()) == len(onsets)


def test_event_mapping_matches_brainvision_style_codes_and_refuses_nonsense(tmp_path):
    mapping = MarkerMapping.parse("S1=house, S2=face")
    assert mapping.event("Stimulus/S  1")["label"] == 0 and mapping.event("Stimulus/S  3") is None
    with pytest.raises(ValueError, match="CODE=CLASS"):
        MarkerMapping.parse("S1:house")
    raw, _, _ = mne_raw_with_annotations()
    path = tmp_path / "s.edf"
    mne.export.export_raw(path, raw, verbose="error")
    with pytest.raises(
        ValueError,
        match=r"none of the codes of --events 7=cat,8=dog occurs .* its marker codes: 2 \(39\), 1 \(38\), 99 \(1\)",
    ):
        read_mne(path, events="7=cat,8=dog")
    assert read_mne(path).stimulus_events() == []  # no mapping: every event stays a plain marker


def test_export_to_mne_objects(tmp_path):
    raw, onsets, _ = mne_raw_with_annotations()
    path = tmp_path / "s.edf"
    mne.export.export_raw(path, raw, verbose="error")
    recording = read_mne(path, events="1=face,2=house")
    back = to_mne_raw(recording)
    np.testing.assert_allclose(back.get_data(), recording.data.T * 1e-6, rtol=1e-6)
    stim = [a for a in back.annotations if a["description"].startswith("stimulus/")]
    assert len(stim) == len(onsets) and stim[0]["description"] in ("stimulus/face", "stimulus/house")
    epochs = epochs_from_recording(recording, PipelineConfig(sfreq=SFREQ))
    mne_epochs = epochs_to_mne(
        epochs.epochs, epochs.labels, epochs.class_names, epochs.channel_names, SFREQ, 0.02
    )
    assert mne_epochs.get_data().shape == (len(epochs), 3, epochs.epochs.shape[1])
    assert set(mne_epochs.event_id) == {"face", "house"} and len(mne_epochs["face"]) == np.sum(
        epochs.labels == 0
    )


def test_a_file_inside_a_bids_dataset_is_read_with_mne_bids(tmp_path):
    mne_bids = pytest.importorskip("mne_bids")
    raw, onsets, _ = mne_raw_with_annotations()
    source = tmp_path / "source.edf"
    mne.export.export_raw(source, raw, verbose="error")
    bids_path = mne_bids.BIDSPath(subject="01", task="faces", root=tmp_path / "bids", datatype="eeg")
    written = mne_bids.write_raw_bids(
        mne.io.read_raw_edf(source, verbose="error"), bids_path, allow_preload=False, verbose="error"
    )
    recording = read_mne(written.fpath, events="1=face,2=house")
    assert recording.metadata["source"] == "bids" and len(recording.stimulus_events()) == len(onsets)


def test_a_continuous_file_without_breaks_gets_runs_of_consecutive_trials_as_every_format(tmp_path):
    # One run of 90 stimuli every 0.6 s: no break between runs anywhere.
    raw, _, _ = mne_raw_with_annotations()
    onsets = 1.0 + 0.6 * np.arange(90)
    raw.set_annotations(mne.Annotations(onsets, np.zeros(90), ["1" if i % 2 else "2" for i in range(90)]))
    edf = tmp_path / "continuous.edf"
    mne.export.export_raw(edf, raw, verbose="error")
    recording = read_recording(edf, events="1=face,2=house")
    blocks, source = recording.blocks()
    # The one rule of io.blocks, as for an XDF: six runs of fifteen consecutive trials.
    assert source == "6 runs of consecutive stimuli: the pauses between runs give 1 block"
    np.testing.assert_array_equal(blocks, np.repeat(np.arange(6), 15))
    from rtdecode.io.xdf import write_xdf

    write_xdf(tmp_path / "continuous.xdf", recording)
    np.testing.assert_array_equal(read_recording(tmp_path / "continuous.xdf").blocks()[0], blocks)
    # --blocks runs:N says how many; the file's reader takes no block option of its own.
    three = read_recording(edf, events="1=face,2=house", blocks="runs:3")
    np.testing.assert_array_equal(three.blocks()[0], np.repeat(np.arange(3), 30))
    with pytest.raises(ValueError, match="cannot use the option"):
        read_recording(edf, n_blocks=3)
