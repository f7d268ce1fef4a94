"""A real, short PostgreSQL outage for one test's database, as a restart looks to a worker.

`cut_off` kills the server process behind Django's connection (pg_terminate_backend, from a
second connection: the run's next statement fails with "terminating connection due to
administrator command") and, for `seconds`, refuses new connections to the test database
(ALLOW_CONNECTIONS false: reconnecting fails as against a server still starting). The
shared server itself is never stopped: other suites run against it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connection
from psycopg import sql


def _admin() -> psycopg.Connection:
    """A second connection, to the server's maintenance database (the test database may be
    refusing connections)."""
    settings = connection.settings_dict
    return psycopg.connect(host=settings["HOST"], port=settings["PORT"] or 5432,
                           user=settings["USER"], password=settings["PASSWORD"] or None,
                           dbname="postgres", autocommit=True)


def _allow_connections(allowed: bool) -> None:
    with _admin() as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
            sql.Identifier(connection.settings_dict["NAME"]), sql.Literal(allowed)))


def terminate_backend() -> None:
    """Kill the server process of Django's (open) connection."""
    doomed = connection.connection.info.backend_pid
    with _admin() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [doomed])


@contextmanager
def outages() -> Iterator:
    """Yield `cut_off(seconds)`; the database accepts connections again, at the latest, when
    the block ends."""
    if connection.vendor != "postgresql":
        pytest.skip("cuts a PostgreSQL database off: runs on PostgreSQL (CI)")
    timers: list[threading.Timer] = []

    def cut_off(seconds: float) -> Callable[[], None]:
        """Start an outage of `seconds`; returns what ends it now."""
        _allow_connections(False)
        terminate_backend()
        timer = threading.Timer(seconds, _allow_connections, args=[True])
        timers.append(timer)
        timer.start()

        def end() -> None:
            timer.cancel()
            timer.join()
            _allow_connections(True)

        return end

    try:
        yield cut_off
    finally:
        for timer in timers:
            timer.cancel()
            timer.join()
        if timers:
            _allow_connections(True)
