"""The status index of webhook events holds only open events (migration 0006).

Claims, the stuck-event requeue and replays must still be able to use it: their conditions
have to imply the index's (received, processing or failed).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.services.processing import claim_events
from billing.services.replay import select_for_replay
from billing.services.requeue import requeue_stuck_events

pytestmark = pytest.mark.django_db
INDEX = "event_open_received_idx"


def skip_unless_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("reads PostgreSQL plans and index contents: runs on PostgreSQL (CI)")


def plans_of(run) -> list[tuple[str, str]]:
    """Each SELECT on the events table that `run()` makes, with the plan PostgreSQL picks when
    it may not scan the whole table (the test table is tiny: a sequential scan would win
    whatever the indexes)."""
    with CaptureQueriesContext(connection) as queries:
        run()
    selects = [q["sql"] for q in queries.captured_queries
               if q["sql"].startswith("SELECT") and "billing_webhookevent" in q["sql"]]
    plans = []
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for sql in selects:
            cursor.execute("EXPLAIN " + sql)
            plans.append((sql, "\n".join(row[0] for row in cursor.fetchall())))
    return plans


def test_claims_and_the_stuck_event_requeue_use_the_index():
    skip_unless_postgresql()

    claim = plans_of(lambda: claim_events(limit=200))
    stuck = plans_of(lambda: requeue_stuck_events(older_than_seconds=60))

    # The requeue: received events, expired leases, failed events whose retry is overdue.
    assert len(claim) == 1 and len(stuck) == 3
    for sql, plan in claim + stuck:
        assert INDEX in plan, (sql, plan)


def test_replays_of_failed_events_use_the_index():
    skip_unless_postgresql()

    plans = plans_of(lambda: list(select_for_replay()))

    assert plans and all(INDEX in plan for _, plan in plans)
