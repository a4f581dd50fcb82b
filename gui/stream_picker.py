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
        shared = {n for n in (c.name for c in choices) if sum(c.name == n for c in choices) > 1}
        self.eeg.clear()
        for c in data:
            self.eeg.addItem(_label(c, shared), c)
        self.markers.clear()
        if self.optional_markers:
            self.markers.addItem(self.none_label, None)
        for c in markers:
            self.markers.addItem(_label(c, shared), c)
        eeg_pool, eeg_text = self._pool(self.eeg, keep_eeg, self._preset_eeg, data, "eeg")
        if keep_markers == self.none_label:  # chosen by the user: sliding-window decoding
            marker_pool, marker_text = [], ""
        elif self.auto_markers or keep_markers or self._preset_markers:
            marker_pool, marker_text = self._pool(
                self.markers,
                keep_markers,
                self._preset_markers,
                markers if self.auto_markers else [],
                "markers",
            )
        else:
            marker_pool, marker_text = [], ""
        note = self._pair(eeg_pool, eeg_text, marker_pool, marker_text)
        counts = f"{len(data)} data, {len(markers)} marker stream(s)"
        self.status.setText(f"{counts}. {note}" if note else counts)
        self.listed.emit(len(choices))

    def _pool(
        self,
        combo: QtWidgets.QComboBox,
        kept: str,
        preset: str,
        auto: list[StreamChoice],
        prefer_type: str,
    ) -> tuple[list[StreamChoice], str]:
        """The listed streams the choice may be, and the text that asks for them.

        What was chosen before (its label, or a typed query), else the preset, else (``auto``)
        the streams of the expected type. A typed query or preset that nothing matches yet comes
        back with no streams, to stay in the box as typed.
        """
        for wanted in (kept, preset):
            if not wanted or wanted == self.none_label:
                continue
            index = combo.findText(wanted)
            if index >= 0 and isinstance(combo.itemData(index), StreamChoice):
                return [combo.itemData(index)], wanted
            matches = [combo.itemData(i) for i in range(combo.count()) if _matches(combo.itemData(i), wanted)]
            if matches or wanted == preset:
                return matches, wanted
        typed = [c for c in auto if c.type.lower() == prefer_type]
        if typed:
            return typed, f"type={typed[0].type}"
        if auto and prefer_type == "eeg":
            return auto[:1], ""  # no stream says EEG: offer the first data stream, as a guess
        return [], ""

    def _pair(
        self, eeg_pool: list[StreamChoice], eeg_text: str, marker_pool: list[StreamChoice], marker_text: str
    ) -> str:
        """Select the EEG and marker streams of one source; returns what to say about the choice.

        Streams are paired as ``rtdecode live`` pairs them (same host and session, source_id and
        name that extend the EEG stream's). When nothing tells them apart, both boxes keep the text
        that asks for them, so that Connect fails with the candidates listed.
        """
        from rtdecode.streams.pairing import AmbiguousStreamsError, pair_streams

        rows = [
            ("EEG stream", self.eeg, eeg_pool, eeg_text),
            ("marker stream", self.markers, marker_pool, marker_text),
        ]
        asked = [row for row in rows if row[2]]
        for _, combo, pool, text in rows:
            if not pool:
                self._show(combo, None, text)
        if not asked:
            return ""
        try:
            pairing = pair_streams(
                [[c.identity() for c in pool] for _, _, pool, _ in asked],
                [f"{what} {text}".rstrip() for what, _, _, text in asked],
            )
        except AmbiguousStreamsError as error:
            for _, combo, _, text in asked:
                self._show(combo, None, text)
            return str(error)
        for (_, combo, _, _), chosen in zip(asked, pairing.chosen, strict=True):
            self._show(combo, chosen.handle, "")
        return pairing.note

    def _show(self, combo: QtWidgets.QComboBox, choice: StreamChoice | None, text: str) -> None:
        """Select ``choice``'s item; else show ``text`` as typed (or the default item)."""
        if choice is not None:
            index = next((i for i in range(combo.count()) if combo.itemData(i) == choice), -1)
            if index >= 0:
                combo.setCurrentIndex(index)
                return
        if text:
            combo.setEditText(text)
        elif combo.count() and not (self.optional_markers and combo is self.markers):
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


def _label(choice: StreamChoice, shared: set[str]) -> str:
    """The item text; streams of a name that several share also show their source_id."""
    return f"{choice.label}  [source_id {choice.source_id}]" if choice.name in shared else choice.label


def _matches(choice: object, wanted: str) -> bool:
    if not isinstance(choice, StreamChoice):
        return False
    wanted = wanted.strip()
    key, sep, value = wanted.partition("=")
    if not sep:
        return choice.name == wanted
    return {"name": choice.name, "type": choice.type, "source_id": choice.source_id}.get(key.strip()) == value
