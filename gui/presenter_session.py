"""The engine side of a calibration session: marker outlet, recorder, optional simulated subject,
and training at the end.

No Qt. The presenter window calls :meth:`PresenterSession.prepare` and :meth:`finish` from a
worker thread (they resolve streams and open files), :meth:`push` from the GUI thread at each
onset (one non-blocking LSL call with an explicit timestamp), and :func:`train` from a worker.

Output folder layout::

    OUT/session.xdf        EEG + markers (Recorder)
    OUT/timing.tsv         scheduled vs. pushed onset times of every image
    OUT/stimuli/           the simulated subject's images (when simulated)
    OUT/calibration/       report, plots and model/ (the bundle)

With a cross-subject base (``PresenterSettings.base``, from ``rtdecode pretrain``) the session
may be short (``ProtocolConfig.trials_per_class``): its images' classes must be the base's, and
training is :func:`calibration.transfer_calibrate.calibrate_with_base` with every trial of the
session as a calibration trial (there is nothing after it to test on).
"""

from __future__ import annotations

import csv
import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calibration.options import (
    BASELINE_SETS as OPTION_BASELINE_SETS,
)
from calibration.options import (
    DEFAULT_ALPHA,
    DEFAULT_BASELINES,
    DEFAULT_MAX_EPOCHS,
    DEFAULT_PATIENCE,
    DEFAULT_SOFT_TARGET_FOLDS,
    DEFAULT_TEMPERATURE,
    TEACHER_AUTO,
    parse_baselines,
    train_config,
)
from gui.protocol import ProtocolConfig, Schedule, build_schedule, class_names, load_stimuli

log = logging.getLogger(__name__)

SESSION_FILE = "session.xdf"
TIMING_FILE = "timing.tsv"
CALIBRATION_DIR = "calibration"


# Teacher choices of the form (``--teacher`` values, see calibration.teacher_choice) and the
# baseline sets: the same names and defaults as every other calibration command.
TEACHERS = ("auto", "efficientnet-lite0", "ViT-B-32", "random", "none")
BASELINE_SETS = tuple(OPTION_BASELINE_SETS)


@dataclass(frozen=True)
class TrainingOptions:
    """The training choices the form offers (turned into a CalibrationConfig in the worker).

    Attributes
    ----------
    teacher : str
        One of :data:`TEACHERS`; ``"auto"`` is the best pretrained encoder on the machine,
        ``"none"`` trains on labels only (no distillation).
    teacher_weights : str or None
        Weights for an open_clip teacher (file, ``local-dir:...`` or cached tag).
    max_epochs, patience : int
        Training epochs at most; epochs without validation improvement before stopping.
    baselines : str
        One of :data:`BASELINE_SETS`.
    alpha, temperature : float
        Distillation loss weight of the labels and temperature.
    soft_target_folds : int
        k of the teacher's out-of-fold targets.
    """

    teacher: str = TEACHER_AUTO
    teacher_weights: str | None = None
    max_epochs: int = DEFAULT_MAX_EPOCHS
    patience: int = DEFAULT_PATIENCE
    baselines: str = DEFAULT_BASELINES
    alpha: float = DEFAULT_ALPHA
    temperature: float = DEFAULT_TEMPERATURE
    soft_target_folds: int = DEFAULT_SOFT_TARGET_FOLDS

    @property
    def distill(self) -> bool:
        return self.teacher != "none"

    def to_config(self):
        """The :class:`~calibration.calibrate.CalibrationConfig` (imports torch: call off the GUI)."""
        from calibration.calibrate import CalibrationConfig

        if self.teacher not in TEACHERS:
            raise ValueError(f"unknown teacher {self.teacher!r}; choose one of {', '.join(TEACHERS)}")
        return CalibrationConfig(
            train=train_config(self, progress=False),
            teacher_model=self.teacher,
            teacher_pretrained=self.teacher_weights,
            soft_target_folds=self.soft_target_folds,
            baselines=parse_baselines(self.baselines),
        )


@dataclass(frozen=True)
class PresenterSettings:
    """Everything the presenter window's form holds.

    Attributes
    ----------
    out_dir : Path
        Receives the recording, the timing log and the calibration run.
    stimuli_dir : Path or None
        Folder with ``images.tsv`` and ``images/``; None with ``simulate`` writes the simulated
        subject's images to ``out_dir/stimuli``.
    simulate : SimulationConfig or None
        Run the simulated subject, following the presenter's markers, as the EEG source.
    eeg : str or None
        EEG stream query (ignored with ``simulate``).
    external_markers : str or None
        Record this marker stream (another program presents) instead of presenting.
    events : MarkerMapping or None
        Which plain marker codes of ``external_markers`` are stimuli of which class (as
        ``--events``); the presenter's own markers need none.
    marker_name : str
        Name of the presenter's marker stream.
    protocol : ProtocolConfig
    training : TrainingOptions
        The form's training choices.
    calibration : CalibrationConfig or None
        A complete configuration that replaces ``training``'s (scripts and tests).
    base : Path or None
        A cross-subject base folder (``rtdecode pretrain``): the session is calibrated with it.
        Needed by a short session (``protocol.trials_per_class``).
    distill : bool or None
        Give the stimulus images to the teacher (knowledge distillation); False trains on labels
        only; None follows ``training``.
    resolve_timeout : float
        Seconds to wait for each stream.
    overwrite : bool
        Replace an existing session file in ``out_dir``.
    """

    out_dir: Path
    stimuli_dir: Path | None = None
    simulate: object | None = None
    eeg: str | None = None
    external_markers: str | None = None
    events: object | None = None
    marker_name: str = "rtdecode-presenter"
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    training: TrainingOptions = field(default_factory=TrainingOptions)
    calibration: object | None = None
    base: Path | None = None
    distill: bool | None = None
    resolve_timeout: float = 5.0
    overwrite: bool = False

    def __post_init__(self) -> None:
        per_class = self.protocol.trials_per_class
        if per_class is not None and self.base is None:
            raise ValueError(
                "a short session (images per class) needs a cross-subject base: a few trials per class "
                "train no model alone (make one with `rtdecode pretrain`)"
            )
        if per_class is not None and per_class < 2:
            raise ValueError("a short session needs at least 2 images per class: one trains, one validates")

    @property
    def presenting(self) -> bool:
        return self.external_markers is None

    @property
    def distilling(self) -> bool:
        return self.training.distill if self.distill is None else self.distill

    def calibration_config(self):
        """The configuration training uses (imports torch: call it off the GUI thread)."""
        return self.calibration if self.calibration is not None else self.training.to_config()


class PresenterSession:
    """Outlet, recorder and simulated subject of one calibration session.

    Parameters
    ----------
    settings : PresenterSettings
    """

    def __init__(self, settings: PresenterSettings) -> None:
        self.settings = settings
        self.out_dir = Path(settings.out_dir)
        self.stimuli_dir: Path | None = settings.stimuli_dir
        self.schedule: Schedule | None = None
        self.outlet = None
        self.marker_query = ""
        self.eeg_query = ""
        self.follow = None
        self.simulator = None
        self.external = None
        self.recorder = None
        self.base = None
        # trial, scheduled, pushed, image id, when the timer fired (all LSL local clock)
        self.timing: list[tuple[int, float, float, str, float]] = []

    @property
    def recording_path(self) -> Path:
        return self.out_dir / SESSION_FILE

    def prepare(self) -> PresenterSession:
        """Images, schedule, outlet, simulated subject and recorder (blocks; cleans up on error).

        Raises
        ------
        ValueError
            A bad stimulus folder or settings, or an EEG stream the base cannot calibrate (another
            rate, missing channels).
        StreamNotFoundError
            The EEG (or external marker) stream is not visible.
        FileExistsError
            A session file already exists in the output folder.
        """
        try:
            self._prepare()
        except BaseException:
            self.close()
            raise
        return self

    def _prepare(self) -> None:
        from rtdecode.streams.lsl_utils import make_outlet, resolve_stream
        from rtdecode.streams.reader import MarkerReader
        from rtdecode.streams.recorder import Recorder

        s = self.settings
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.recording_path.exists() and not s.overwrite:
            raise FileExistsError(
                f"{self.recording_path} already exists; choose another output folder (or overwrite)"
            )
        if s.simulate is None and not s.eeg:
            raise ValueError("choose the EEG stream to record (or simulate a subject)")
        if self.stimuli_dir is None and s.simulate is not None:
            from rtdecode.sim.subject import SimulatedSubject

            self.stimuli_dir = self.out_dir / "stimuli"
            SimulatedSubject(s.simulate).write_images(self.stimuli_dir)
        if s.presenting:
            if self.stimuli_dir is None:
                raise ValueError("choose a stimulus folder (images.tsv + images/), or simulate a subject")
            stimuli = load_stimuli(self.stimuli_dir)
            if s.base is not None:
                self.base = _base_for(s.base, class_names(stimuli), self.stimuli_dir)
            self.schedule = build_schedule(stimuli, s.protocol)
            source_id = f"{s.marker_name}-{uuid.uuid4().hex[:12]}"
            self.outlet = make_outlet(
                s.marker_name, "Markers", 1, 0.0, "string", source_id, desc={"presenter": "rtdecode"}
            )
            self.marker_query = f"source_id={source_id}"
        else:
            if s.base is not None:
                self.base = _base_for(s.base, None, None)
            self.marker_query = s.external_markers
            # A reader of our own only to count what arrives; the recorder has its own inlet.
            self.external = MarkerReader(resolve_stream(s.external_markers, s.resolve_timeout)).start()
        if s.simulate is not None:
            from rtdecode.sim.live import LiveSimulator

            name = f"{s.marker_name}-subject-{uuid.uuid4().hex[:6]}"
            follow_query = self.marker_query
            self.follow = MarkerReader(resolve_stream(follow_query, s.resolve_timeout)).start()
            self.simulator = LiveSimulator(s.simulate, name=name, follow=self.follow).start()
            self.eeg_query = f"source_id=rtdecode-sim-{name}"
        else:
            self.eeg_query = s.eeg
        if self.base is not None:
            self._check_stream_for_base()
        self.recorder = Recorder(
            self.recording_path,
            [self.eeg_query, self.marker_query],
            resolve_timeout=s.resolve_timeout,
            overwrite=s.overwrite,
        ).start()
        if self.outlet is not None and not self.outlet.wait_for_consumers(s.resolve_timeout):
            raise TimeoutError("nobody receives the presenter's markers (the recorder did not connect)")
        log.info("calibration session ready: EEG %s, markers %s", self.eeg_query, self.marker_query)

    def _check_stream_for_base(self) -> None:
        """Refuse, before the first image, an EEG stream whose rate or channels the base cannot calibrate."""
        from rtdecode.streams.lsl_utils import full_info, resolve_stream
        from rtdecode.streams.reader import channel_labels

        timeout = self.settings.resolve_timeout
        info = full_info(resolve_stream(self.eeg_query, timeout), timeout)
        self.base.check_signal(channel_labels(info), info.nominal_srate(), f"the EEG stream {info.name()!r}")

    def push(self, marker: str, timestamp: float) -> None:
        """Send one marker with its LSL timestamp (local clock)."""
        self.outlet.push_sample([marker], timestamp)

    def log_onset(self, trial: int, scheduled: float, pushed: float, image_id: str, fired: float) -> None:
        """Keep one onset's times: scheduled, timer fired, marker stamped (after the paint)."""
        self.timing.append((trial, scheduled, pushed, image_id, fired))

    def timing_summary(self) -> dict[str, float]:
        """Deviation of the marker timestamps from the schedule, and the paint time, in ms."""
        if not self.timing:
            return {"n": 0}
        scheduled, pushed, fired = (np.array([t[k] for t in self.timing]) for k in (1, 2, 4))
        error = 1000 * (pushed - scheduled)
        return {
            "n": len(error),
            "mean_ms": float(error.mean()),
            "sd_ms": float(error.std()),
            "max_abs_ms": float(np.abs(error).max()),
            "p95_abs_ms": float(np.percentile(np.abs(error), 95)),
            "paint_ms": float(1000 * np.mean(pushed - fired)),
        }

    def external_markers_received(self) -> int:
        """Drain the external marker reader; returns how many stimulus markers arrived since."""
        from rtdecode.io.markers import STIMULUS, parse_marker

        count = 0
        while self.external is not None and (item := self.external.get()) is not None:
            count += parse_marker(item[1]).get("event") == STIMULUS
        return count

    def finish(self) -> str:
        """Stop recording and the simulated subject; write the timing log. Returns a summary."""
        summary = ""
        if self.recorder is not None:
            # Give the last markers and samples time to reach the recorder's inlets.
            time.sleep(0.3)
            stats = self.recorder.stop()
            self.recorder = None
            summary = "; ".join(
                f"{s.name}: {s.n_samples} samples" + (f" ({s.error})" if s.error else "") for s in stats
            )
        if self.timing:
            with (self.out_dir / TIMING_FILE).open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
                writer.writerow(["trial", "image_id", "scheduled", "fired", "pushed", "error_ms"])
                for trial, scheduled, pushed, image, fired in self.timing:
                    writer.writerow(
                        [
                            trial,
                            image,
                            f"{scheduled:.6f}",
                            f"{fired:.6f}",
                            f"{pushed:.6f}",
                            f"{1000 * (pushed - scheduled):.3f}",
                        ]
                    )
        self.close()
        return summary

    def close(self) -> None:
        """Stop whatever still runs (safe to call twice, and after a failed prepare)."""
        if self.recorder is not None:
            try:
                self.recorder.stop()
            except Exception:
                log.exception("stopping the recorder failed")
            self.recorder = None
        for part in (self.simulator, self.follow, self.external):
            if part is not None:
                part.stop()
        self.simulator = self.follow = self.external = None
        self.outlet = None


def _base_for(folder: Path, image_classes: list[str] | None, stimuli_dir: Path | None):
    """The base of ``folder``, its classes checked against the images' (None: not checked).

    Raises
    ------
    ValueError
        In one line: not a base, or classes that differ (which ones, both ways).
    """
    from calibration.transfer import load_base

    base = load_base(folder)
    if image_classes is not None and set(image_classes) != set(base.class_names):
        missing = sorted(set(base.class_names) - set(image_classes))
        extra = sorted(set(image_classes) - set(base.class_names))
        raise ValueError(
            f"the images of {stimuli_dir} are not of the base's {len(base.class_names)} classes "
            f"({folder}): the images lack {missing[:5] or 'none'}{' ...' if len(missing) > 5 else ''}, "
            f"the base lacks {extra[:5] or 'none'}{' ...' if len(extra) > 5 else ''}"
        )
    log.info("base %s: %d classes, %d channels", folder, len(base.class_names), len(base.channel_names))
    return base


def train(
    session_path: Path,
    stimuli_dir: Path | None,
    out_dir: Path,
    config=None,
    base=None,
    trials_per_class: int | None = None,
    started: float | None = None,
    events=None,
):
    """Calibrate a model from the recorded session (blocks for minutes; run it in a worker).

    Parameters
    ----------
    session_path : Path
        The recorded ``.xdf``.
    stimuli_dir : Path or None
        The images for the teacher; None trains without distillation.
    out_dir : Path
        Receives the report and ``model/``.
    config : CalibrationConfig, PresenterSettings or None
        A settings object is asked for its configuration here, in the worker (torch imports).
    base : calibration.transfer.Base or None
        Calibrate with this cross-subject base (:func:`calibration.transfer_calibrate.calibrate_with_base`).
    trials_per_class : int or None
        With ``base``: the session is a short one of this many trials per class, all of them
        calibration trials (no test trial; the report's scores are validation scores). None: the
        usual split, test blocks held out.
    started : float or None
        ``time.perf_counter()`` at the last image: the report's seconds to the bundle count from it
        (default: from this call).
    events : MarkerMapping or None
        The classes of an external presenter's plain marker codes (:class:`PresenterSettings`).

    Returns
    -------
    calibration.calibrate.CalibrationResult
    """
    from calibration.calibrate import calibrate
    from rtdecode.io import read_recording

    if isinstance(config, PresenterSettings):
        config = config.calibration_config()
    log.info("reading %s", session_path)
    recording = read_recording(session_path, events=events)
    log.info(
        "%d samples, %d stimulus markers; training (this takes a while)",
        recording.n_samples,
        len(recording.stimulus_events()),
    )
    if base is None:
        return calibrate(recording, stimuli_dir, out_dir, config, started=started)
    from calibration.transfer_calibrate import calibrate_with_base, short_session_config

    if trials_per_class is None:
        return calibrate_with_base(recording, base, stimuli_dir, out_dir, config, started=started)
    from rtdecode.models.registry import display_name

    config, fine_tune = short_session_config(config, base)
    log.info(
        "short session: subject-only %s, the base's %s fine-tuned (at most %d epochs), without distillation",
        ", ".join(map(display_name, config.candidates)) or "none",
        ", ".join(map(display_name, fine_tune)) or "none",
        config.train.max_epochs,
    )
    return calibrate_with_base(
        recording,
        base,
        None,
        out_dir,
        config,
        trials_per_class=trials_per_class,
        started=started,
        require_test=False,
        subject_student=False,
        fine_tune=fine_tune,
    )
