"""What both benchmarks need to run the app on this machine: a free port, a database, and
the app's processes started, watched and stopped the same way."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named by `url` when it does not exist yet."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        return
    import psycopg
    from psycopg import sql

    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def worker_command(*, concurrency: int, hostname: str, nice: int = 0) -> list[str]:
    """A Celery worker without beat, quiet, at `nice` lower CPU priority when given."""
    return [*(["nice", "-n", str(nice)] if nice else []), sys.executable, "-m", "celery", "-A",
            "subsync", "worker", "--concurrency", str(concurrency), "--loglevel", "WARNING",
            "--hostname", hostname, "--without-gossip", "--without-mingle"]


def spawn(cmd: list[str], *, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start `cmd` in a process group of its own, its output going to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def check_alive(procs: list[subprocess.Popen], *, log_dir: Path) -> None:
    for proc in procs:
        if proc.poll() is not None:
            raise SystemExit(f"{' '.join(map(str, proc.args[:5]))} exited with "
                             f"{proc.returncode}; see {log_dir}")


def wait_healthy(url: str, *, timeout: float, procs: list[subprocess.Popen] = (),
                 log_dir: Path | None = None) -> None:
    """/healthz answers 200 (the web process, its database and the broker are up)."""
    deadline = time.monotonic() + timeout
    while True:
        check_alive(list(procs), log_dir=log_dir)
        with contextlib.suppress(OSError), urllib.request.urlopen(url + "/healthz",
                                                                  timeout=2) as response:
            if response.status == 200:
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"{url}/healthz did not answer 200 within {timeout:.0f} s")
        time.sleep(0.2)


def stop(procs: list[subprocess.Popen], *, timeout: float = 20) -> None:
    """SIGTERM each process group, wait, then SIGKILL what is left (pool processes too)."""
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
