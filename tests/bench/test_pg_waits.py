"""bench.pg_waits: what PostgreSQL's connections waited for while a benchmark ran."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import connection

from bench.pg_waits import WaitSampler, WaitSummary


def test_the_summary_counts_waits_and_the_longest_queue():
    summary = WaitSummary()
    sampler = WaitSampler.__new__(WaitSampler)
    sampler.summary = summary
    sampler.record(["CPU", "LWLock:WALWrite", "LWLock:WALWrite", "IO:WALSync"])
    sampler.record(["CPU", "LWLock:WALWrite"])

    assert summary.samples == 2
    assert summary.counts == {"CPU": 2, "LWLock:WALWrite": 3, "IO:WALSync": 1}
    assert summary.most_queued == 2
    first, second = summary.lines()
    assert first.startswith("2 samples") and "LWLock:WALWrite 50%" in first
    assert "up to 2 connections queued" in second


@pytest.mark.django_db(transaction=True)
def test_a_real_wait_is_seen_in_pg_stat_activity():
    if connection.vendor != "postgresql":
        pytest.skip("samples pg_stat_activity: runs on PostgreSQL (CI)")
    settings = connection.settings_dict
    conninfo = psycopg.conninfo.make_conninfo(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"] or None,
        port=settings["PORT"] or None, password=settings["PASSWORD"] or None)

    def sleep_in_the_database():
        with psycopg.connect(conninfo, autocommit=True) as other:
            other.execute("SELECT pg_sleep(0.5)")

    sleeper = threading.Thread(target=sleep_in_the_database)

    sampler = WaitSampler(conninfo=conninfo, database=settings["NAME"]).start()
    sleeper.start()
    sleeper.join()
    time.sleep(0.05)
    summary = sampler.stop()

    assert summary.samples >= 10
    assert summary.counts["Timeout:PgSleep"] >= 5
