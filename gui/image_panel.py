"""The image for the predicted class, with where it came from marked on it."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

# Badge colours: a generated image is the product working as designed; anything else is a stand-in.
SOURCE_STYLE = {
    "generated": ("generated", "#1f7a3a"),
    "cache": ("generated (cached)", "#2f6fb3"),
    "exemplar": ("calibration exemplar", "#9a6b00"),
    "placeholder": ("placeholder", "#7a7a7a"),
}


def to_qimage(image: np.ndarray) -> QtGui.QImage:
    """A deep-copied QImage of an ``(height, width, 3)`` uint8 RGB array."""
    array = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
    height, width = array.shape[:2]
    qimage = QtGui.QImage(array.data, width, height, 3 * width, QtGui.QImage.Format.Format_RGB888)
    return qimage.copy()  # the QImage above only borrows the numpy buffer


class ScaledImage(QtWidgets.QWidget):
    """Draws one image as large as fits, aspect kept, centred."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._image: QtGui.QImage | None = None
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Expanding)

    def set_image(self, image: QtGui.QImage | None) -> None:
        self._image = image
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        painter = QtGui.QPainter(self)
        painter.fillRect(self.rect(), QtGui.QColor("#20242a"))
        if self._image is None or self._image.isNull():
            painter.setPen(QtGui.QColor("#9aa3ad"))
            painter.drawText(self.rect(), QtCore.Qt.AlignmentFlag.AlignCenter, "no image yet")
            return
        size = self._image.size().scaled(self.size(), QtCore.Qt.AspectRatioMode.KeepAspectRatio)
        target = QtCore.QRect(QtCore.QPoint(0, 0), size)
        target.moveCenter(self.rect().center())
        # Small stimuli (64 px) upscaled smoothly look like blur; keep their pixels crisp.
        smooth = self._image.width() >= 256
        painter.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, smooth)
        painter.drawImage(target, self._image)


class ImagePanel(QtWidgets.QGroupBox):
    """Image of the predicted class, a badge naming its source, and the image service's status."""

    def __init__(self, parent=None) -> None:
        super().__init__("Image", parent)
        layout = QtWidgets.QVBoxLayout(self)
        self.view = ScaledImage()
        layout.addWidget(self.view, 1)
        row = QtWidgets.QHBoxLayout()
        self.caption = QtWidgets.QLabel("")
        self.caption.setStyleSheet("font-weight: bold;")
        self.badge = QtWidgets.QLabel("")
        row.addWidget(self.caption, 1)
        row.addWidget(self.badge)
        layout.addLayout(row)
        self.note = QtWidgets.QLabel("")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555; font-size: 11px;")
        layout.addWidget(self.note)
        self.current_class: str | None = None
        self.current_source: str | None = None

    def show_image(self, generated) -> None:
        """Display a ``GeneratedImage`` (or :class:`~gui.image_source.ExemplarImage`)."""
        self.view.set_image(to_qimage(generated.image))
        self.current_class = generated.class_name
        self.current_source = generated.source
        self.caption.setText(generated.class_name)
        text, colour = SOURCE_STYLE.get(generated.source, (generated.source, "#555"))
        seconds = getattr(generated, "seconds", 0.0) or 0.0
        if generated.source == "generated" and seconds:
            text += f" in {seconds:.1f} s"
        self.badge.setText(f" {text} ")
        self.badge.setStyleSheet(f"background: {colour}; color: white; border-radius: 3px; padding: 2px;")
        self.badge.setToolTip(getattr(generated, "prompt", "") or "")

    def set_note(self, text: str) -> None:
        self.note.setText(text)

    def clear(self) -> None:
        self.view.set_image(None)
        self.caption.setText("")
        self.badge.setText("")
        self.badge.setStyleSheet("")
        self.current_class = self.current_source = None
