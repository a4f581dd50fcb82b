"""The live decoding window: pick streams and a model, watch the EEG, the decoded class and its
image, record the session.

The window is a view. The engine runs in its own threads (acquisition, decoding, image
generation, recording); :class:`~gui.engine_bridge.EngineBridge` starts and stops it off the GUI
thread and delivers predictions and images as signals. A ~30 Hz timer pulls new samples from
the reader's ring buffer for the EEG view and, a few times a second, the reader's health.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from gui.banner import Banner
from gui.channel_groups import CUSTOM, GROUP_NAMES
from gui.eeg_view import EegView
from gui.engine_bridge import EngineBridge
from gui.image_panel import ImagePanel
from gui.live_session import SessionSettings, WindowSession
from gui.prediction_view import PredictionView
from gui.stream_picker import StreamPicker

log = logging.getLogger(__name__)

FRAME_MS = 33  # ~30 Hz redraw
HEALTH_EVERY = 6  # frames between health updates (~5 Hz)
SCALES = ("auto", "5", "10", "20", "50", "100", "200", "500")


class FrameMeter:
    """Frames per second and time per frame over the last ``span_s`` seconds."""

    def __init__(self, span_s: float = 2.0) -> None:
        self.span_s = span_s
        self._ticks: deque[float] = deque()
        self._costs: deque[float] = deque(maxlen=120)
        self.frames = 0

    def tick(self, now: float, cost_s: float) -> None:
        self.frames += 1
        self._ticks.append(now)
        self._costs.append(cost_s)
        while self._ticks and now - self._ticks[0] > self.span_s:
            self._ticks.popleft()

    @property
    def fps(self) -> float:
        if len(self._ticks) < 2:
            return 0.0
        return (len(self._ticks) - 1) / max(1e-9, self._ticks[-1] - self._ticks[0])

    @property
    def frame_ms(self) -> float:
        return 1000 * sum(self._costs) / len(self._costs) if self._costs else 0.0

    @property
    def max_frame_ms(self) -> float:
        return 1000 * max(self._costs) if self._costs else 0.0


class LiveWindow(QtWidgets.QMainWindow):
    """Live decoding: stream and model choice, EEG view, prediction, image, health, recording.

    Parameters
    ----------
    model : path, optional
        Model bundle folder to preselect.
    eeg, markers : str, optional
        Stream queries to preselect (chosen when a refresh finds them).
    exemplar_dir : path, optional
        Calibration images to show when no generated image is available.
    pipeline : path, optional
        Diffusion weights (diffusers folder, checkpoint file or local Hugging Face model id).
    record_dir : path
        Where the Record button writes ``session-<date>-<time>.xdf``.
    device : str
        Decoder device (``auto``, ``cpu``, ``cuda``).
    latency_ms : float, optional
        The EEG stream's acquisition latency (``--latency-ms``); None keeps the model's.
    events : MarkerMapping, optional
        Which plain marker codes are stimuli of which class (``--events``).
    adaptation : float or None or "bundle"
        Adapt the spatial alignment to the stream (``--adapt-alignment``); the status bar says so.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        eeg: str | None = None,
        markers: str | None = None,
        exemplar_dir: str | Path | None = None,
        record_dir: str | Path = "recordings",
        device: str = "auto",
        pipeline: str | Path | None = None,
        latency_ms: float | None = None,
        events=None,
        adaptation: float | str | None = "bundle",
        parent=None,
    ) -> None:
        super().__init__(parent)
        self.latency_ms = latency_ms
        self.events = events
        self.adaptation = adaptation
        self.setWindowTitle("rtdecode · live decoding")
        self.device = device
        self.bridge = EngineBridge(self)
        self.session: WindowSession | None = None
        self.state = "idle"
        self.recording_path: Path | None = None
        self._recording_since = 0.0
        self.n_predictions = 0
        self.n_images = 0
        self.meter = FrameMeter()
        self._latencies: deque[float] = deque(maxlen=20)
        self._frame = 0
        self._warned_images = False
        self._build(model, eeg, markers, exemplar_dir, record_dir, pipeline)
        self.bridge.started.connect(self._on_started)
        self.bridge.failed.connect(self._on_failed)
        self.bridge.stopped.connect(self._on_stopped)
        self.bridge.prediction.connect(self._on_prediction)
        self.bridge.image.connect(self._on_image)
        self.bridge.recording.connect(self._on_recording)
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._on_frame)
        self.timer.start()
        self._set_state("idle")
        self.resize(1400, 860)

    # -- layout -----------------------------------------------------------------------------
    def _build(self, model, eeg, markers, exemplar_dir, record_dir, pipeline) -> None:
        central = QtWidgets.QWidget()
        root = QtWidgets.QVBoxLayout(central)
        self.banner = Banner()
        root.addWidget(self.banner)
        root.addWidget(self._session_box(model, eeg, markers, exemplar_dir, record_dir, pipeline))

        eeg_box = QtWidgets.QGroupBox("EEG (filtered)")
        eeg_layout = QtWidgets.QVBoxLayout(eeg_box)
        tools = QtWidgets.QHBoxLayout()
        tools.addWidget(QtWidgets.QLabel("Channels"))
        self.group_combo = QtWidgets.QComboBox()
        self.group_combo.addItems(GROUP_NAMES)
        self.group_combo.setCurrentText("occipito-parietal")
        self.custom_edit = QtWidgets.QLineEdit()
        self.custom_edit.setPlaceholderText("custom: O1, Oz, PO*")
        self.custom_edit.setEnabled(False)
        self.scale_combo = QtWidgets.QComboBox()
        self.scale_combo.addItems(SCALES)
        self.channel_count = QtWidgets.QLabel("")
        self.channel_count.setStyleSheet("color: #555;")
        self.scale_value = QtWidgets.QLabel("")
        self.scale_value.setStyleSheet("color: #555;")
        self.scale_value.setMinimumWidth(110)
        tools.addWidget(self.group_combo)
        tools.addWidget(self.custom_edit, 1)
        tools.addWidget(QtWidgets.QLabel("µV / trace"))
        tools.addWidget(self.scale_combo)
        tools.addWidget(self.scale_value)
        tools.addWidget(self.channel_count)
        eeg_layout.addLayout(tools)
        self.eeg_view = EegView()
        eeg_layout.addWidget(self.eeg_view, 1)
        self.group_combo.currentTextChanged.connect(self._apply_group)
        self.custom_edit.editingFinished.connect(self._apply_group)
        self.scale_combo.currentTextChanged.connect(self._apply_scale)

        right = QtWidgets.QWidget()
        right_layout = QtWidgets.QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        self.prediction_view = PredictionView()
        self.image_panel = ImagePanel()
        right_layout.addWidget(self.prediction_view)
        right_layout.addWidget(self.image_panel, 1)

        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        splitter.addWidget(eeg_box)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([820, 520])
        root.addWidget(splitter, 1)
        self.setCentralWidget(central)

        bar = self.statusBar()
        self.health_label = QtWidgets.QLabel("not connected")
        self.latency_label = QtWidgets.QLabel("latency –")
        self.device_label = QtWidgets.QLabel("decoder –")
        self.fps_label = QtWidgets.QLabel("GUI –")
        self.record_label = QtWidgets.QLabel("not recording")
        # Shown only while the alignment adapts (with its separator), so that a session without
        # adaptation looks as before.
        self.adapt_label = QtWidgets.QLabel("")
        self.adapt_label.setToolTip(
            "the spatial alignment follows the stream without labels (channel gains, impedances); "
            "f: weight of each epoch, time constant ~1/f epochs"
        )
        self.adapt_separator = _separator()
        for label in (self.health_label, self.latency_label, self.device_label):
            bar.addPermanentWidget(label)
            bar.addPermanentWidget(_separator())
        bar.addPermanentWidget(self.adapt_label)
        bar.addPermanentWidget(self.adapt_separator)
        bar.addPermanentWidget(self.fps_label)
        bar.addPermanentWidget(_separator())
        bar.addPermanentWidget(self.record_label)
        self._show_adaptation("")

    def _session_box(self, model, eeg, markers, exemplar_dir, record_dir, pipeline) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Session")
        grid = QtWidgets.QGridLayout(box)
        self.picker = StreamPicker()
        self.picker.preset(eeg, markers)
        grid.addWidget(self.picker, 0, 0, 2, 1)

        paths = QtWidgets.QGridLayout()
        self.model_edit = QtWidgets.QLineEdit(str(model) if model else "")
        self.model_edit.setPlaceholderText("model bundle folder (from rtdecode calibrate)")
        self.images_edit = QtWidgets.QLineEdit(str(exemplar_dir) if exemplar_dir else "")
        self.images_edit.setPlaceholderText("optional: calibration images (default: next to the model)")
        self.pipeline_edit = QtWidgets.QLineEdit(str(pipeline) if pipeline else "")
        self.pipeline_edit.setPlaceholderText(
            "optional: diffusion weights (folder, checkpoint or cached model id)"
        )
        self.record_edit = QtWidgets.QLineEdit(str(record_dir))
        for row, (label, edit) in enumerate(
            (
                ("Model", self.model_edit),
                ("Images", self.images_edit),
                ("Diffusion", self.pipeline_edit),
                ("Record to", self.record_edit),
            )
        ):
            browse = QtWidgets.QPushButton("Browse…")
            browse.clicked.connect(lambda _=False, e=edit, t=label: self._browse(e, t))
            paths.addWidget(QtWidgets.QLabel(label), row, 0)
            paths.addWidget(edit, row, 1)
            paths.addWidget(browse, row, 2)
        grid.addLayout(paths, 0, 1, 2, 1)

        buttons = QtWidgets.QVBoxLayout()
        self.start_button = QtWidgets.QPushButton("Connect && start")
        self.start_button.setDefault(True)
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.record_button = QtWidgets.QPushButton("● Record")
        self.record_button.setCheckable(True)
        self.start_button.clicked.connect(self.start_session)
        self.stop_button.clicked.connect(self.stop_session)
        self.record_button.clicked.connect(self._toggle_recording)
        for button in (self.start_button, self.stop_button, self.record_button):
            buttons.addWidget(button)
        grid.addLayout(buttons, 0, 2, 2, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 3)
        return box

    def _browse(self, edit: QtWidgets.QLineEdit, what: str) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, f"{what} folder", edit.text() or ".")
        if folder:
            edit.setText(folder)

    # -- user actions -----------------------------------------------------------------------
    def start_session(self) -> None:
        """Connect to the chosen streams with the chosen model and start decoding."""
        eeg = self.picker.eeg_query()
        model = self.model_edit.text().strip()
        if not eeg:
            self.banner.show_message(
                "error",
                "No EEG stream",
                "choose one (Refresh lists the streams LSL can see) or type its name",
            )
            return
        if not model:
            self.banner.show_message("error", "No model", "choose a model bundle folder (Browse…)")
            return
        images = self.images_edit.text().strip()
        pipeline = self.pipeline_edit.text().strip()
        settings = SessionSettings(
            eeg=eeg,
            model=Path(model),
            markers=self.picker.marker_query(),
            exemplar_dir=Path(images) if images else None,
            pipeline=Path(pipeline) if pipeline else None,
            device=self.device,
            latency_ms=self.latency_ms,
            events=self.events,
            adaptation=self.adaptation,
        )
        self.banner.dismiss()
        self._set_state("connecting")
        self.statusBar().showMessage(f"connecting to {eeg}…")
        self.bridge.start(settings)

    def stop_session(self) -> None:
        """Stop decoding (and recording)."""
        if self.state == "idle":
            return
        self._set_state("stopping")
        self.bridge.stop()

    def _toggle_recording(self) -> None:
        self.record_button.setEnabled(False)  # until the recorder answers
        if self.recording_path is None:
            folder = Path(self.record_edit.text().strip() or "recordings")
            path = folder / time.strftime("session-%Y%m%d-%H%M%S.xdf")
            self.statusBar().showMessage(f"starting the recording {path.name}…")
            self.bridge.start_recording(path)
        else:
            self.bridge.stop_recording()

    # -- engine signals ---------------------------------------------------------------------
    def _on_started(self, session: WindowSession) -> None:
        self.session = session
        self.n_predictions = 0
        self._latencies.clear()
        self._warned_images = False
        self.prediction_view.set_classes(session.bundle.class_names)
        self.prediction_view.reset()
        self.image_panel.clear()
        self.image_panel.set_note(session.image_note)
        self.eeg_view.attach(session.reader)
        self.device_label.setText(f"decoder on {session.device_text}")
        self._show_adaptation(session.adaptation_text)
        mode = "marker-locked" if session.mode == "marker" else "sliding window"
        self.statusBar().showMessage(f"decoding {session.reader.name!r} ({mode})", 5000)
        self._apply_group()  # after the message above: a group that matched nothing says so there
        if session.image_warning:
            self._warned_images = True
            self.banner.show_message(
                "warning",
                "No diffusion images",
                f"{session.image_warning}. Decoding runs; the window shows calibration exemplars instead.",
            )
        self._set_state("running")

    def _on_failed(self, title: str, message: str) -> None:
        self.banner.show_message("error", title, message)
        self._set_state("running" if self.bridge.session is not None else "idle")
        self.record_button.setChecked(self.recording_path is not None)
        if self.bridge.session is None:
            self.session = None
            self.eeg_view.detach()

    def _on_stopped(self) -> None:
        self.session = None
        self.eeg_view.detach()
        self._show_adaptation("")
        self.health_label.setText("not connected")
        self.health_label.setStyleSheet("")
        self._set_state("idle")
        self.statusBar().showMessage("stopped", 3000)

    def _on_prediction(self, prediction) -> None:
        self.n_predictions += 1
        if self.prediction_view.show_prediction(prediction) is not None:
            self.banner.show_message(
                "warning",
                "Markers of classes the model does not know",
                self.prediction_view.tally.mismatch_text(),
            )
        if prediction.onset is not None:
            self.eeg_view.add_onset(prediction.onset)
        if prediction.latency_ms is None:  # a replay faster than real time: its stamps are not our clock
            self.latency_label.setText("latency not measurable")
            self.latency_label.setToolTip(prediction.latency_note or "")
            return
        self._latencies.append(prediction.latency_ms)
        mean = sum(self._latencies) / len(self._latencies)
        self.latency_label.setText(f"latency {prediction.latency_ms:.0f} ms (mean {mean:.0f})")

    def _on_image(self, image) -> None:
        self.n_images += 1
        self.image_panel.show_image(image)
        if image.source in ("exemplar", "placeholder") and not self._warned_images:
            self._warned_images = True
            what = "a calibration exemplar" if image.source == "exemplar" else "a placeholder"
            note = self.session.image_note if self.session else "no diffusion weights"
            self.banner.show_message(
                "info",
                "No generated images",
                f"{note}; the picture is {what} of the predicted class.",
                timeout_s=8,
            )

    def _on_recording(self, on: bool, text: str) -> None:
        self.record_button.setEnabled(self.state == "running")
        self.record_button.setChecked(on)
        if on:
            self.recording_path = Path(text)
            self._recording_since = time.monotonic()
            self.record_button.setText("■ Stop recording")
            self.statusBar().showMessage(f"recording to {self.recording_path.name}", 5000)
            self.record_label.setToolTip(str(self.recording_path))
        else:
            self.recording_path = None
            self.record_button.setText("● Record")
            self.record_label.setText("not recording")
            self.record_label.setStyleSheet("")
            if text:
                self.statusBar().showMessage(text, 10000)

    # -- the frame timer --------------------------------------------------------------------
    def _on_frame(self) -> None:
        started = time.perf_counter()
        self.eeg_view.refresh()
        self._frame += 1
        if self._frame % HEALTH_EVERY == 0:
            self._update_health()
        self.meter.tick(time.perf_counter(), time.perf_counter() - started)

    def _update_health(self) -> None:
        self.fps_label.setText(f"GUI {self.meter.fps:.0f} fps · {self.meter.frame_ms:.1f} ms/frame")
        self.scale_value.setText(self.eeg_view.scale_label_text)
        if self.recording_path is not None:
            seconds = int(time.monotonic() - self._recording_since)
            self.record_label.setText(
                f"● REC {seconds // 60:02d}:{seconds % 60:02d} {self.recording_path.name}"
            )
            self.record_label.setStyleSheet("color: #b3261e; font-weight: bold;")
        session = self.session
        if session is None or session.reader is None:
            return
        self._show_adaptation(session.adaptation_text)
        reader = session.reader
        for event in reader.drain_events():
            self._on_stream_event(reader.name, event)
        health = reader.health
        if health.connected:
            text = (
                f"{reader.name}: {health.effective_rate_hz:.2f} Hz (nominal {reader.sfreq:g}) · "
                f"{reader.n_channels} ch · jitter {health.jitter_ms:.1f} ms · "
                f"gaps {health.gaps} ({health.missing_samples} samples) · lost {health.lost}"
            )
            problems = health.flat_channels + health.saturated_channels
            if problems:
                text += f" · check {', '.join(problems[:4])}{'…' if len(problems) > 4 else ''}"
            self.health_label.setStyleSheet("color: #9a6b00;" if problems else "color: #1d5a2c;")
        else:
            text = f"{reader.name}: LOST (waiting for it)"
            self.health_label.setStyleSheet("color: #b3261e; font-weight: bold;")
        self.health_label.setText(text)
        if session.images is not None:
            self.image_panel.set_note(session.images.status())

    def _on_stream_event(self, name: str, event) -> None:
        if event.kind == "lost":
            self.banner.show_message(
                "warning",
                f"Stream {name!r} lost",
                f"{event.detail}. Waiting for it to come back: decoding resumes by itself "
                "(check the amplifier and its LSL app).",
            )
        elif event.kind == "reconnected":
            self.banner.show_message("info", f"Stream {name!r} is back", event.detail, timeout_s=6)
        else:
            self.statusBar().showMessage(f"{name}: {event.detail}", 6000)

    # -- view settings ----------------------------------------------------------------------
    def _apply_group(self, *_: object) -> None:
        group = self.group_combo.currentText()
        self.custom_edit.setEnabled(group == CUSTOM)
        self.eeg_view.set_group(group, self.custom_edit.text())
        self.channel_count.setText(self.eeg_view.channel_text)
        self.channel_count.setToolTip(self.eeg_view.group_note or "")
        if self.eeg_view.group_note:
            self.statusBar().showMessage(self.eeg_view.group_note, 8000)

    def _show_adaptation(self, text: str) -> None:
        """The alignment's adaptation in the status bar, or nothing when it does not adapt."""
        self.adapt_label.setText(text)
        self.adapt_label.setVisible(bool(text))
        self.adapt_separator.setVisible(bool(text))

    def _apply_scale(self, text: str) -> None:
        self.eeg_view.set_scale(None if text == "auto" else float(text))

    def _set_state(self, state: str) -> None:
        self.state = state
        self.start_button.setEnabled(state == "idle")
        self.stop_button.setEnabled(state in ("running", "connecting"))
        self.record_button.setEnabled(state == "running")
        self.picker.setEnabled(state == "idle")
        self.model_edit.setEnabled(state == "idle")
        self.images_edit.setEnabled(state == "idle")
        self.pipeline_edit.setEnabled(state == "idle")
        if state == "connecting":
            self.health_label.setText("connecting…")

    # -- Qt events --------------------------------------------------------------------------
    def showEvent(self, event: QtGui.QShowEvent) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        if not self.picker.choices and not self.picker.discoverer.busy:
            self.picker.refresh()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 (Qt API)
        self.timer.stop()
        self.bridge.shutdown()
        super().closeEvent(event)

    @property
    def frame_rate(self) -> float:
        """Measured redraws per second over the last two seconds."""
        return self.meter.fps


def _separator() -> QtWidgets.QFrame:
    line = QtWidgets.QFrame()
    line.setFrameShape(QtWidgets.QFrame.Shape.VLine)
    line.setStyleSheet("color: #c8c8c8;")
    return line
