"""The decoder's answer: the predicted class in large type and the top-5 probabilities as bars."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

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
        self.hits = 0
        self.labelled = 0

    def show_prediction(self, prediction) -> None:
        """Display a :class:`~rtdecode.decoder.Prediction` (its top-k, best first)."""
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
        marker = prediction.marker if isinstance(prediction.marker, dict) else None
        shown = marker.get("class") if marker else None
        if shown is None:
            self.truth.setText(f"sliding window · {prediction.latency_ms:.0f} ms after the last sample")
            return
        # The stimulus marker says what was on screen: show it next to the guess (display only).
        self.labelled += 1
        hit = shown == prediction.label
        self.hits += int(hit)
        mark = "✓" if hit else "✗"
        self.truth.setText(
            f"shown: {shown} {mark} · {self.hits}/{self.labelled} correct "
            f"({100 * self.hits / self.labelled:.0f} %)"
        )

    def reset(self) -> None:
        """Back to the empty state (a new session)."""
        self.hits = self.labelled = 0
        self.label.setText("—")
        self.truth.setText("waiting for the first prediction")
        for name, bar, value in zip(self._names, self._bars, self._values, strict=True):
            name.setText("")
            bar.setValue(0)
            value.setText("")
