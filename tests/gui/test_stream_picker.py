"""The stream picker chooses the EEG and marker streams of one source, as `rtdecode live` does.

The listing is handed to the picker the way its worker thread hands it over (the discoverer's
``found`` signal), so no LSL stream is needed.
"""

from __future__ import annotations

import pylsl

from gui.discovery import StreamChoice
from gui.stream_picker import StreamPicker


def eeg(name: str, source_id: str, host: str = "lab-pc", created: float = 0.0) -> StreamChoice:
    return StreamChoice(
        name, "EEG", source_id, host, 8, 250.0, pylsl.cf_float32, created_at=created, uid=source_id
    )


def markers(name: str, source_id: str, host: str = "lab-pc", created: float = 0.0) -> StreamChoice:
    return StreamChoice(
        name,
        "Markers",
        source_id,
        host,
        1,
        0.0,
        pylsl.cf_string,
        created_at=created,
        uid=f"{source_id}|{created}",
    )


def picker(qtbot, eeg_preset: str | None = None, markers_preset: str | None = None) -> StreamPicker:
    widget = StreamPicker()
    qtbot.addWidget(widget)
    widget.preset(eeg_preset, markers_preset)
    return widget


def listed(widget: StreamPicker, choices: list[StreamChoice]) -> None:
    widget.discoverer.found.emit(choices)


def test_same_named_sources_are_paired_and_the_lists_tell_them_apart(qtbot):
    two = [
        eeg("X", "replay-a", created=1.0),
        markers("X-markers", "replay-a-markers", created=1.0),
        eeg("X", "replay-b", created=2.0),
        markers("X-markers", "replay-b-markers", created=2.0),
    ]
    widget = picker(qtbot, "X", "X-markers")
    listed(widget, two)
    assert (widget.eeg_query(), widget.marker_query()) == ("source_id=replay-b", "source_id=replay-b-markers")
    assert "most recently started of 2 sources" in widget.status.text()
    assert "[source_id replay-a]" in widget.eeg.itemText(0) + widget.eeg.itemText(1)
    # the user picks the other EEG stream: its own markers follow on the next listing
    widget.eeg.setCurrentIndex(
        next(i for i in range(widget.eeg.count()) if "replay-a" in widget.eeg.itemText(i))
    )
    widget.markers.setEditText("")
    listed(widget, two)
    assert (widget.eeg_query(), widget.marker_query()) == ("source_id=replay-a", "source_id=replay-a-markers")


def test_copies_nothing_tells_apart_stay_as_typed_and_the_status_says_why(qtbot):
    copies = [eeg("X", "same", created=1.0), markers("X-markers", "same-markers", created=1.0)]
    copies += [eeg("X", "same", created=2.0), markers("X-markers", "same-markers", created=2.0)]
    copies[2] = StreamChoice(
        "X", "EEG", "same", "lab-pc", 8, 250.0, pylsl.cf_float32, created_at=2.0, uid="other"
    )
    widget = picker(qtbot, "X", "X-markers")
    listed(widget, copies)
    # Connect would ask for these names, and the live session refuses them listing the candidates
    assert (widget.eeg_query(), widget.marker_query()) == ("X", "X-markers")
    assert "cannot tell which streams belong to one source" in widget.status.text()


def test_a_lab_with_an_amplifier_and_a_presenter_is_chosen_as_before(qtbot):
    lab = [eeg("BrainAmp", "amp-1", host="acq"), markers("psychopy", "presenter", host="stim")]
    widget = picker(qtbot)
    listed(widget, lab)
    assert (widget.eeg_query(), widget.marker_query()) == ("source_id=amp-1", "source_id=presenter")
    assert widget.status.text() == "1 data, 1 marker stream(s)"
    # sliding window chosen by the user stays chosen after a refresh
    widget.markers.setCurrentIndex(0)
    listed(widget, lab)
    assert widget.marker_query() is None
