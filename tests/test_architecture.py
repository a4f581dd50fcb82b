"""The architecture's rules (docs/architecture.md), checked where CI and the README's test command run.

Import layering is import-linter's job: its contracts live in ``pyproject.toml`` under
``[tool.importlinter]`` and this module runs them, so a broken contract fails the tests with
import-linter's own report. The rest are rules import-linter cannot state: module size, names that
stay private to their module, and paths every supported OS can check out.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("rtdecode", "calibration", "gui")
MAX_MODULE_LINES = 700
# Characters Windows refuses in a file name; a tracked path with one breaks a Windows checkout.
WINDOWS_FORBIDDEN = set(':*?"<>|\\')


def _project_modules() -> dict[str, Path]:
    """Dotted name -> file of every module in the three packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def test_import_contracts_hold():
    # A fresh interpreter in the repository root: import-linter builds its graph from the packages
    # found there (this checkout, not an installed copy), and its console output stays out of pytest.
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(no_cache=True, no_logo=True))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "120"},  # import-linter's report wraps at the terminal width
    )
    if result.returncode != 0:
        pytest.fail(
            "import-linter contracts in pyproject.toml are broken (docs/architecture.md, 'Layering'):\n"
            + result.stdout
            + result.stderr,
            pytrace=False,
        )


def test_no_module_over_the_line_limit():
    offenders = {
        name: n
        for name, path in _project_modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    if offenders:
        listed = ", ".join(f"{name} ({n})" for name, n in sorted(offenders.items()))
        pytest.fail(f"modules over {MAX_MODULE_LINES} lines; split them by job: {listed}", pytrace=False)


def _private_imports(module: str, path: Path, modules: dict[str, Path]) -> list[str]:
    """``from X import _name`` and ``X._name`` where X is another module of the project."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found = []
    # Local name -> the project module it is bound to, so `alias._name` can be traced to its owner.
    module_names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    # `import a.b.c` binds `a`; `import a.b.c as m` binds `m` to `a.b.c`.
                    local = alias.asname or alias.name.split(".")[0]
                    module_names[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                # Relative: `from . import x` in a package's __init__ is relative to the package.
                keep = len(module.split(".")) - node.level + is_package
                base = module.split(".")[:keep]
                source = ".".join([*base, source] if source else base)
            if source.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:
                if f"{source}.{alias.name}" in modules:  # a submodule imported by name
                    module_names[alias.asname or alias.name] = f"{source}.{alias.name}"
                if alias.name.startswith("_") and not alias.name.startswith("__") and source != module:
                    found.append(f"{module}:{node.lineno} imports {source}.{alias.name}")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        # Rebuild the dotted name the attribute is read from: `rtdecode.io.xdf._x` or `xdf._x`.
        parts, value = [], node.value
        while isinstance(value, ast.Attribute):
            parts.append(value.attr)
            value = value.value
        if not isinstance(value, ast.Name) or value.id not in module_names:
            continue
        owner = ".".join([module_names[value.id], *reversed(parts)])
        if owner in modules and owner != module:
            found.append(f"{module}:{node.lineno} uses {owner}.{node.attr}")
    return found


def test_no_private_name_imported_across_modules():
    # A private name used by a second module is an API nobody reviews as one: make it public
    # where it lives, or move it to the one module that needs it.
    modules = _project_modules()
    offenders = [hit for name, path in modules.items() for hit in _private_imports(name, path, modules)]
    if offenders:
        pytest.fail("private names used outside their module:\n" + "\n".join(offenders), pytrace=False)


def test_tracked_paths_check_out_on_windows():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
    ).stdout.decode("utf-8", errors="surrogateescape")
    offenders = [p for p in listed.split("\0") if p and WINDOWS_FORBIDDEN & set(p.replace("/", ""))]
    # `/` is git's separator; a backslash inside a name is the same problem as a colon.
    if offenders:
        pytest.fail(
            'tracked paths with a character Windows refuses (: * ? " < > | \\): ' + ", ".join(offenders),
            pytrace=False,
        )
