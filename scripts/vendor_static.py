"""Refresh the JavaScript libraries the dashboard serves from static/vendor/ (`make vendor`).

The dashboard runs behind firewalls, so nothing is loaded from a CDN: the files are committed.
This fetches the pinned versions from the npm registry with `npm pack` (no node_modules, no
build step), copies the one file each page needs plus its licence, and rewrites
static/vendor/README.md with the versions. Change a version here, run `make vendor`, commit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "static" / "vendor"

# npm package, version, file inside the package -> name under static/vendor/, licence file.
LIBRARIES = [
    ("htmx.org", "2.0.11", "package/dist/htmx.min.js", "htmx.min.js", "package/LICENSE"),
    ("chart.js", "4.6.2", "package/dist/chart.umd.min.js", "chart.umd.min.js",
     "package/LICENSE.md"),
]


def fetch(package: str, version: str, workdir: Path) -> Path:
    out = subprocess.run(["npm", "pack", "--json", f"{package}@{version}"], cwd=workdir,
                         check=True, capture_output=True, text=True).stdout
    return workdir / json.loads(out)[0]["filename"]


def main() -> int:
    VENDOR.mkdir(parents=True, exist_ok=True)
    lines = ["# Vendored JavaScript", "",
             "Served from our own static files (no CDN). Refresh with `make vendor`",
             "(scripts/vendor_static.py pins the versions).", "",
             "| library | version | file | licence |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for package, version, member, target, licence in LIBRARIES:
            with tarfile.open(fetch(package, version, workdir)) as archive:
                archive.extractall(workdir / package, filter="data")
            shutil.copyfile(workdir / package / member, VENDOR / target)
            licence_name = f"{Path(target).stem.split('.')[0]}.LICENSE"
            shutil.copyfile(workdir / package / licence, VENDOR / licence_name)
            kind = (workdir / package / licence).read_text().splitlines()[0].strip("# =")
            lines.append(f"| {package} | {version} | `{target}` | {kind} (`{licence_name}`) |")
            print(f"{package} {version} -> static/vendor/{target}")
    (VENDOR / "README.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
