"""How the ``rtdecode`` command talks to its user: one-line errors, and no library chatter.

:func:`run_command` is the one place that turns an exception escaping a subcommand into a
single ``error: ...`` line on stderr and an exit status; the traceback is shown only with
``-v``. :func:`configure_output` routes library logging and Python warnings so that the user
sees the project's own messages, and everything else only with ``-v``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("rtdecode")

# Loggers whose INFO messages are the program's own progress; everything else (open_clip logs
# to the root logger, matplotlib, pyxdf, urllib3...) speaks at INFO only with -v.
PROJECT_LOGGERS = ("rtdecode", "calibration", "gui", "__main__")

# Exceptions that carry a message written for the user (ValueError: the project's rule for bad
# input; OSError: the system's words for a path; TimeoutError: a stream that did not appear).
USER_ERRORS = (ValueError, OSError, TimeoutError)

EXIT_BROKEN_PIPE = 141  # what a shell reports for a process killed by SIGPIPE (128 + 13)


def configure_output(verbose: bool) -> None:
    """Logging, warnings and liblsl verbosity for one run of the command.

    Parameters
    ----------
    verbose : bool
        ``-v``: DEBUG for everything, libraries included, and liblsl's own log lines.
    """
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.WARNING)
    if not verbose:
        for name in PROJECT_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)
        _quiet_liblsl()
    _seen_warnings.clear()
    warnings.showwarning = _log_warning


_seen_warnings: set[str] = set()


def _log_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    # One line, no source excerpt (the user did not write that line of code), and once per run:
    # the same file read twice warns twice from two places.
    text = " ".join(str(message).split())
    if text in _seen_warnings:
        return
    _seen_warnings.add(text)
    logging.getLogger("rtdecode.warnings").warning("%s", text)


def _quiet_liblsl() -> None:
    """liblsl prints INFO lines to stderr on its first call; keep its warnings and errors only.

    Left alone when the user has an LSL configuration file of their own (it may hold network
    settings that this content would replace).
    """
    if os.environ.get("LSLAPICFG") or any(
        p.exists() for p in (Path("lsl_api.cfg"), Path.home() / "lsl_api" / "lsl_api.cfg")
    ):
        return
    try:
        import pylsl

        pylsl.set_config_content("[log]\nlevel = -1\n")  # loguru verbosity -1: WARNING
    except (ImportError, NotImplementedError, OSError, RuntimeError):
        pass  # an older liblsl is noisier, not broken


def error_message(error: BaseException) -> str:
    """One line naming the problem (and, where the message has it, the fix)."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    text = " ".join(str(error).split()) if isinstance(error, USER_ERRORS) else ""
    if text:
        return text
    detail = " ".join(str(error).split()) or "no message"
    return (
        f"unexpected {type(error).__name__}: {detail} "
        "(this is a bug: run again with -v for the traceback and report it)"
    )


def run_command(handler: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Run a subcommand's handler; map what escapes it to an exit status and one stderr line."""
    verbose = bool(getattr(args, "verbose", False))
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout has gone (`rtdecode predict ... | head`): stop quietly, as Unix
        # tools do. Point stdout at /dev/null so that the interpreter's final flush is silent.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except SystemExit:
        raise
    except Exception as error:
        if verbose:
            traceback.print_exc()
        print(f"error: {error_message(error)}", file=sys.stderr)
        return 1
