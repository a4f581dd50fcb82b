"""The calibration presenter: show the images on the paper's schedule, mark every onset over
LSL, record EEG + markers, then train the subject's model.

Timing: the schedule's onsets are fixed against one start time on the LSL clock. A single-shot
``Qt.PreciseTimer`` is re-armed for each event with the time left until it (so errors never
accumulate); when it fires, the image (already decoded and scaled) is painted synchronously
(``repaint``) and the marker is pushed with ``pylsl.local_clock()`` taken right after the paint,
so the recorded onset is when the frame was drawn, not when it was planned. Painting starts
early by the recent paint time, so drawn onsets land on the schedule on average. Each onset's
deviation from the schedule is kept and shown (and written to ``timing.tsv``). What the app
cannot see is the display's own latency (vsync, compositor, panel): check it once with a
photodiode.

The engine work (streams, recorder, simulated subject, training) runs in worker threads
(:mod:`gui.presenter_session`, :mod:`gui.calibration_job`); only the marker push, one
non-blocking LSL call, happens on the GUI thread, at the moment it describes.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from gui.banner import Banner
from gui.calibration_job import CalibrationJob
from gui.engine_bridge import BackgroundTask
from gui.presenter_form import TrainingBox, browse_folder, spin
from gui.presenter_session import CALIBRATION_DIR, PresenterSession, PresenterSettings, TrainingOptions
from gui.protocol import ProtocolConfig, Trial
from gui.stimulus_view import StimulusView
from gui.stream_picker import StreamPicker

log = logging.getLogger(__name__)

PRESENT_HERE = "(none: present the images here)"
EARLY_TOLERANCE_S = 0.0015  # a timer that fires earlier than this is re-armed, not obeyed
STATUS_MS = 250
# Onsets start painting this much early, learned from how long the last paints took (the
# marker is stamped after the paint), bounded so that one slow frame cannot pull onsets far.
MAX_PAINT_LEAD_S = 0.010
PAINT_LEAD_SMOOTHING = 0.2


def _clock() -> float:
    import pylsl

    return pylsl.local_clock()


class PresenterWindow(QtWidgets.QMainWindow):
    """Calibration session: form, stimulus screen, progress, training.

    Parameters
    ----------
    out_dir : path
        Output folder (see :mod:`gui.presenter_session`).
    stimuli_dir : path, optional
        Stimulus folder; empty with ``simulate`` uses the simulated subject's images.
    simulate : SimulationConfig, optional
        Start with "simulated subject" chosen, with this configuration.
    eeg, external_markers : str, optional
        Stream queries to preselect.
    protocol : ProtocolConfig, optional
        Timing to fill the form with.
    training : TrainingOptions, optional
    calibration : CalibrationConfig, optional
        A complete training configuration that replaces the form's (scripts and tests).
    base : path, optional
        A cross-subject base folder to calibrate with (``protocol.trials_per_class``: a short
        session of that many images per class).
    events : MarkerMapping, optional
        The classes of an external presenter's plain marker codes (``--events``).
    """

    def __init__(
        self,
        out_dir: str | Path = "calibration-session",
        stimuli_dir: str | Path | None = None,
        simulate=None,
        eeg: str | None = None,
        external_markers: str | None = None,
        protocol: ProtocolConfig | None = None,
        training: TrainingOptions | None = None,
        calibration=None,
        base: str | Path | None = None,
        events=None,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("rtdecode · calibration presenter")
        self.simulation = simulate
        self.calibration = calibration
        self.events = events
        self.session: PresenterSession | None = None
        self.state = "idle"
        self.result = None
        self.bundle_path: Path | None = None
        self._task: BackgroundTask | None = None
        self._events: list[tuple[float, int, str, object]] = []
        self._next = 0
        self._t0 = 0.0
        self._prefetched: dict[int, QtGui.QImage] = {}
        self._external_count = 0
        self._in_break = False
        self._paint_lead = 0.0
        self._last_image: float | None = None
        self.live_window = None
        self.job = CalibrationJob(self)
        self.job.progress.connect(self._on_training_progress)
        self.job.finished.connect(self._on_trained)
        self.job.failed.connect(self._on_training_failed)
        self._build(out_dir, stimuli_dir, eeg, external_markers, protocol or ProtocolConfig(), training, base)
        self._timer = QtCore.QTimer(self)
        self._timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._fire)
        self._status_timer = QtCore.QTimer(self)
        self._status_timer.setInterval(STATUS_MS)
        self._status_timer.timeout.connect(self._update_status)
        QtGui.QShortcut(QtGui.QKeySequence("F11"), self, activated=self.toggle_full_screen)
        QtGui.QShortcut(QtGui.QKeySequence("Escape"), self, activated=self._leave_full_screen)
        self._set_state("idle")
        self.resize(1500, 940)

    # -- layout -----------------------------------------------------------------------------
    def _build(self, out_dir, stimuli_dir, eeg, external_markers, protocol, training, base) -> None:
        central = QtWidgets.QWidget()
        root = QtWidgets.QHBoxLayout(central)
        self.panel = QtWidgets.QScrollArea()
        self.panel.setWidgetResizable(True)
        # Vertical scrolling only: the form wraps to the panel's width instead of hiding text.
        self.panel.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.panel.setFixedWidth(560)
        inner = QtWidgets.QWidget()
        form = QtWidgets.QVBoxLayout(inner)
        self.banner = Banner()
        form.addWidget(self.banner)
        form.addWidget(self._source_box(stimuli_dir, eeg, external_markers))
        form.addWidget(self._timing_box(protocol))
        self.training_box = TrainingBox(
            training or TrainingOptions(),
            out_dir,
            base,
            protocol.trials_per_class,
            self.calibration is not None,
        )
        form.addWidget(self.training_box)
        form.addLayout(self._buttons())
        form.addWidget(self._progress_box())
        form.addStretch(1)
        self.panel.setWidget(inner)
        root.addWidget(self.panel)
        self.view = StimulusView()
        self.view.show_message("Choose the settings on the left, then Start.")
        root.addWidget(self.view, 1)
        self.setCentralWidget(central)

    def _source_box(self, stimuli_dir, eeg, external_markers) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Subject and streams")
        layout = QtWidgets.QVBoxLayout(box)
        self.simulate_check = QtWidgets.QCheckBox("Simulated subject (no hardware: it follows the markers)")
        self.simulate_check.setChecked(self.simulation is not None)
        layout.addWidget(self.simulate_check)
        sim_row = QtWidgets.QHBoxLayout()
        self.sim_classes = spin(1, 40, self.simulation.n_classes if self.simulation else 10)
        self.sim_images = spin(1, 50, self.simulation.images_per_class if self.simulation else 50)
        sim_row.addWidget(QtWidgets.QLabel("classes"))
        sim_row.addWidget(self.sim_classes)
        sim_row.addWidget(QtWidgets.QLabel("images / class"))
        sim_row.addWidget(self.sim_images)
        sim_row.addStretch(1)
        layout.addLayout(sim_row)
        self.picker = StreamPicker(
            markers_label="Markers from", none_label=PRESENT_HERE, auto_markers=False, wait_time=1.0
        )
        self.picker.preset(eeg, external_markers)
        layout.addWidget(self.picker)
        images_row = QtWidgets.QHBoxLayout()
        self.stimuli_edit = QtWidgets.QLineEdit(str(stimuli_dir) if stimuli_dir else "")
        self.stimuli_edit.setPlaceholderText("images.tsv + images/ (simulated: its own images)")
        browse = QtWidgets.QPushButton("Browse…")
        browse.clicked.connect(lambda: browse_folder(self, self.stimuli_edit, "Stimulus"))
        images_row.addWidget(QtWidgets.QLabel("Images"))
        images_row.addWidget(self.stimuli_edit, 1)
        images_row.addWidget(browse)
        layout.addLayout(images_row)
        self.simulate_check.toggled.connect(self._sync_form)
        self.picker.markers.currentTextChanged.connect(self._sync_form)
        return box

    def _timing_box(self, protocol: ProtocolConfig) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Timing (paper: 0.5 s images, 25 s blocks, 10 s breaks)")
        grid = QtWidgets.QGridLayout(box)
        self.image_s = _seconds(protocol.image_s, 0.01, 10.0)
        self.block_s = _seconds(protocol.block_s, 0.01, 600.0)
        self.break_s = _seconds(protocol.break_s, 0.0, 600.0)
        self.lead_in_s = _seconds(protocol.lead_in_s, 0.0, 60.0)
        self.max_blocks = spin(0, 1000, protocol.max_blocks or 0)
        self.max_blocks.setSpecialValueText("all")
        self.seed = spin(0, 1_000_000, protocol.seed)
        for k, (label, widget) in enumerate(
            (
                ("image", self.image_s),
                ("block", self.block_s),
                ("break", self.break_s),
                ("lead-in", self.lead_in_s),
                ("blocks", self.max_blocks),
                ("order seed", self.seed),
            )
        ):
            grid.addWidget(QtWidgets.QLabel(label), k // 3, 2 * (k % 3))
            grid.addWidget(widget, k // 3, 2 * (k % 3) + 1)
        self._tail_s = protocol.tail_s
        return box

    def _buttons(self) -> QtWidgets.QHBoxLayout:
        row = QtWidgets.QHBoxLayout()
        self.start_button = QtWidgets.QPushButton("Start")
        self.start_button.setDefault(True)
        self.finish_button = QtWidgets.QPushButton("Stop && train")
        self.finish_button.setToolTip("external presentation: end the recording and train")
        self.abort_button = QtWidgets.QPushButton("Abort")
        self.full_button = QtWidgets.QPushButton("Full screen (F11)")
        self.start_button.clicked.connect(self.start)
        self.finish_button.clicked.connect(self.finish_recording)
        self.abort_button.clicked.connect(self.abort)
        self.full_button.clicked.connect(self.toggle_full_screen)
        for button in (self.start_button, self.finish_button, self.abort_button, self.full_button):
            row.addWidget(button)
        return row

    def _progress_box(self) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Progress")
        layout = QtWidgets.QVBoxLayout(box)
        self.stage_label = QtWidgets.QLabel("idle")
        self.stage_label.setStyleSheet("font-weight: bold;")
        self.trial_bar = QtWidgets.QProgressBar()
        self.trial_bar.setFormat("%v / %m images")
        self.trial_bar.setValue(0)
        self.block_label = QtWidgets.QLabel("")
        self.timing_label = QtWidgets.QLabel("onset timing: –")
        self.timing_label.setWordWrap(True)
        self.block_label.setWordWrap(True)
        self.recorder_label = QtWidgets.QLabel("recording: –")
        self.recorder_label.setWordWrap(True)
        self.train_bar = QtWidgets.QProgressBar()
        self.train_bar.setRange(0, 1)
        self.train_bar.setValue(0)
        self.train_bar.setFormat("training")
        self.log_view = QtWidgets.QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(500)
        self.log_view.setMinimumHeight(120)
        self.result_label = QtWidgets.QLabel("")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_live_button = QtWidgets.QPushButton("Open the model in the live window")
        self.open_live_button.clicked.connect(self.open_live_window)
        self.open_live_button.hide()
        for widget in (
            self.stage_label,
            self.trial_bar,
            self.block_label,
            self.timing_label,
            self.recorder_label,
            self.train_bar,
            self.log_view,
            self.result_label,
            self.open_live_button,
        ):
            layout.addWidget(widget)
        return box

    def _sync_form(self, *_: object) -> None:
        simulate = self.simulate_check.isChecked()
        self.sim_classes.setEnabled(simulate and self.state == "idle")
        self.sim_images.setEnabled(simulate and self.state == "idle")
        self.picker.set_eeg_note("the simulated subject (started with the session)" if simulate else None)

    # -- settings ---------------------------------------------------------------------------
    def settings(self) -> PresenterSettings:
        """The form as :class:`PresenterSettings` (ValueError names a bad field)."""
        from rtdecode.sim.config import SimulationConfig

        simulate = None
        if self.simulate_check.isChecked():
            base = self.simulation or SimulationConfig()
            values = {**base.to_dict(), "n_classes": self.sim_classes.value()}
            values["images_per_class"] = self.sim_images.value()
            simulate = SimulationConfig.from_dict(values)
        protocol = ProtocolConfig(
            image_s=self.image_s.value(),
            block_s=self.block_s.value(),
            break_s=self.break_s.value(),
            lead_in_s=self.lead_in_s.value(),
            tail_s=self._tail_s,
            max_blocks=self.max_blocks.value() or None,
            seed=self.seed.value(),
            trials_per_class=self.training_box.trials_per_class(),
        )
        stimuli = self.stimuli_edit.text().strip()
        out = self.training_box.out_edit.text().strip()
        if not out:
            raise ValueError("choose an output folder")
        return PresenterSettings(
            out_dir=Path(out),
            stimuli_dir=Path(stimuli) if stimuli else None,
            simulate=simulate,
            eeg=None if simulate else self.picker.eeg_query(),
            external_markers=self.picker.marker_query(),
            events=self.events,
            protocol=protocol,
            training=self.training_box.options(),
            calibration=self.calibration,
            base=self.training_box.base(),
        )

    # -- session control --------------------------------------------------------------------
    def start(self) -> None:
        """Prepare the streams and the recorder in a worker, then present (or record)."""
        if self.state not in ("idle", "done", "failed"):
            return
        try:
            settings = self.settings()
        except ValueError as error:
            self.banner.show_message("error", "Check the settings", str(error))
            return
        self.banner.dismiss()
        self.result = self.bundle_path = None
        self.open_live_button.hide()
        self.result_label.setText("")
        self.log_view.clear()
        self._external_count = 0
        self.session = PresenterSession(settings)
        self._set_state("preparing")
        self.view.show_message("Preparing the streams and the recorder…")
        self._run(self.session.prepare, self._on_prepared, self._on_prepare_failed)

    def abort(self) -> None:
        """Stop presenting and recording now (the partial recording is kept)."""
        if self.state not in ("presenting", "recording"):
            return  # while preparing, the worker owns the session: abort once it is ready
        self._timer.stop()
        self._set_state("finishing")
        self.view.show_message("Aborted.")
        session = self.session
        self._run(session.finish, self._on_aborted, self._on_finish_failed)

    def finish_recording(self) -> None:
        """External presentation: end the recording and train."""
        if self.state == "recording":
            self._end_recording()

    def _run(self, fn, on_done, on_failed) -> None:
        # Slots must be this window's methods (not lambdas): Qt then queues the worker's signals
        # to the GUI thread.
        self._task = BackgroundTask(fn, name="presenter-task", parent=self)
        self._task.succeeded.connect(on_done)
        self._task.failed.connect(on_failed)
        self._task.start()

    def _on_prepare_failed(self, title: str, message: str) -> None:
        self.banner.show_message("error", title, message)
        self.view.show_message("Could not start: see the message above the settings.")
        self._set_state("failed")

    def _on_prepared(self, session: PresenterSession) -> None:
        self._status_timer.start()
        if not session.settings.presenting:
            self._set_state("recording")
            self.view.show_message(
                "Recording the EEG and the external marker stream.\n"
                "Press “Stop & train” when the presentation has ended."
            )
            return
        schedule = session.schedule
        if schedule.n_blocks < 3 and session.base is None:  # a base trains on every trial instead
            self.banner.show_message(
                "warning",
                "Short session",
                f"{schedule.n_blocks} block(s): training needs at least 3 (train, validation, test). "
                "The session is recorded all the same.",
                timeout_s=15,
            )
        self.trial_bar.setRange(0, len(schedule.trials))
        self.trial_bar.setValue(0)
        self._t0 = _clock()
        events: list[tuple[float, int, str, object]] = []
        for index, trial in enumerate(schedule.trials):
            events.append((self._t0 + trial.onset_s, 1, "image", index))
        for block, (_, end) in enumerate(schedule.blocks):
            events.append((self._t0 + end, 0, "block_end", block))  # before an image at the same time
        events.append((self._t0 + schedule.duration_s, 2, "end", None))
        self._events = sorted(events, key=lambda e: (e[0], e[1]))
        self._next = 0
        self._paint_lead = 0.0
        self._prefetched.clear()
        self._prefetch(0)
        self._set_state("presenting")
        self.view.show_fixation("Get ready")
        self._arm()

    # -- the schedule -----------------------------------------------------------------------
    def _target(self) -> float:
        """When to act on the next event: its time, less the paint lead for an image."""
        due, _, kind, _ = self._events[self._next]
        return due - self._paint_lead if kind == "image" else due

    def _arm(self) -> None:
        if self._next >= len(self._events):
            return
        delay = self._target() - _clock()
        self._timer.start(max(0, int(delay * 1000)))  # floor: fire at or just before the target

    def _fire(self) -> None:
        if self.state != "presenting":
            return
        fired = _clock()
        target = self._target()
        if target - fired > EARLY_TOLERANCE_S:  # woke early (timer granularity): wait the rest
            self._timer.start(max(0, int((target - fired) * 1000)))
            return
        due, _, kind, payload = self._events[self._next]
        self._next += 1
        if kind == "image":
            self._show_trial(payload, due, fired)
        elif kind == "block_end":
            self._end_block(payload)
        else:
            self._end_recording()
            return
        self._arm()

    def _show_trial(self, index: int, scheduled: float, fired: float) -> None:
        from rtdecode.io.markers import BLOCK_START, block_marker

        trial: Trial = self.session.schedule.trials[index]
        self._in_break = False
        image = self._prefetched.pop(index, None)
        if image is None:
            image = self.view.prepare(QtGui.QImage(str(trial.stimulus.path)))
        self.view.show_image(image)
        self.view.repaint()  # paint now, so the timestamp below follows the drawn frame
        shown = _clock()
        if trial.position == 0:
            self.session.push(block_marker(BLOCK_START, trial.block), shown)
        self.session.push(trial.marker, shown)
        self.session.log_onset(index, scheduled, shown, trial.stimulus.image_id, fired)
        # Everything below is bookkeeping after the timestamp.
        paint = min(MAX_PAINT_LEAD_S, max(0.0, shown - fired))
        self._paint_lead += PAINT_LEAD_SMOOTHING * (paint - self._paint_lead)
        self._prefetch(index + 1)
        self.trial_bar.setValue(index + 1)
        per_block = self.session.settings.protocol.images_per_block
        self.block_label.setText(
            f"block {trial.block + 1} of {self.session.schedule.n_blocks} · image {trial.position + 1}/"
            f"{per_block} · {trial.stimulus.class_name} ({trial.stimulus.image_id})"
        )

    def _end_block(self, block: int) -> None:
        from rtdecode.io.markers import BLOCK_END, block_marker

        last = block == self.session.schedule.n_blocks - 1
        self._in_break = not last
        self.view.show_fixation("" if last else "Rest")
        self.view.repaint()
        self.session.push(block_marker(BLOCK_END, block), _clock())

    def _prefetch(self, index: int) -> None:
        trials = self.session.schedule.trials
        if index < len(trials):
            # Decoding and scaling the next file now, not at its onset, keeps the onset cheap.
            self._prefetched[index] = self.view.prepare(QtGui.QImage(str(trials[index].stimulus.path)))

    def _update_status(self) -> None:
        session = self.session
        if session is None:
            return
        summary = session.timing_summary()
        if summary["n"]:
            self.timing_label.setText(
                f"onsets vs. schedule: mean {summary['mean_ms']:+.2f} ms, sd {summary['sd_ms']:.2f}, "
                f"max |error| {summary['max_abs_ms']:.2f} ms (n = {summary['n']}); "
                f"paint {summary['paint_ms']:.1f} ms"
            )
        if self._in_break and self._next < len(self._events):
            left = max(0.0, self._events[self._next][0] - _clock())
            self.view.show_fixation(f"Rest · next block in {left:.0f} s")
        if self.state == "recording":
            self._external_count += session.external_markers_received()
            self.block_label.setText(f"{self._external_count} stimulus markers received")
        recorder = session.recorder
        if recorder is not None:
            parts = [f"{s.name}: {s.n_samples}" for s in recorder.stats()]
            self.recorder_label.setText(f"recording {session.recording_path.name}: {', '.join(parts)}")

    # -- end of the session, training -------------------------------------------------------
    def _end_recording(self) -> None:
        self._timer.stop()
        self._in_break = False
        self._set_state("finishing")
        self.view.show_message("Session complete. Thank you!\nThe model is being trained.")
        self._run(self.session.finish, self._on_finished, self._on_finish_failed)

    def _on_finish_failed(self, title: str, message: str) -> None:
        self._status_timer.stop()
        self.banner.show_message("error", title, message)
        self._set_state("failed")

    def _on_aborted(self, summary: str) -> None:
        self._status_timer.stop()
        self._update_status()
        self.recorder_label.setText(f"aborted; kept {self.session.recording_path} ({summary})")
        self.banner.show_message(
            "warning", "Aborted", f"the partial recording is in {self.session.recording_path}"
        )
        self._set_state("idle")

    def _on_finished(self, summary: str) -> None:
        self._status_timer.stop()
        self._update_status()
        session = self.session
        self.recorder_label.setText(f"recorded {session.recording_path}: {summary}")
        self._log_line(f"recording finished: {summary}")
        self._set_state("training")
        self.train_bar.setRange(0, 0)  # busy: calibrate() reports steps, not fractions
        self.train_bar.setFormat("training")
        settings = session.settings
        stimuli = session.stimuli_dir if settings.distilling else None
        if settings.distilling and stimuli is None:
            self._log_line("no stimulus images for the teacher: training without distillation")
        # The time to a served model counts from the last image (the one figure a lab waits on):
        # its LSL stamp, carried over to the perf_counter clock the report uses.
        self._last_image = session.timing[-1][2] if session.timing else None
        started = None if self._last_image is None else time.perf_counter() - (_clock() - self._last_image)
        self.job.start(
            session.recording_path,
            stimuli,
            session.out_dir / CALIBRATION_DIR,
            settings,
            base=session.base,
            trials_per_class=settings.protocol.trials_per_class if session.base is not None else None,
            started=started,
            events=settings.events,
        )

    def _on_training_progress(self, message: str) -> None:
        self._log_line(message)
        self.stage_label.setText(f"training: {message[:80]}")

    def _on_trained(self, result) -> None:
        ready_s = None if self._last_image is None else _clock() - self._last_image
        self.result = result
        self.bundle_path = result.out_dir / "model"
        self.train_bar.setRange(0, 1)
        self.train_bar.setValue(1)
        self.train_bar.setFormat("done")
        self.result_label.setText(
            f"{_result_summary(result)}<br>Model: {self.bundle_path}<br>Report: {result.out_dir / 'report.md'}"
        )
        self.open_live_button.show()
        ready = "Calibration finished.\nThe model is ready to decode."
        if ready_s is not None:
            ready += f"\n(ready {ready_s:.0f} s after the last image)"
            self._log_line(f"ready to decode {ready_s:.1f} s after the last image")
        self.view.show_message(ready)
        self._set_state("done")

    def _on_training_failed(self, title: str, message: str) -> None:
        self.train_bar.setRange(0, 1)
        self.train_bar.setValue(0)
        self.train_bar.setFormat("failed")
        path = self.session.recording_path if self.session else "the output folder"
        self.banner.show_message("error", title, f"{message}\nThe recording is kept: {path}")
        self.view.show_message("Training failed (see the message on the left).")
        self._set_state("failed")

    def _log_line(self, message: str) -> None:
        self.log_view.appendPlainText(message)

    def open_live_window(self) -> None:
        """Open the live decoding window with the new model."""
        from gui.live_window import LiveWindow

        if self.bundle_path is None:
            return
        self.live_window = LiveWindow(model=self.bundle_path)
        self.live_window.show()

    # -- window state -----------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        self.state = state
        idle = state in ("idle", "done", "failed")
        self.start_button.setEnabled(idle)
        self.abort_button.setEnabled(state in ("presenting", "recording"))
        self.finish_button.setEnabled(state == "recording")
        for widget in (self.picker, self.stimuli_edit, self.simulate_check):
            widget.setEnabled(idle)
        self.training_box.set_editable(idle)
        self.stage_label.setText(
            {
                "idle": "idle",
                "preparing": "connecting the streams and the recorder…",
                "presenting": "presenting",
                "recording": "recording an external presentation",
                "finishing": "finishing the recording…",
                "training": "training…",
                "done": "done",
                "failed": "failed (see the message above)",
            }.get(state, state)
        )
        self._sync_form()
        for widget in (self.sim_classes, self.sim_images):
            widget.setEnabled(idle and self.simulate_check.isChecked())
        # The training widgets appear once there is something to show.
        self.train_bar.setVisible(state in ("training", "done") or bool(self.log_view.toPlainText()))
        self.log_view.setVisible(self.train_bar.isVisible())

    def toggle_full_screen(self) -> None:
        """Stimulus screen alone on the whole screen (F11; Esc returns)."""
        if self.isFullScreen():
            self._leave_full_screen()
        else:
            self.panel.hide()
            self.showFullScreen()

    def _leave_full_screen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
            self.panel.show()

    def showEvent(self, event: QtGui.QShowEvent) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        if not self.picker.choices and not self.picker.discoverer.busy:
            self.picker.refresh()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 (Qt API)
        self._timer.stop()
        self._status_timer.stop()
        if self.session is not None:
            self.session.close()
        super().closeEvent(event)


def _result_summary(result) -> str:
    """The served model and its scores in one line: held-out scores, or validation scores when the
    whole session calibrated (a short session with a base)."""
    from calibration.metrics import point
    from rtdecode.models.registry import PAPER_MODEL, display_name

    report = result.report
    if "transfer" in result.bundle.extra:
        name = report["selection"]["chosen"]  # already in words: "fine-tuned: EEGNet"
        metrics = report["results"][name]
        on = (
            f"{report['n_test']} held-out epochs"
            if report["scored_on"] == "test"
            else f"its {report['n_val']} validation epochs (the whole session calibrated: no test epoch)"
        )
    else:
        model = result.bundle.extra.get("model", PAPER_MODEL)
        name, metrics, on = (
            display_name(model),
            report["results"].get(model, {}),
            f"{report['n_test']} held-out epochs",
        )
    # Cross-validated results are {mean, interval} summaries: point() shows the mean.
    return (
        f"<b>{name}</b> on {on}: top-1 {point(metrics.get('top1')):.2f} (chance {1 / report['n_classes']:.2f}), "
        f"top-5 {point(metrics.get('top5')):.2f}; {report['seconds_to_bundle']:.0f} s to the saved model."
    )


def _seconds(value: float, low: float, high: float) -> QtWidgets.QDoubleSpinBox:
    spin = QtWidgets.QDoubleSpinBox()
    spin.setDecimals(2)
    spin.setRange(low, high)
    spin.setSingleStep(0.1)
    spin.setValue(value)
    spin.setSuffix(" s")
    return spin
