"""Can a Qt window open here? Asked before Qt is loaded, because Qt's answer is to abort.

Without a display, or without the X11 cursor library Qt 6's xcb plugin needs, Qt prints a
paragraph ("Reinstalling the application may fix this problem") and kills the process with
SIGABRT. :func:`display_problem` finds both cases first and says in one line what is missing.
"""

from __future__ import annotations

import ctypes.util
import os
import sys

# Platforms that draw without a display server (tests, VNC, framebuffers).
_NO_SERVER_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb", "vkkhrdisplay")


def display_problem() -> str | None:
    """None when a window can open; otherwise one line saying what is missing and what to do."""
    if sys.platform in ("darwin", "win32"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0].strip().lower()
    if platform in _NO_SERVER_PLATFORMS:
        return None
    wayland = bool(os.environ.get("WAYLAND_DISPLAY")) and platform in ("", "wayland")
    if wayland:
        return None
    if not os.environ.get("DISPLAY"):
        return (
            "no display to open a window on (DISPLAY and WAYLAND_DISPLAY are not set): run this on a "
            "desktop session or over `ssh -X`; the headless commands (simulate, calibrate, predict, "
            "live --jsonl) need none"
        )
    if ctypes.util.find_library("xcb-cursor") is None:
        return (
            "Qt's X11 plugin needs the system library libxcb-cursor0, which is not installed: install it "
            "(Debian/Ubuntu: sudo apt install libxcb-cursor0; Fedora: sudo dnf install xcb-util-cursor)"
        )
    return None
