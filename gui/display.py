"""Can a Qt window open here? Asked before Qt is loaded, because Qt's answer is to abort.

Without a display, or without a system library that Qt 6's X11 platform plugin (``libqxcb.so``)
links against (``libxcb-cursor0``, ``libxcb-icccm4``, ``libxcb-keysyms1``... are often missing on
a minimal install), Qt prints a paragraph ("Reinstalling the application may fix this problem")
and kills the process with SIGABRT. :func:`display_problem` finds these cases first and says in
one line what is missing and which packages to install.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

# Platforms that draw without a display server (tests, VNC, framebuffers).
_NO_SERVER_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb", "vkkhrdisplay")

# The system libraries Qt 6's xcb plugin and its Qt libraries link against, with the package
# that ships each: (Debian/Ubuntu, Fedora). A library not listed here is named without a package.
SYSTEM_PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libSM.so.6": ("libsm6", "libSM"),
    "libICE.so.6": ("libice6", "libICE"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
}

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$", re.MULTILINE)


def display_problem(*, missing_libraries: Callable[[], list[str]] | None = None) -> str | None:
    """None when a window can open; otherwise one line saying what is missing and what to do.

    Parameters
    ----------
    missing_libraries : callable, optional
        Returns the sonames the X11 platform plugin needs and the system lacks; defaults to
        :func:`xcb_plugin_missing_libraries` (tests pass a fake list).
    """
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
    missing = (missing_libraries or xcb_plugin_missing_libraries)()
    return missing_libraries_message(missing) if missing else None


def missing_libraries_message(missing: list[str]) -> str:
    """One line naming every missing library of the X11 plugin and the packages that ship them.

    Parameters
    ----------
    missing : list of str
        Sonames (``libxcb-icccm.so.4``), in the order the loader named them.
    """
    apt = _unique(SYSTEM_PACKAGES[name][0] for name in missing if name in SYSTEM_PACKAGES)
    dnf = _unique(SYSTEM_PACKAGES[name][1] for name in missing if name in SYSTEM_PACKAGES)
    unknown = [name for name in missing if name not in SYSTEM_PACKAGES]
    them = "it" if len(missing) == 1 else "them"
    install = []
    if apt:
        install.append(
            f"Debian/Ubuntu: sudo apt install {' '.join(apt)}; Fedora: sudo dnf install {' '.join(dnf)}"
        )
    if unknown:
        install.append(f"find the package that ships {', '.join(unknown)} with your package manager")
    plural = "ies" if len(missing) > 1 else "y"
    verb = "are" if len(missing) > 1 else "is"
    return (
        f"Qt's X11 plugin (libqxcb.so) needs the system librar{plural} {', '.join(missing)}, which "
        f"{verb} not installed: install {them} ({'; '.join(install)})"
    )


def xcb_plugin_missing_libraries() -> list[str]:
    """Sonames that Qt's X11 platform plugin (and the Qt libraries it loads) need and cannot find.

    Asks the system's dynamic loader through ``ldd``, which follows the plugin's dependencies
    the way loading it will (its RPATH to PySide6's own Qt libraries, ``LD_LIBRARY_PATH``, the
    loader cache).

    Returns
    -------
    list of str
        Each missing soname once, in the loader's order; empty when nothing is missing or when
        this cannot be told (no PySide6 plugin or no ``ldd``: Qt then tries by itself).
    """
    plugin = _xcb_plugin()
    ldd = shutil.which("ldd")
    if plugin is None or ldd is None:
        return []
    try:
        result = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return _unique(_NOT_FOUND.findall(result.stdout))


def _xcb_plugin() -> Path | None:
    """PySide6's ``plugins/platforms/libqxcb.so``, found without importing Qt (None if absent)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        for plugins in (Path(root) / "Qt" / "plugins", Path(root) / "plugins"):
            plugin = plugins / "platforms" / "libqxcb.so"
            if plugin.is_file():
                return plugin
    return None


def _unique(items) -> list[str]:
    return list(dict.fromkeys(items))


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
