"""The presenter's "Training and output" form: teacher, epochs, baselines, output folder, and the
cross-subject base with the short session's images per class.

A widget of its own so that :mod:`gui.presenter` keeps to the session's timing and states; the
window reads the choices back with :meth:`TrainingBox.options`, :meth:`TrainingBox.base` and
:meth:`TrainingBox.trials_per_class`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6 import QtWidgets

from gui.presenter_session import BASELINE_SETS, TEACHERS, TrainingOptions

ALL_IMAGES = "all images"


def spin(low: int, high: int, value: int) -> QtWidgets.QSpinBox:
    """An integer box of ``[low, high]`` holding ``value``."""
    box = QtWidgets.QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    return box


def browse_folder(parent: QtWidgets.QWidget, edit: QtWidgets.QLineEdit, what: str) -> None:
    """Ask for a folder and put it in ``edit`` (unchanged when the dialog is cancelled)."""
    folder = QtWidgets.QFileDialog.getExistingDirectory(parent, f"{what} folder", edit.text() or ".")
    if folder:
        edit.setText(folder)


class TrainingBox(QtWidgets.QGroupBox):
    """Training choices, the output folder, and the base of a short session.

    Parameters
    ----------
    training : TrainingOptions
        The choices to start from.
    out_dir : path
    base : path or None
        A cross-subject base folder (``rtdecode pretrain``).
    trials_per_class : int or None
        Images of each class to show (a short session, with a base); None: every image.
    fixed : bool
        The training settings were given by the program that opened the window: shown, not editable
        (the output folder, the base and the images per class stay editable).
    """

    def __init__(
        self,
        training: TrainingOptions,
        out_dir,
        base=None,
        trials_per_class: int | None = None,
        fixed: bool = False,
        parent=None,
    ) -> None:
        super().__init__("Training and output", parent)
        self._training = training  # what the form does not show (alpha, temperature...) is kept
        grid = QtWidgets.QGridLayout(self)
        self.teacher_combo = QtWidgets.QComboBox()
        self.teacher_combo.addItems(list(TEACHERS))
        self.teacher_combo.setCurrentText(training.teacher)
        self.teacher_combo.setToolTip("'none' trains the student on labels only (no distillation)")
        self.weights_edit = QtWidgets.QLineEdit(training.teacher_weights or "")
        self.weights_edit.setPlaceholderText("CLIP weights file (ViT-B-32)")
        self.epochs = spin(1, 1000, training.max_epochs)
        self.patience = spin(1, 1000, training.patience)
        self.baselines_combo = QtWidgets.QComboBox()
        self.baselines_combo.addItems(list(BASELINE_SETS))
        self.baselines_combo.setCurrentText(training.baselines)
        self.out_edit = QtWidgets.QLineEdit(str(out_dir))
        self.base_edit = QtWidgets.QLineEdit(str(base) if base else "")
        self.base_edit.setPlaceholderText("none: the subject's own models (from `rtdecode pretrain`)")
        self.base_edit.setToolTip(
            "a cross-subject base: its models, aligned to this subject and fine-tuned on the session, "
            "compete with the subject's own; the best on validation is served"
        )
        # 0 is "every image": a short session needs the base.
        self.trials_spin = spin(0, 1000, trials_per_class or 0)
        self.trials_spin.setSpecialValueText(ALL_IMAGES)
        self.trials_spin.setToolTip("a short session: this many images of each class (needs a base)")
        grid.addWidget(QtWidgets.QLabel("teacher"), 0, 0)
        grid.addWidget(self.teacher_combo, 0, 1)
        grid.addWidget(self.weights_edit, 0, 2, 1, 2)
        epochs_row = QtWidgets.QHBoxLayout()
        epochs_row.addWidget(self.epochs)
        epochs_row.addWidget(QtWidgets.QLabel("patience"))
        epochs_row.addWidget(self.patience)
        epochs_row.addStretch(1)
        grid.addWidget(QtWidgets.QLabel("max epochs"), 1, 0)
        grid.addLayout(epochs_row, 1, 1, 1, 2)
        grid.addWidget(QtWidgets.QLabel("baselines"), 2, 0)
        grid.addWidget(self.baselines_combo, 2, 1)
        for row, (label, edit, what) in enumerate(
            (("output", self.out_edit, "Output"), ("base", self.base_edit, "Base")), start=3
        ):
            browse = QtWidgets.QPushButton("Browse…")
            browse.clicked.connect(lambda _=False, e=edit, w=what: browse_folder(self, e, w))
            grid.addWidget(QtWidgets.QLabel(label), row, 0)
            grid.addWidget(edit, row, 1, 1, 2)
            grid.addWidget(browse, row, 3)
        grid.addWidget(QtWidgets.QLabel("images / class"), 5, 0)
        grid.addWidget(self.trials_spin, 5, 1)
        grid.setColumnStretch(2, 1)
        if fixed:
            for widget in (
                self.teacher_combo,
                self.weights_edit,
                self.epochs,
                self.patience,
                self.baselines_combo,
            ):
                widget.setEnabled(False)
            self.setToolTip("training settings were given by the program that opened this window")

    def options(self) -> TrainingOptions:
        """The form's training choices (the others as given)."""
        return replace(
            self._training,
            teacher=self.teacher_combo.currentText(),
            teacher_weights=self.weights_edit.text().strip() or None,
            max_epochs=self.epochs.value(),
            patience=self.patience.value(),
            baselines=self.baselines_combo.currentText(),
        )

    def base(self) -> Path | None:
        """The base folder, or None."""
        text = self.base_edit.text().strip()
        return Path(text) if text else None

    def trials_per_class(self) -> int | None:
        """Images of each class to show, or None for every image."""
        return self.trials_spin.value() or None

    def set_editable(self, editable: bool) -> None:
        """Lock the session's own fields (output, base, images per class) while it runs."""
        for widget in (self.out_edit, self.base_edit, self.trials_spin):
            widget.setEnabled(editable)
