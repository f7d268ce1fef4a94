"""`make run`: migrate, make a first admin, then run web, worker and beat together.

With no Salesforce credentials in the environment it also starts the bundled Salesforce
emulator and points the app at it. Output of every process is interleaved, each line prefixed
with the process name; Ctrl-C (or SIGTERM) stops all of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from subsync import server

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def _say(message: str) -> None:
    print(f"[subsync] {message}", flush=True)


def check_warnings(output: str) -> list[str]:
    """The system-check warnings in a manage.py command's output, one line each.

    `migrate` runs Django's system checks; their warnings (such as webhooks that would be
    refused for missing settings) would be lost in captured output, so `make run` repeats them.
    """
    found = []
    for line in output.splitlines():
        match = re.search(r"\((\w+\.W\d+)\) (.*)", line)
        if match:
            found.append(f"{match.group(2)} [{match.group(1)}]")
    return found


def _manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True)


def ensure_admin(env: dict) -> None:
    """Create the first superuser once and print its password once (it is not stored)."""
    password = secrets.token_urlsafe(12)
    code = (
        "from django.contrib.auth import get_user_model;"
        "U=get_user_model();"
        "import sys;"
        "sys.exit(0) if U.objects.filter(is_superuser=True).exists() else "
        f"(U.objects.create_superuser('admin', 'admin@localhost', {password!r}), sys.exit(3))"
    )
    result = subprocess.run([PY, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    if result.returncode == 3:
        _say(f"created the first admin account: user 'admin', password '{password}' "
             "(shown only this once; change it in /admin/)")
    elif result.returncode != 0:
        raise SystemExit(result.stderr)


def offer_demo(env: dict) -> None:
    """On a database without subscriptions, say how to load demo data, or load it when
    SUBSYNC_DEMO=true, so that a first look at the dashboard has something to show."""
    code = ("import sys;from billing.models import Subscription;"
            "sys.exit(3 if Subscription.objects.exists() else 0)")
    result = subprocess.run([PY, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    if result.returncode == 3:
        return
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    if env.get("SUBSYNC_DEMO", "").strip().lower() not in ("1", "true", "yes", "on"):
        _say("no subscriptions yet: load demo data with `.venv/bin/python manage.py "
             "seed_demo` (or start with SUBSYNC_DEMO=true)")
        return
    _say("SUBSYNC_DEMO=true and no subscriptions yet: loading demo data (seed_demo)")
    try:
        loaded = _manage("seed_demo", env=env)
    except subprocess.CalledProcessError as exc:
        _say(f"warning: seed_demo failed, starting without demo data: {exc.stderr.strip()}")
        return
    for line in loaded.stdout.splitlines():
        _say(line.strip())


def _spawn(cmd: list[str], *, env: dict) -> subprocess.Popen:
    """Start a child in a process group of its own: Ctrl-C in the terminal reaches only us,
    and we stop the children in order (the web first, the emulator last, so that a worker's
    last push still has its Salesforce) and then remove whatever each one left behind."""
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def start_emulator(env: dict, var_dir: Path) -> subprocess.Popen | None:
    """Start the Salesforce emulator unless real credentials are configured."""
    if env.get("SALESFORCE_CLIENT_ID") or env.get("SALESFORCE_USERNAME"):
        return None
    cert_dir = var_dir / "sf-emulator"
    ready = cert_dir / "ready.json"
    ready.unlink(missing_ok=True)
    port = env.get("SUBSYNC_EMULATOR_PORT", "8443")
    proc = _spawn([PY, "-m", "emulator.salesforce", "--port", port, "--cert-dir",
                   str(cert_dir), "--state", str(cert_dir / "state.json")], env=env)
    deadline = time.monotonic() + 30
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the Salesforce emulator did not start: " + (proc.stdout.read()
                             if proc.poll() is not None else "timed out"))
        time.sleep(0.1)
    info = json.loads(ready.read_text())
    env.update(
        SALESFORCE_LOGIN_URL=info["url"], SALESFORCE_AUTH_FLOW="client_credentials",
        SALESFORCE_CLIENT_ID="emulator", SALESFORCE_CLIENT_SECRET="emulator",
        SALESFORCE_CA_BUNDLE=info["ca_path"], SUBSYNC_SALESFORCE_EMULATOR="true",
    )
    _say(f"no Salesforce credentials set: using the built-in Salesforce emulator at {info['url']}")
    return proc


def _pump(name: str, stream, lock: threading.Lock) -> None:
    for line in stream:
        with lock:
            sys.stdout.write(f"{name:>9} | {line}")
            sys.stdout.flush()


def commands(bind: str) -> dict[str, list[str]]:
    return {
        "web": server.command(host=bind.rsplit(":", 1)[0], port=bind.rsplit(":", 1)[1],
                              workers=os.environ.get("WEB_CONCURRENCY", "2"),
                              threads=os.environ.get("WEB_THREADS", "4"), access_log=True),
        "worker": [PY, "-m", "celery", "-A", "subsync", "worker", "--loglevel", "INFO",
                   "--concurrency", os.environ.get("WORKER_CONCURRENCY", "2")],
        "beat": [PY, "-m", "celery", "-A", "subsync", "beat", "--loglevel", "INFO"],
    }


def main() -> int:
    env = dict(os.environ)
    env.setdefault("DEBUG", "true")
    env.setdefault("PYTHONUNBUFFERED", "1")
    var_dir = Path(env.get("SUBSYNC_VAR_DIR", ROOT / "var"))
    var_dir.mkdir(parents=True, exist_ok=True)
    _say("applying database migrations")
    migrated = _manage("migrate", "--noinput", env=env)
    for warning in check_warnings(migrated.stderr):
        _say(f"warning: {warning}")
    ensure_admin(env)
    offer_demo(env)
    procs: dict[str, subprocess.Popen] = {}
    emulator = start_emulator(env, var_dir)
    if emulator is not None:
        procs["emulator"] = emulator
    bind = env.get("SUBSYNC_BIND", "127.0.0.1:8000")
    lock = threading.Lock()
    for name, cmd in commands(bind).items():
        procs[name] = _spawn(cmd, env=env)
    for name, proc in procs.items():
        threading.Thread(target=_pump, args=(name, proc.stdout, lock), daemon=True).start()
    _say(f"dashboard on http://{bind}/ (web, worker and beat running; Ctrl-C stops them)")

    stopping = threading.Event()
    # Ctrl-C reaches only us (the children have their own process groups); a shell that
    # started us in the background may have left SIGINT ignored, so install it ourselves.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        while not stopping.is_set():
            for name, proc in procs.items():
                if proc.poll() is not None:
                    _say(f"{name} exited with {proc.returncode}; stopping the others")
                    stopping.set()
            stopping.wait(0.5)
    except KeyboardInterrupt:
        pass
    _say("stopping")
    deadline = time.monotonic() + 20
    # The emulator last, so that a worker's last push still has its Salesforce.
    for group in ([n for n in procs if n != "emulator"], [n for n in procs if n == "emulator"]):
        for name in group:
            if procs[name].poll() is None:
                procs[name].send_signal(signal.SIGTERM)
        for name in group:
            try:
                procs[name].wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _say(f"{name} did not stop in time; killing it")
    for proc in procs.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever it left behind (pool processes)
        proc.wait()
    _say("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
