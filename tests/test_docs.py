"""The documentation cites real files, keeps the README's performance summary short, and the
licence the package declares is the one the repository ships.

Docs rot quietly: a module is renamed and the page that sent readers to it keeps its old name
(docs/metrics.md once named the wrong module for the ledger). These tests read the Markdown
the way a reader does: every backticked repository path and every relative link must lead
somewhere.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Paths other work in progress is moving or writing into place (issue 12's layout, the
# dashboard's benchmark). Each may be cited before it exists, and only while it does not exist
# yet: once it does, it is checked like any other. TO REMOVE once that work has landed.
BEING_MOVED = (
    "bench/dashboard.py",  # being written; remove once it lands
)
# Created at run time, never in the repository.
RUNTIME_PREFIXES = ("var/", ".venv/")
PATH_SUFFIXES = (".py", ".md", ".txt", ".toml", ".yml")
PERFORMANCE_LINES = 15

FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
# What a relative repository path looks like: segments of name characters separated by `/`,
# no scheme, no placeholders, no spaces, not an absolute URL path.
PATH_SHAPE = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.\-]*(/[A-Za-z0-9_.\-]+)*/?")


def prose(text: str) -> str:
    """The Markdown without fenced code blocks (shell sessions cite commands, not paths)."""
    return FENCE.sub("", text)


def cited_paths(text: str) -> set[str]:
    """Backticked things that look like repository paths: with a `/`, or a known suffix."""
    found = set()
    for code in INLINE_CODE.findall(prose(text)):
        candidate = code.strip()
        if not PATH_SHAPE.fullmatch(candidate) or candidate.startswith("./"):
            continue
        if "/" in candidate or candidate.endswith(PATH_SUFFIXES):
            found.add(candidate)
    return found


def linked_paths(text: str, *, document: Path) -> set[str]:
    """Relative link targets, as paths from the repository root (anchors dropped)."""
    found = set()
    for target in LINK.findall(prose(text)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        path = (document.parent / target.split("#", 1)[0]).resolve()
        found.add(path.relative_to(ROOT).as_posix())
    return found


def missing_allowed(path: str) -> bool:
    return any(path == moved or (moved.endswith("/") and path.startswith(moved))
               for moved in BEING_MOVED)


def test_the_path_finder_reads_paths_and_skips_the_rest():
    text = (
        "See `billing/services/batch.py`, `bench/sync.py`, `docs/metrics.md`,\n"
        "`crm/salesforce/metadata` and `pyproject.toml`; not `POST /webhooks/chargebee/`,\n"
        "`/healthz`, `redis://host:6379/0`, `Contract.Subsync_MRR__c=MRR__c`, `LOG_LEVEL`,\n"
        "`https://<your host>/webhooks/braintree/` or `crm.tasks.flush_salesforce`.\n"
        "```sh\n.venv/bin/python bench/not_cited.py\n```\n"
    )
    assert cited_paths(text) == {
        "billing/services/batch.py", "bench/sync.py", "docs/metrics.md",
        "crm/salesforce/metadata", "pyproject.toml",
    }


def test_links_are_read_relative_to_their_document():
    text = "[metrics](metrics.md), [conf](../README.md#configuration), [x](https://x.org/a.md)"
    assert linked_paths(text, document=ROOT / "docs" / "architecture.md") == {
        "docs/metrics.md", "README.md",
    }


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_cited_path_exists(document: Path):
    text = document.read_text(encoding="utf-8")
    paths = cited_paths(text) | linked_paths(text, document=document)
    missing = sorted(
        path for path in paths
        if not path.startswith(RUNTIME_PREFIXES)
        and not (ROOT / path).exists()
        and not missing_allowed(path)
    )
    assert missing == [], f"{document.name} cites paths that do not exist: {missing}"


def test_readme_performance_summary_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index("## Performance")
    section = []
    for line in lines[start + 1:]:
        if line.startswith("## "):
            break
        section.append(line)
    non_blank = [line for line in section if line.strip()]
    assert non_blank, "the README has no performance summary"
    assert len(non_blank) <= PERFORMANCE_LINES
    assert "docs/performance.md" in "\n".join(section)


def test_the_licence_file_is_the_declared_mit_licence():
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License")
    assert "Copyright (c) 2026 the subsync authors" in licence
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = project["license"]
    assert (declared.get("text") if isinstance(declared, dict) else declared) == "MIT"


def test_every_setting_read_from_the_environment_is_in_the_readme():
    settings_text = (ROOT / "subsync" / "settings.py").read_text()
    names = set(re.findall(r'env\.[a-z]+\(\s*"([A-Z][A-Z0-9_]+)"', settings_text))
    readme = (ROOT / "README.md").read_text()
    assert names, "no settings found: the pattern no longer matches settings.py"
    assert sorted(name for name in names if name not in readme) == []
