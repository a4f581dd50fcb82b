"""Can a Qt window open here? Asked before Qt is loaded, because Qt's answer is to abort.

Without a display, or without the X11 cursor library Qt 6's xcb plugin needs, Qt prints a
paragraph ("Reinstalling the application may fix this problem") and kills the process with
SIGABRT. :func:`display_problem` finds both cases first and says in one line what is missing.
"""

from __future__ import annotations

import ctypes.util
import os
import re
import socket
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
    display = os.environ["DISPLAY"]
    if not _x_server_answers(display):
        return (
            f"no X server answers at DISPLAY={display} (the desktop session ended, or the ssh -X "
            "connection closed): log in again, or unset DISPLAY for the headless commands"
        )
    if ctypes.util.find_library("xcb-cursor") is None:
        return (
            "Qt's X11 plugin needs the system library libxcb-cursor0, which is not installed: install it "
            "(Debian/Ubuntu: sudo apt install libxcb-cursor0; Fedora: sudo dnf install xcb-util-cursor)"
        )
    return None


def _x_server_answers(display: str, timeout_s: float = 2.0) -> bool:
    """Whether anything listens where ``DISPLAY`` points (``:N``, ``host:N.S``); True when unsure."""
    match = re.fullmatch(r"(?:(?P<host>[^:]*)/)?(?P<host2>[^:/]*):(?P<n>\d+)(?:\.\d+)?", display)
    if match is None:
        return True  # a form this check does not know (e.g. a launchd path on a Mac): let Qt try
    host, number = match.group("host2") or match.group("host") or "", int(match.group("n"))
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"
        for address in (path, "\0" + path):  # the socket file, then Linux's abstract namespace
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout_s)
                try:
                    sock.connect(address)
                    return True
                except OSError:
                    continue
        return False
    try:
        with socket.create_connection((host, 6000 + number), timeout=timeout_s):
            return True
    except OSError:
        return False
