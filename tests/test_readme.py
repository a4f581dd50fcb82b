"""The README's set-up commands are the ones CI runs and the CLI knows."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", text, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_ci_runs_the_readmes_test_command_word_for_word():
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))
    ]
    assert len(ci_lines) == 1
    assert ci_lines[0] in _readme_commands()


def test_readme_demo_command_uses_a_real_subcommand():
    from rtdecode.cli import build_parser

    demo = [c for c in _readme_commands() if "rtdecode " in c and "pytest" not in c][0]
    subcommand = demo.split("rtdecode ", 1)[1].split()[0]
    assert build_parser().parse_args([subcommand]).command == subcommand
