"""A PostgreSQL and a Redis of the fault campaign's own, which it may stop and restart.

The machine's shared servers (5432, 6379) carry other people's tests: the campaign never
touches them. Each server here runs in a temporary directory on a free port, as a child
process the campaign stops at the end. PostgreSQL refuses to run as root, so as root its
programs run as the `postgres` user (runuser) in a directory that user owns.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from bench.processes import free_port

PG_ROOT = Path("/usr/lib/postgresql")


def _wait_port(port: int, *, up: bool, timeout: float) -> None:
    """Until 127.0.0.1:`port` accepts connections (`up`) or refuses them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            listening = sock.connect_ex(("127.0.0.1", port)) == 0
        if listening == up:
            return
        time.sleep(0.1)
    raise RuntimeError(f"port {port} still {'closed' if up else 'open'} after {timeout:.0f} s")


def pg_bin_dir() -> Path:
    """The newest PostgreSQL's bin directory (Debian's layout), or the one on PATH."""
    versions = sorted((p for p in PG_ROOT.glob("*/bin") if (p / "initdb").exists()),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if versions:
        return versions[-1]
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError("no PostgreSQL server programs (initdb) found")


class PrivatePostgres:
    """initdb into a temporary directory, then start/stop it with pg_ctl on a free port."""

    def __init__(self, *, log_dir: Path) -> None:
        self.bin = pg_bin_dir()
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="subsync-faults-pg-"))
        self.data = self.dir / "data"
        self.log = log_dir / "postgres.log"
        log_dir.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            user = pwd.getpwnam("postgres")
            for path in (self.dir, log_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
            with contextlib.suppress(FileNotFoundError):
                os.chown(self.log, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")

    def _run(self, program: str, *args: str) -> None:
        cmd = [str(self.bin / program), *args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, cwd=self.dir)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        # fsync off: this database is thrown away, and the campaign is about the app.
        options = f"-p {self.port} -k {self.dir} -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", "60", "start")
        _wait_port(self.port, up=True, timeout=30)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")
        _wait_port(self.port, up=False, timeout=30)

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, RuntimeError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """`redis-server` without persistence on a free port: a restart starts it empty, as a
    Redis without a disk does, so every queued message is lost."""

    def __init__(self, *, log_dir: Path) -> None:
        self.port = free_port()
        self.log = log_dir / "redis.log"
        self.proc: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--daemonize", "no"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_port(self.port, up=True, timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # an outage, not a shutdown: nothing is saved anyway
            self.proc.wait()
        _wait_port(self.port, up=False, timeout=30)

    def destroy(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
