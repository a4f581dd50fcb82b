"""The stimulus screen: an image, a fixation cross, or a message, on black."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

# Share of the shorter screen side the image fills: large, with a margin for the eyes.
IMAGE_FRACTION = 0.8


class StimulusView(QtWidgets.QWidget):
    """What the participant sees. :meth:`show_image` then ``repaint()`` paints synchronously, so
    the caller can take the onset timestamp right after the frame is drawn."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Expanding)
        self.image: QtGui.QImage | None = None
        self.fixation = False
        self.message = ""

    def image_side(self) -> int:
        """Pixels of the square an image is fitted into at the current size."""
        return int(min(self.width(), self.height()) * IMAGE_FRACTION)

    def prepare(self, image: QtGui.QImage) -> QtGui.QImage:
        """``image`` scaled to its on-screen size now, so that painting it at its onset is a copy."""
        if image.isNull():
            return image
        side = self.image_side()
        smooth = image.width() >= side // 2  # small stimuli stay crisp; photos are smoothed
        scaled = image.scaled(
            side,
            side,
            QtCore.Qt.AspectRatioMode.KeepAspectRatio,
            QtCore.Qt.TransformationMode.SmoothTransformation
            if smooth
            else QtCore.Qt.TransformationMode.FastTransformation,
        )
        return scaled.convertToFormat(QtGui.QImage.Format.Format_RGB32)

    def show_image(self, image: QtGui.QImage) -> None:
        self.image, self.fixation, self.message = image, False, ""
        self.update()

    def show_fixation(self, message: str = "") -> None:
        self.image, self.fixation, self.message = None, True, message
        self.update()

    def show_message(self, message: str) -> None:
        self.image, self.fixation, self.message = None, False, message
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        painter = QtGui.QPainter(self)
        rect = self.rect()
        painter.fillRect(rect, QtGui.QColor(0, 0, 0))
        side = self.image_side()
        if self.image is not None and not self.image.isNull():
            size = self.image.size()
            if max(size.width(), size.height()) != side:  # not prepared for this size
                size = size.scaled(side, side, QtCore.Qt.AspectRatioMode.KeepAspectRatio)
            target = QtCore.QRect(QtCore.QPoint(0, 0), size)
            target.moveCenter(rect.center())
            painter.setRenderHint(
                QtGui.QPainter.RenderHint.SmoothPixmapTransform, self.image.width() >= side // 2
            )
            painter.drawImage(target, self.image)
        if self.fixation:
            arm = max(8, side // 30)
            painter.setPen(QtGui.QPen(QtGui.QColor(220, 220, 220), max(2, arm // 4)))
            c = rect.center()
            painter.drawLine(c.x() - arm, c.y(), c.x() + arm, c.y())
            painter.drawLine(c.x(), c.y() - arm, c.x(), c.y() + arm)
        if self.message:
            font = painter.font()
            font.setPointSize(max(12, rect.height() // 30))
            painter.setFont(font)
            painter.setPen(QtGui.QColor(200, 200, 200))
            area = rect.adjusted(20, rect.height() // 2 + 40, -20, -20)
            flags = QtCore.Qt.AlignmentFlag.AlignHCenter | QtCore.Qt.AlignmentFlag.AlignTop
            painter.drawText(area, int(flags) | int(QtCore.Qt.TextFlag.TextWordWrap), self.message)
