"""What tests that start real processes (a worker, a command) against the test database
share: the test database's URL for the child, and waiting for a condition."""

from __future__ import annotations

import time
from urllib.parse import quote

from django.db import connection


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
