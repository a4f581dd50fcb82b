"""The display check names every system library Qt's X11 plugin lacks, before Qt aborts.

The loader's answer is faked (``ldd``'s report, or the list of missing libraries), so these tests
say the same on any machine.
"""

from __future__ import annotations

import socket
import subprocess

import pytest

from gui import display
from gui.display import display_problem, missing_libraries_message, xcb_plugin_missing_libraries

# What ldd reports for PySide6 6.x's libqxcb.so on a system with libxcb-cursor0 but without
# libxcb-icccm4 and libxcb-keysyms1 (the bundled libQt6XcbQpa asks for them, so they show twice).
LDD_REPORT = """\
\tlinux-vdso.so.1 (0x00007f708fc22000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x00007f708fb54000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f708ef72000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x00007f708ef6a000)
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-randr.so.0 => /lib/x86_64-linux-gnu/libxcb-randr.so.0 (0x00007f708ef51000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f708de1e000)
"""


@pytest.fixture
def x_server(monkeypatch):
    """An X display that answers (a socket in Linux's abstract namespace, as Xorg also uses)."""
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind("\0/tmp/.X11-unix/X4251")
        server.listen(1)
        monkeypatch.setenv("DISPLAY", ":4251")
        yield


@pytest.mark.parametrize(
    ("missing", "named", "packages"),
    [
        # The system: the cursor library is there, two others are not.
        (
            ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"],
            ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"],
            "sudo apt install libxcb-icccm4 libxcb-keysyms1",
        ),
        (["libxcb-cursor.so.0"], ["libxcb-cursor.so.0"], "sudo apt install libxcb-cursor0"),
        # Two libraries of one Fedora package name it once; an unknown library is named without one.
        (
            ["libxcb-randr.so.0", "libxcb-shm.so.0", "libfoo.so.3"],
            ["libxcb-randr.so.0", "libxcb-shm.so.0", "libfoo.so.3"],
            "sudo apt install libxcb-randr0 libxcb-shm0; Fedora: sudo dnf install libxcb;",
        ),
    ],
)
def test_every_missing_library_is_named_in_one_line_with_its_package(x_server, missing, named, packages):
    problem = display_problem(missing_libraries=lambda: missing)
    assert problem is not None and "\n" not in problem
    assert problem.startswith("Qt's X11 plugin (libqxcb.so) needs the system librar")
    for name in named:
        assert name in problem
    assert packages in problem
    assert "Reinstalling" not in problem


def test_nothing_missing_or_a_server_less_platform_passes(x_server, monkeypatch):
    assert display_problem(missing_libraries=lambda: []) is None
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert display_problem(missing_libraries=lambda: ["libxcb-icccm.so.4"]) is None


def test_the_loaders_report_gives_each_missing_library_once(monkeypatch, tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"\x7fELF")
    asked = []

    def fake_run(argv, **kwargs):
        asked.append(argv)
        return subprocess.CompletedProcess(argv, 0, stdout=LDD_REPORT, stderr="")

    monkeypatch.setattr(display, "_xcb_plugin", lambda: plugin)
    monkeypatch.setattr(display.shutil, "which", lambda name: "/usr/bin/ldd")
    monkeypatch.setattr(display.subprocess, "run", fake_run)
    assert xcb_plugin_missing_libraries() == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert asked == [["/usr/bin/ldd", str(plugin)]]
    # Without ldd, or without the plugin, nothing can be told: Qt is left to try.
    monkeypatch.setattr(display.shutil, "which", lambda name: None)
    assert xcb_plugin_missing_libraries() == []
    monkeypatch.setattr(display.shutil, "which", lambda name: "/usr/bin/ldd")
    monkeypatch.setattr(display, "_xcb_plugin", lambda: None)
    assert xcb_plugin_missing_libraries() == []


def test_one_missing_library_reads_in_the_singular():
    message = missing_libraries_message(["libxcb-cursor.so.0"])
    assert "the system library libxcb-cursor.so.0, which is not installed: install it" in message
    assert "Fedora: sudo dnf install xcb-util-cursor" in message
