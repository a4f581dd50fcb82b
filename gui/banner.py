"""A message strip across the top of a window: errors and warnings that never block it."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

LEVEL_STYLE = {
    "error": "background: #fbe3e1; color: #7d1d14; border: 1px solid #e3a39b;",
    "warning": "background: #fff4d6; color: #6b4e00; border: 1px solid #e6c56e;",
    "info": "background: #e2f0e5; color: #1d5a2c; border: 1px solid #9cc9a7;",
}


class Banner(QtWidgets.QFrame):
    """One message at a time with a level colour and a close button; optionally fades by itself.

    ``level`` and ``text`` hold what is shown (the tests read them).
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self.title = QtWidgets.QLabel()
        self.title.setStyleSheet("font-weight: bold; border: none; background: transparent;")
        self.title.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop)
        self.message = QtWidgets.QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setStyleSheet("border: none; background: transparent;")
        close = QtWidgets.QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.clicked.connect(self.dismiss)
        layout.addWidget(self.title)
        layout.addWidget(self.message, 1)
        layout.addWidget(close, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.dismiss)
        self.level = ""
        self.text = ""
        self.hide()

    def show_message(self, level: str, title: str, message: str, timeout_s: float | None = None) -> None:
        """Show ``title: message`` at ``level`` (error, warning, info); hide after ``timeout_s``."""
        self.level, self.text = level, f"{title}: {message}"
        self.setStyleSheet(f"Banner {{ {LEVEL_STYLE.get(level, LEVEL_STYLE['info'])} border-radius: 4px; }}")
        self.title.setText(title)
        # Long engine messages list streams line by line; keep the lines.
        self.message.setText(message.strip())
        self._timer.stop()
        if timeout_s:
            self._timer.start(int(timeout_s * 1000))
        self.show()

    def dismiss(self) -> None:
        self._timer.stop()
        self.level = self.text = ""
        self.hide()
