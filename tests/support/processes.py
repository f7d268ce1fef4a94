"""What tests that start real processes (a worker, a command) against the test database
share: the test database's URL for the child, a Celery worker on it, and waiting for a
condition."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def child_database_url() -> str:
    """DATABASE_URL of the test database (PostgreSQL: SQLite test databases live in memory)."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"])
    return (f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
            f"{quote(db['NAME'])}")


def wait_for(condition, *, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def start_worker(*, hostname: str | None = None, concurrency: int = 1,
                 broker_url: str | None = None) -> subprocess.Popen:
    """A real `celery -A subsync worker` on the test database, the test's broker and its cache
    (the drain flags), in a session of its own so that its whole process group can be
    signalled. No provider or Salesforce credentials: the test decides what it talks to.
    `broker_url`: another broker (a private Redis the test stops), which the worker's cache
    then follows too unless CACHE_URL is set."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "SALESFORCE_", "CHARGEBEE_", "BRAINTREE_"))}
    env.update(DATABASE_URL=child_database_url(),
               CELERY_BROKER_URL=broker_url or settings.CELERY_BROKER_URL,
               CACHE_KEY_PREFIX=settings.CACHES["default"]["KEY_PREFIX"],
               SECRET_KEY=os.environ.get("SECRET_KEY", "test-only-secret-key"),
               LOG_LEVEL="WARNING")
    command = [sys.executable, "-m", "celery", "-A", "subsync", "worker", "--concurrency",
               str(concurrency), "--without-mingle", "--without-gossip", "--loglevel", "WARNING"]
    if hostname:
        command += ["--hostname", hostname]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def stop_worker(proc: subprocess.Popen) -> None:
    """Warm shutdown (SIGTERM), then SIGKILL of the whole group if it does not stop."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
