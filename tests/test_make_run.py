"""Smoke test of `make run`'s own entry point on embedded defaults (SQLite, filesystem broker).

Starts `python -m subsync.run` exactly as the Makefile does, waits for /healthz, sends a Celery
task through the embedded broker to the real worker, posts a Chargebee webhook and waits for
its Contract to be Activated in the Salesforce emulator that `make run` started, then presses
Ctrl-C and checks that every process stopped. A second run must work without surprises (no
second admin account).
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from emulator.chargebee.events import make_event

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def embedded_env(var_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "CELERY_", "SALESFORCE_", "DEBUG",
                                   "BRAINTREE_", "CHARGEBEE_", "SILENCED_"))}
    env.update(SUBSYNC_VAR_DIR=str(var_dir), SUBSYNC_BIND=f"127.0.0.1:{port}",
               CHARGEBEE_WEBHOOK_USERNAME="hooks",
               CHARGEBEE_WEBHOOK_PASSWORD="smoke-webhook-password",
               SUBSYNC_EMULATOR_PORT=str(free_port()), WEB_CONCURRENCY="1",
               WORKER_CONCURRENCY="1", PYTHONUNBUFFERED="1")
    return env


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"make run exited early: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.5)
    raise AssertionError("/healthz never answered")


def send_webhook(port: int, event: dict) -> int:
    token = base64.b64encode(b"hooks:smoke-webhook-password").decode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/chargebee/", data=json.dumps(event).encode(),
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def wait_for_activated_contract(var_dir: Path, external_id: str, timeout: float = 90) -> dict:
    """Poll the emulator that `make run` started until the Contract is Activated."""
    info = json.loads((var_dir / "sf-emulator" / "ready.json").read_text())
    context = ssl.create_default_context(cafile=info["ca_path"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        url = f"{info['url']}/_emulator/records/Contract"
        with urllib.request.urlopen(url, timeout=5, context=context) as response:
            for record in json.loads(response.read())["records"]:
                if (record.get("Subsync_Subscription_Id__c") == external_id
                        and record.get("Status") == "Activated"):
                    return record
        time.sleep(0.5)
    raise AssertionError(f"no Activated Contract for {external_id} in the emulator")


def start(env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "subsync.run"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def processes_of(var_dir: str) -> list[str]:
    """Command lines of the live processes started with this run's SUBSYNC_VAR_DIR (every
    child of `make run` inherits it), whatever process group they are in."""
    marker = f"SUBSYNC_VAR_DIR={var_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


def stop(proc: subprocess.Popen, env: dict) -> str:
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    # Nothing it started is left running, in its process group or in the children's own.
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)
    assert processes_of(env["SUBSYNC_VAR_DIR"]) == []
    return output


def test_make_run_serves_health_runs_tasks_and_stops_cleanly(tmp_path):
    port = free_port()
    env = embedded_env(tmp_path, port)
    proc = start(env)
    try:
        health = wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
        # Chargebee's webhook credentials are set, Braintree's keys are not.
        assert health == {"database": "ok", "broker": "ok", "webhooks": {
            "chargebee": "ok",
            "braintree": "refused: needs BRAINTREE_MERCHANT_ID, BRAINTREE_PUBLIC_KEY, "
                         "BRAINTREE_PRIVATE_KEY"},
            # make run's default without SALESFORCE_* settings, said where ops look.
            "salesforce": "built-in emulator"}
        result = subprocess.run(
            [sys.executable, "-c",
             "from subsync.celery import ping; print(ping.delay().get(timeout=60))"],
            cwd=ROOT, env={**env, "DEBUG": "true"}, capture_output=True, text=True, timeout=90,
        )
        assert result.stdout.strip() == "pong", result.stderr
        # The whole flow on embedded defaults: webhook → worker → Salesforce (the emulator).
        event = make_event("subscription_created", subscription_id="sub_smoke",
                           customer_id="cus_smoke", mrr=4900)
        assert send_webhook(port, event) == 200
        contract = wait_for_activated_contract(tmp_path, "chargebee:sub_smoke")
        assert contract["Subsync_MRR__c"] == 49.0
    finally:
        output = stop(proc, env) if proc.poll() is None else proc.stdout.read()
    assert output.count("created the first admin account") == 1
    assert "worker |" in output and "beat |" in output and "web |" in output
    assert "using the built-in Salesforce emulator" in output
    # The system check's warning reaches the console; the configured provider has none.
    assert "warning: Braintree webhooks are refused" in output and "[billing.W002]" in output
    assert "billing.W001" not in output
    # An empty database: the way to demo data is offered (once the smoke subscription exists,
    # no longer).
    assert "no subscriptions yet: load demo data with `.venv/bin/python manage.py seed_demo`" \
        in output

    second = start(env)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/healthz", second)
    finally:
        output = stop(second, env)
    assert "created the first admin account" not in output
    assert "load demo data" not in output


def test_check_warnings_are_picked_out_of_a_commands_output():
    from subsync.run import check_warnings

    output = (
        "System check identified some issues:\n\nWARNINGS:\n"
        "?: (billing.W002) Braintree webhooks are refused. Set X\n"
        "\tHINT: Until then every delivery is refused.\n"
        "?: (security.E001) not a warning\n\n"
        "System check identified 2 issues (0 silenced).\n"
    )
    assert check_warnings(output) == ["Braintree webhooks are refused. Set X [billing.W002]"]
    assert check_warnings("Operations to perform:\n  Apply all migrations: billing\n") == []


def test_make_run_loads_demo_data_into_an_empty_database_when_asked(tmp_path, capsys):
    from subsync import run

    env = {**embedded_env(tmp_path, free_port()), "DEBUG": "true", "SUBSYNC_DEMO": "true"}
    run._manage("migrate", "--noinput", env=env)
    run.offer_demo(env)
    loaded = capsys.readouterr().out
    assert "[subsync] demo data loaded (seed 2024, run 1)" in loaded
    # 300 lives played up to this moment: a cancelled Braintree customer who comes back gets
    # a new subscription, billed a few hours into its day, so whether today's comeback exists
    # yet depends on the hour (299 at 15:30 UTC on 2026-12-07, 300 at 15:14).
    count = int(re.search(r"subscriptions: (\d+) ", loaded).group(1))
    assert 295 <= count <= 305
    # Not twice: the database has subscriptions now.
    run.offer_demo(env)
    assert capsys.readouterr().out == ""
