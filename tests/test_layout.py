"""Which top-level packages may import which: the product never leans on the stand-ins.

`emulator/` holds stand-ins for Salesforce, Chargebee and Braintree, used by the tests, the
benchmarks and `make run`; the production image does not ship it (.dockerignore). So the apps
(billing, crm, subsync) must import neither `emulator` nor `tests` (`make run` starts the
Salesforce emulator as a subprocess, by module name, which is not an import), and `emulator`
must import neither Django, the apps nor `tests`, so it runs on its own in any process.
`wireformats/` (formats both write) is shared by the two, so it imports neither.

Imports are read from the source at any depth (inside functions too), so an import hidden in
a function cannot slip through.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("billing", "crm", "subsync")

# Top-level packages each part of the tree must not import.
FORBIDDEN = {
    **{app: {"emulator", "tests"} for app in APPS},
    "emulator": {"django", "billing", "crm", "subsync", "tests"},
    # Formats both sides write (wireformats/__init__.py): shared by the apps and the emulator,
    # so it imports neither of them, nor Django.
    "wireformats": {"django", "billing", "crm", "dashboard", "api", "subsync", "emulator",
                    "tests"},
}


def imported_top_levels(source: str) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in `source`, at any depth.

    Relative imports stay inside their own package, so they are not listed."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.partition(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.append((node.lineno, node.module.partition(".")[0]))
    return found


def python_files(package: str) -> list[Path]:
    return sorted(path for path in (ROOT / package).rglob("*.py")
                  if "__pycache__" not in path.parts)


def test_imported_top_levels_reads_every_kind_of_import():
    source = (
        "import os, emulator.salesforce\n"
        "from tests.support import normalized\n"
        "from . import sibling\n"
        "def later():\n"
        "    from django.db import connection\n"
    )
    assert sorted(imported_top_levels(source)) == [
        (1, "emulator"), (1, "os"), (2, "tests"), (5, "django"),
    ]

@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_forbidden_imports(package):
    files = python_files(package)
    assert files, f"no Python files found under {package}/"
    offending = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in files
        for line, name in imported_top_levels(path.read_text())
        if name in FORBIDDEN[package]
    ]
    assert offending == []


def test_emulator_loads_without_django_or_the_apps():
    """Importing every emulator module in a fresh interpreter pulls in none of them, not even
    through a third-party library."""
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in python_files("emulator")
    )
    forbidden = sorted(FORBIDDEN["emulator"])
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"loaded = sorted({{m.partition('.')[0] for m in sys.modules}} & set({forbidden!r}))\n"
        "print(','.join(loaded))\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
