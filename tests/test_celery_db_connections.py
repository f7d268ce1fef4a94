"""Celery workers keep their database connection between tasks, checked like Django requests.

Celery's Django fixup would close it around every task, which made each webhook event pay for a
new PostgreSQL connection; CELERY_DB_REUSE_MAX and subsync.celery's handler replace that with
Django's own rule (CONN_MAX_AGE, dropping broken connections).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection, connections

from subsync.celery import app, close_old_db_connections

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def max_age():
    """Set CONN_MAX_AGE for connections opened in the test; restored afterwards."""
    saved = connection.settings_dict.get("CONN_MAX_AGE", 0)

    def set_to(seconds: int) -> None:
        connection.close()
        connection.settings_dict["CONN_MAX_AGE"] = seconds

    yield set_to
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = saved


def open_connection():
    connection.ensure_connection()
    return connection.connection


def task(*, eager: bool):
    return SimpleNamespace(request=SimpleNamespace(is_eager=eager))


def test_celerys_fixup_no_longer_closes_the_connection_around_each_task(settings):
    fixup = DjangoWorkerFixup(app)
    assert fixup.db_reuse_max == settings.CELERY_DB_REUSE_MAX > 1
    before = open_connection()

    fixup.close_database()  # what runs before and after every task
    fixup.close_database()

    assert connection.connection is before


def test_a_live_connection_within_conn_max_age_is_kept(max_age):
    max_age(60)
    before = open_connection()

    close_old_db_connections(sender=task(eager=False))

    assert connection.connection is before


def test_a_connection_past_conn_max_age_is_closed_between_tasks(max_age, monkeypatch):
    max_age(0)  # obsolete as soon as the task ends
    open_connection()
    closed = []
    # Spy: SQLite's in-memory test database ignores close() to keep its data.
    monkeypatch.setattr(connections["default"], "close", lambda: closed.append(True))

    close_old_db_connections(sender=task(eager=False))

    assert closed == [True]


def test_eager_calls_leave_the_callers_connection_alone(max_age):
    max_age(0)
    before = open_connection()

    close_old_db_connections(sender=task(eager=True))

    assert connection.connection is before
