"""The fault campaign (bench/faults.py) against the real processes, in CI's short version.

It runs the campaign's "all together" phase with the quick profile: under a steady load of
Chargebee and Braintree webhooks (re-sends and disorder included, anything not answered 2xx
sent again as providers do), beat is stopped for 40 s (not the bench's 10 minutes), queued
Salesforce faults (5xx, a call beyond the client timeout, UNABLE_TO_LOCK_ROW,
INVALID_SESSION_ID, REQUEST_LIMIT_EXCEEDED) are met, the worker is SIGKILLed, Redis is
stopped for 10 s (not 30 s) and restarted empty, and PostgreSQL is restarted meanwhile. The
campaign uses a PostgreSQL and a Redis of its own (never the machine's shared ones), so it
needs PostgreSQL's server programs and redis-server installed.

Nothing acts after the faults end; the campaign watches until converged. The assertions are
the campaign's definition of correct: no acknowledged event lost, no Salesforce record
duplicated, and convergence (every event applied once, newest versions stored, nothing
open, Salesforce equal to billing) before a deadline generous for a shared CI machine. How
fast it converges is a figure the bench prints (docs/reliability.md), not asserted here.
Runs in about 2-3 minutes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.private_services import pg_bin_dir

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 240

pytestmark = pytest.mark.slow


def campaign_available() -> str | None:
    if shutil.which("redis-server") is None:
        return "redis-server is not installed"
    try:
        pg_bin_dir()
    except RuntimeError as exc:
        return str(exc)
    return None


@pytest.mark.timeout(600)
def test_all_faults_at_once_lose_nothing_duplicate_nothing_and_converge():
    if reason := campaign_available():
        pytest.skip(reason)
    done = subprocess.run(
        [sys.executable, "bench/faults.py", "--profile", "quick", "--only", "together",
         "--deadline", str(DEADLINE_SECONDS), "--seed", "15", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=560)
    output = done.stdout + done.stderr
    [row] = json.loads(done.stdout.strip().splitlines()[-1])

    assert row["sent"] > 0 and row["acknowledged"] == row["distinct"], output
    assert row["lost"] == 0, output
    assert row["sf_duplicates"] == 0, output
    assert row["converge_seconds"] is not None, output
    assert done.returncode == 0, output
