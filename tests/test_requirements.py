"""requirements/base.txt is what the product needs to run, and only that.

The production image installs base.txt alone, so every distribution the apps import must be
listed there (not merely pulled in by another one, which may drop it), and nothing the apps
do without must be: development and test tools belong in requirements/dev.txt. A listed
dependency that no app imports is used some other way, which ALSO_USED says.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The runtime code: what the production image runs.
RUNTIME = ("billing", "crm", "subsync", "dashboard", "api", "wireformats")
OWN = {*RUNTIME, "emulator", "tests", "bench"}

# Runtime dependencies the apps do not import by name, and why they are needed.
ALSO_USED = {
    "granian": "the web server: subsync.server runs it as a command",
    "whitenoise": "middleware and static files storage named in subsync.settings",
    "redis": "Django's RedisCache and Celery's Redis broker load it",
    "cryptography": "PyJWT's RS256 signing, for the Salesforce JWT bearer flow",
    "drf-spectacular-sidecar": "Swagger UI's files for /api/docs/, an app in INSTALLED_APPS",
    "django-axes": "login lockouts: an app, a middleware and a backend named in subsync.settings",
}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def listed(path: Path) -> set[str]:
    """The distribution names a requirements file lists itself (not through -r)."""
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(normalized(re.match(r"[A-Za-z0-9._-]+", line).group()))
    return names


def imported_top_levels(paths) -> set[str]:
    """Top-level names of every absolute import in `paths`, at any depth."""
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module.partition(".")[0])
    return names


def third_party(names: set[str]) -> set[str]:
    return {name for name in names
            if name not in OWN and name not in sys.stdlib_module_names and name != "__future__"}


def runtime_distributions() -> dict[str, set[str]]:
    """Distribution -> the import names the runtime code uses from it."""
    files = [path for package in RUNTIME if (ROOT / package).is_dir()
             for path in (ROOT / package).rglob("*.py") if "__pycache__" not in path.parts]
    owners = packages_distributions()
    found: dict[str, set[str]] = {}
    for name in third_party(imported_top_levels(files)):
        for distribution in owners.get(name, [f"<not installed: {name}>"]):
            found.setdefault(normalized(distribution), set()).add(name)
    return found


def test_every_distribution_the_apps_import_is_a_runtime_requirement():
    base = listed(ROOT / "requirements" / "base.txt")

    missing = {dist: names for dist, names in runtime_distributions().items()
               if dist not in base}

    assert not missing, f"imported by the apps but not in requirements/base.txt: {missing}"


def test_every_runtime_requirement_is_used():
    base = listed(ROOT / "requirements" / "base.txt")

    unused = base - set(runtime_distributions()) - {normalized(n) for n in ALSO_USED}

    assert not unused, (f"in requirements/base.txt but not used by the apps: {unused} "
                        "(remove it, move it to dev.txt, or say in ALSO_USED how it is used)")


def test_development_tools_are_not_runtime_requirements():
    base = listed(ROOT / "requirements" / "base.txt")
    dev = listed(ROOT / "requirements" / "dev.txt")

    assert not base & dev
    assert {"pytest", "pytest-django", "hypothesis", "ruff", "trustme"} <= dev


def test_listed_reads_names_and_skips_comments_and_includes(tmp_path):
    requirements = tmp_path / "r.txt"
    requirements.write_text("-r base.txt\n# a comment\nDjango>=5.2,<5.3\n"
                            "psycopg[binary]>=3.2  # the driver\nsimple_salesforce==1.12\n")

    assert listed(requirements) == {"django", "psycopg", "simple-salesforce"}
