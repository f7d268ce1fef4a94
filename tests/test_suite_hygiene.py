"""The suite's own safety nets (issue 15, test suite hygiene): a default timeout, so that no
test can hang CI, and Hypothesis derandomized in CI, so that a failure there reproduces."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from hypothesis import settings as hypothesis_settings


def test_every_test_has_a_timeout_by_default(pytestconfig):
    assert pytestconfig.pluginmanager.hasplugin("timeout")
    assert pytestconfig.getini("timeout") == "300"


def test_a_hanging_test_fails_instead_of_hanging(tmp_path):
    """What the default does to a test that never returns, shown with a short limit."""
    (tmp_path / "test_hangs.py").write_text(textwrap.dedent("""
        import threading

        def test_joins_a_thread_that_never_ends():
            threading.Thread(target=threading.Event().wait, daemon=True).start()
            threading.Event().wait()
    """))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-c", os.devnull, "-p", "no:django",
         "-p", "no:cacheprovider",
         "-o", "timeout=2", str(tmp_path / "test_hangs.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Timeout" in run.stdout + run.stderr


def test_hypothesis_is_derandomized_when_ci_is_set():
    expected = (os.environ.get("HYPOTHESIS_PROFILE") == "ci"
                or (not os.environ.get("HYPOTHESIS_PROFILE") and bool(os.environ.get("CI"))))
    assert hypothesis_settings.default.derandomize is expected


def test_the_ci_profile_is_derandomized():
    profile = hypothesis_settings.get_profile("ci")
    assert profile.derandomize and profile.database is None
