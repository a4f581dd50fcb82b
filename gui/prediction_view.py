"""The decoder's answer: the predicted class in large type and the top-5 probabilities as bars
(one bar per class for models of fewer than five)."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from rtdecode.scoring import ClassTally, marker_class

TOP_K = 5
BAR_STYLE = """
QProgressBar {{ border: 1px solid #b8c0cc; border-radius: 3px; background: #f3f5f8; height: 16px; }}
QProgressBar::chunk {{ background: {color}; border-radius: 2px; }}
"""


class PredictionView(QtWidgets.QGroupBox):
    """Predicted class, what was shown (when the marker says), and top-5 probability bars."""

    def __init__(self, parent=None) -> None:
        super().__init__("Prediction", parent)
        layout = QtWidgets.QVBoxLayout(self)
        self.label = QtWidgets.QLabel("—")
        font = self.label.font()
        font.setPointSize(26)
        font.setBold(True)
        self.label.setFont(font)
        self.label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.label.setWordWrap(True)
        self.label.setMinimumHeight(60)
        layout.addWidget(self.label)
        self.truth = QtWidgets.QLabel("waiting for the first prediction")
        self.truth.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.truth.setStyleSheet("color: #555;")
        layout.addWidget(self.truth)
        grid = QtWidgets.QGridLayout()
        grid.setColumnStretch(1, 1)
        self._names: list[QtWidgets.QLabel] = []
        self._bars: list[QtWidgets.QProgressBar] = []
        self._values: list[QtWidgets.QLabel] = []
        for row in range(TOP_K):
            name = QtWidgets.QLabel("")
            name.setMinimumWidth(120)
            bar = QtWidgets.QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(False)
            bar.setStyleSheet(BAR_STYLE.format(color="#2f6fb3" if row == 0 else "#8fb3d9"))
            value = QtWidgets.QLabel("")
            value.setMinimumWidth(44)
            value.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
            grid.addWidget(name, row, 0)
            grid.addWidget(bar, row, 1)
            grid.addWidget(value, row, 2)
            self._names.append(name)
            self._bars.append(bar)
            self._values.append(value)
        layout.addLayout(grid)
        self.tally = ClassTally([])

    @property
    def hits(self) -> int:
        return self.tally.hits

    @property
    def labelled(self) -> int:
        """Markers of the model's classes seen so far (the accuracy's denominator)."""
        return self.tally.known

    def set_classes(self, class_names) -> None:
        """The model's classes: markers of other classes are counted apart (a new session).

        Shows ``min(5, n_classes)`` probability rows: a two-class model has no third guess.
        """
        self.tally = ClassTally(class_names)
        rows = min(TOP_K, len(self.tally.class_names)) or TOP_K
        for row, widgets in enumerate(zip(self._names, self._bars, self._values, strict=True)):
            for widget in widgets:
                widget.setVisible(row < rows)

    def show_prediction(self, prediction) -> str | None:
        """Display a :class:`~rtdecode.decoder.Prediction` (its top-k, best first).

        Returns
        -------
        str or None
            The marker's class when the model does not know it and it is the first such
            marker of that class (the caller warns once per class), else None.
        """
        self.label.setText(prediction.label)
        for row in range(TOP_K):
            if row < len(prediction.topk):
                name, p = prediction.topk[row]
                self._names[row].setText(str(name))
                self._bars[row].setValue(int(round(1000 * float(p))))
                self._values[row].setText(f"{float(p):.2f}")
            else:
                self._names[row].setText("")
                self._bars[row].setValue(0)
                self._values[row].setText("")
        shown = marker_class(prediction.marker, self.tally.class_names)
        if shown is None:
            ms = prediction.latency_ms
            self.truth.setText(
                "sliding window" + ("" if ms is None else f" · {ms:.0f} ms after the last sample")
            )
            return None
        # The stimulus marker says what was on screen: show it next to the guess (display only).
        new_unknown = self.tally.add(prediction)
        if shown in self.tally.unknown:
            mark = "(not a class of this model)"
        else:
            mark = "✓" if shown == prediction.label else "✗"
        score = (
            f"{self.hits}/{self.labelled} correct ({100 * self.hits / self.labelled:.0f} %)"
            if self.labelled
            else "no marker of the model's classes yet"
        )
        if self.tally.unknown:
            score += f" of the model's classes; {sum(self.tally.unknown.values())} of other classes left out"
        self.truth.setText(f"shown: {shown} {mark} · {score}")
        return new_unknown

    def reset(self) -> None:
        """Back to the empty state (a new session)."""
        self.tally = ClassTally(self.tally.class_names)
        self.label.setText("—")
        self.truth.setText("waiting for the first prediction")
        for name, bar, value in zip(self._names, self._bars, self._values, strict=True):
            name.setText("")
            bar.setValue(0)
            value.setText("")
