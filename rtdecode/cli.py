"""The ``rtdecode`` command: one entry point, one subcommand per job.

The core's subcommands live in :mod:`rtdecode.commands`, one module per group; calibration and
gui add theirs through the ``rtdecode.commands`` entry points. Heavy modules (torch, diffusers,
Qt) are imported inside the subcommand that needs them, so ``rtdecode --help`` and the light
subcommands start fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from rtdecode.commands import reconstruct, recordings, stream

log = logging.getLogger("rtdecode")


def build_parser() -> argparse.ArgumentParser:
    """The ``rtdecode`` parser: the core's command groups, then the other packages' commands."""
    parser = argparse.ArgumentParser(
        prog="rtdecode",
        description=(
            "Real-time decoding of visual categories from EEG over Lab Streaming Layer, after "
            "Ferrante et al. (CNN student on EEG spectrograms distilled from a CLIP teacher)."
        ),
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also log debug messages, library messages and tracebacks to stderr",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in (recordings, stream, reconstruct):  # in the order `rtdecode --help` lists them
        group.register(sub)
    _add_plugin_commands(sub)
    for command in sub.choices.values():
        # `rtdecode predict ... -v` works too (errors suggest -v); SUPPRESS keeps a -v given
        # before the subcommand from being reset to False by the subparser's default.
        command.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="as `rtdecode -v`"
        )
    return parser


def _add_plugin_commands(sub: argparse._SubParsersAction) -> None:
    """Subcommands contributed by the other top-level packages (calibration, gui).

    rtdecode must not import them (dependencies point one way), so they register themselves
    through the ``rtdecode.commands`` entry point group declared in pyproject.toml; each entry
    point is a function that adds its subparsers.
    """
    from importlib.metadata import entry_points

    for entry in sorted(entry_points(group="rtdecode.commands"), key=lambda e: e.name):
        try:
            register = entry.load()
        except ImportError as error:  # a broken optional part must not break the whole CLI
            log.warning("subcommand %s unavailable: %s", entry.name, error)
            continue
        register(sub)


def main(argv: Sequence[str] | None = None) -> int:
    from rtdecode.cli_errors import configure_output, run_command

    parser = build_parser()
    args = parser.parse_args(argv)
    configure_output(args.verbose)
    if args.command is None:
        parser.print_help()
        return 2
    return run_command(args.handler, args)


if __name__ == "__main__":
    sys.exit(main())
