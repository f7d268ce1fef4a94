"""`make run`: migrate, make a first admin, then run web, worker and beat together.

With no SALESFORCE_* variable in the environment it also starts the bundled Salesforce
emulator and points the app at it, saying so (SUBSYNC_SALESFORCE_EMULATOR=true; the
dashboard and /healthz show it). SUBSYNC_SALESFORCE_EMULATOR=false turns that off;
SUBSYNC_SALESFORCE_EMULATOR=true with SALESFORCE_* variables set is refused rather than
overriding them. Production (the image's `python -m subsync.server`) never starts it.

Output of every process is interleaved, each line prefixed
with the process name; Ctrl-C (or SIGTERM) stops all of them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
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
    """Create the first superuser once and print its password once (it is not stored).

    The password is made by the child process that creates the user and printed by it, so it
    never appears on a command line (which any local user can read in `ps`).
    """
    result = subprocess.run([PY, "-m", "subsync.first_admin"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    if result.stdout.strip():
        _say(result.stdout.strip())


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


# Settings an operator gives to reach a real org; the emulator never overrides any of them.
SALESFORCE_SETTINGS = ("SALESFORCE_LOGIN_URL", "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET",
                       "SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_PRIVATE_KEY_FILE",
                       "SALESFORCE_CA_BUNDLE", "SALESFORCE_AUTH_FLOW")
TRUE = ("1", "true", "yes", "on")


def emulator_wanted(env: dict) -> bool:
    """Whether to start the built-in emulator: SUBSYNC_SALESFORCE_EMULATOR when given;
    otherwise (the `make run` default) only with DEBUG on and no SALESFORCE_* variable set.

    Refuses (SystemExit) an explicit request beside operator-given Salesforce settings: the
    emulator would have to override them, and an operator who set one meant a real org.
    """
    given = [name for name in SALESFORCE_SETTINGS if env.get(name)]
    choice = env.get("SUBSYNC_SALESFORCE_EMULATOR", "").strip().lower()
    if not choice:
        return not given and env.get("DEBUG", "").strip().lower() in TRUE
    if choice not in TRUE:
        return False
    if given:
        raise SystemExit(
            f"SUBSYNC_SALESFORCE_EMULATOR=true, but {', '.join(given)} "
            f"{'is' if len(given) == 1 else 'are'} set: the emulator never overrides Salesforce "
            "settings. Unset them to use the emulator, or unset SUBSYNC_SALESFORCE_EMULATOR "
            "to use your org.")
    return True


def start_emulator(env: dict, var_dir: Path) -> subprocess.Popen | None:
    """Start the Salesforce emulator when wanted (emulator_wanted), and point the app at it."""
    if not emulator_wanted(env):
        env["SUBSYNC_SALESFORCE_EMULATOR"] = "false"
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
    _say(f"using the built-in Salesforce emulator at {info['url']}: nothing reaches a real "
         "Salesforce org (SUBSYNC_SALESFORCE_EMULATOR=true; set the SALESFORCE_* variables "
         "for your org)")
    return proc


def check_bind(bind: str, *, debug: bool) -> None:
    """Refuse to serve a DEBUG app (placeholder SECRET_KEY, debug pages) beyond this machine."""
    host = bind.rsplit(":", 1)[0].strip("[]")
    if not debug or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(
            f"SUBSYNC_BIND={bind} would serve the app beyond this machine with DEBUG on "
            "(debug pages, a placeholder SECRET_KEY). Bind to 127.0.0.1, or set DEBUG=false "
            "and a SECRET_KEY (and ALLOWED_HOSTS) to serve it.")


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
    bind = env.get("SUBSYNC_BIND", "127.0.0.1:8000")
    check_bind(bind, debug=env["DEBUG"].strip().lower() in TRUE)
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
