"""EEG and marker stream choosers fed by a background listing of the visible LSL streams."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from gui.discovery import NONE_MARKERS, StreamChoice
from gui.engine_bridge import StreamDiscoverer


class StreamPicker(QtWidgets.QWidget):
    """Two editable drop-downs (EEG, markers) and a Refresh button.

    Items are the streams LSL can see; the text may also be typed as a query (``name=X``,
    ``type=EEG``, ``source_id=Z`` or a bare name) for a stream that has not appeared yet.

    Parameters
    ----------
    markers_label : str
        Label of the marker row.
    optional_markers : bool
        Offer ``none_label`` as the first marker choice.
    none_label : str
        What choosing no marker stream means here.
    auto_markers : bool
        After a refresh, pick the likely marker stream by itself (else keep ``none_label``).
    wait_time : float
        Seconds each refresh listens.
    """

    listed = QtCore.Signal(int)  # number of streams found

    def __init__(
        self,
        markers_label: str = "Markers",
        optional_markers: bool = True,
        none_label: str = NONE_MARKERS,
        auto_markers: bool = True,
        wait_time: float = 1.0,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self.optional_markers = optional_markers
        self.none_label = none_label
        self.auto_markers = auto_markers
        self.discoverer = StreamDiscoverer(wait_time, self)
        self.discoverer.found.connect(self._fill)
        self.discoverer.failed.connect(self._failed)
        layout = QtWidgets.QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.eeg = self._combo()
        self.markers = self._combo()
        self.refresh_button = QtWidgets.QPushButton("Refresh")
        self.refresh_button.setToolTip("list the LSL streams visible on the network")
        self.refresh_button.clicked.connect(self.refresh)
        self.status = QtWidgets.QLabel("")
        self.status.setStyleSheet("color: #555;")
        self.status.setWordWrap(True)
        self.eeg_note = QtWidgets.QLabel("")
        self.eeg_note.setStyleSheet("color: #1d5a2c;")
        self.eeg_note.hide()
        layout.addWidget(QtWidgets.QLabel("EEG stream"), 0, 0)
        layout.addWidget(self.eeg, 0, 1)
        layout.addWidget(self.eeg_note, 0, 1)
        layout.addWidget(self.refresh_button, 0, 2)
        layout.addWidget(QtWidgets.QLabel(markers_label), 1, 0)
        layout.addWidget(self.markers, 1, 1, 1, 2)
        layout.addWidget(self.status, 2, 1, 1, 2)
        layout.setColumnStretch(1, 1)
        self._preset_eeg = ""
        self._preset_markers = ""
        self.choices: list[StreamChoice] = []
        self._listed_once = False
        if optional_markers:
            self.markers.addItem(self.none_label, None)

    @staticmethod
    def _combo() -> QtWidgets.QComboBox:
        combo = QtWidgets.QComboBox()
        combo.setEditable(True)
        combo.setInsertPolicy(QtWidgets.QComboBox.InsertPolicy.NoInsert)
        combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(12)
        return combo

    def preset(self, eeg: str | None = None, markers: str | None = None) -> None:
        """Choose these streams (queries or names) now and after every refresh that finds them."""
        if eeg:
            self._preset_eeg = eeg
            self.eeg.setEditText(eeg)
        if markers:
            self._preset_markers = markers
            self.markers.setEditText(markers)

    def set_eeg_note(self, text: str | None) -> None:
        """Show ``text`` instead of the EEG choice (the source is decided elsewhere); None: the choice."""
        self.eeg_note.setText(text or "")
        self.eeg_note.setVisible(bool(text))
        self.eeg.setVisible(not text)

    def refresh(self) -> None:
        """List the streams in a worker thread (the window stays responsive)."""
        if self.discoverer.refresh():
            self.refresh_button.setEnabled(False)
            self.status.setText("listening…")

    def _failed(self, message: str) -> None:
        self.refresh_button.setEnabled(True)
        self.status.setText(message)

    def _fill(self, choices: list[StreamChoice]) -> None:
        self.refresh_button.setEnabled(True)
        keep_eeg, keep_markers = self.eeg.currentText(), self.markers.currentText()
        if not self._listed_once and keep_markers == self.none_label:
            keep_markers = ""  # the initial placeholder, not a choice the user made
        self._listed_once = True
        self.choices = choices
        data = [c for c in choices if not c.is_markers]
        markers = [c for c in choices if c.is_markers]
        self.eeg.clear()
        for c in data:
            self.eeg.addItem(c.label, c)
        self.markers.clear()
        if self.optional_markers:
            self.markers.addItem(self.none_label, None)
        for c in markers:
            self.markers.addItem(c.label, c)
        self._choose(self.eeg, keep_eeg, self._preset_eeg, data, prefer_type="eeg")
        eeg_choice = self.eeg.currentData()
        paired = f"{eeg_choice.name}-markers" if isinstance(eeg_choice, StreamChoice) else ""
        if self.auto_markers:
            self._choose(
                self.markers,
                keep_markers,
                self._preset_markers,
                markers,
                prefer_type="markers",
                prefer_name=paired,
            )
        else:
            self._choose(self.markers, keep_markers, self._preset_markers, [])
        self.status.setText(f"{len(data)} data, {len(markers)} marker stream(s)")
        self.listed.emit(len(choices))

    def _choose(
        self,
        combo: QtWidgets.QComboBox,
        kept: str,
        preset: str,
        choices: list[StreamChoice],
        prefer_type: str = "",
        prefer_name: str = "",
    ) -> None:
        """Re-select what was chosen, else the preset, else the most likely stream."""
        for wanted in (kept, preset):
            if not wanted:
                continue
            index = combo.findText(wanted)
            if index < 0:
                index = next((i for i in range(combo.count()) if _matches(combo.itemData(i), wanted)), -1)
            if index >= 0:
                combo.setCurrentIndex(index)
                return
        if preset:  # not visible (yet): keep the typed query
            combo.setEditText(preset)
            return
        # The stream named like the EEG one ("X-markers") first, then any of the expected type.
        for test in (
            lambda c: bool(prefer_name) and c.name == prefer_name,
            lambda c: c.type.lower() == prefer_type,
        ):
            for i in range(combo.count()):
                c = combo.itemData(i)
                if isinstance(c, StreamChoice) and test(c):
                    combo.setCurrentIndex(i)
                    return
        if combo.count() and not (self.optional_markers and combo is self.markers):
            combo.setCurrentIndex(0)

    def _query(self, combo: QtWidgets.QComboBox) -> str | None:
        text = combo.currentText().strip()
        if not text or text == self.none_label:
            return None
        index = combo.findText(text)
        data = combo.itemData(index) if index >= 0 else None
        return data.query if isinstance(data, StreamChoice) else text

    def eeg_query(self) -> str | None:
        """Query of the chosen EEG stream (None when nothing is chosen)."""
        return self._query(self.eeg)

    def marker_query(self) -> str | None:
        """Query of the chosen marker stream; None for none (sliding-window decoding)."""
        return self._query(self.markers)


def _matches(choice: object, wanted: str) -> bool:
    if not isinstance(choice, StreamChoice):
        return False
    wanted = wanted.strip()
    key, sep, value = wanted.partition("=")
    if not sep:
        return choice.name == wanted
    return {"name": choice.name, "type": choice.type, "source_id": choice.source_id}.get(key.strip()) == value
