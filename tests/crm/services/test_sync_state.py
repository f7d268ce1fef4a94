"""crm.services.sync_state: a billing change makes the subscription's sync row dirty and due.

A row already waiting keeps its place in line; anything else becomes due now.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from crm.models import ContractSync
from crm.services.sync_state import note_subscriptions_changed
from tests.crm.factories import subscription, sync_of

pytestmark = pytest.mark.django_db
State = ContractSync.State


def note(*subs) -> None:
    ids = [sub.pk for sub in subs]
    note_subscriptions_changed(subscription_ids=ids, in_scope_ids=ids)


def test_an_in_scope_subscription_gets_a_dirty_row_due_now():
    before = timezone.now()
    sub = subscription()

    note(sub)

    row = sync_of(sub)
    assert (row.version, row.state, row.attempts) == (1, State.PENDING, 0)
    assert before <= row.next_attempt_at <= timezone.now()


def test_a_row_already_waiting_keeps_its_place_in_line():
    sub = subscription()
    note(sub)
    waiting_since = timezone.now() - timedelta(minutes=3)
    ContractSync.objects.filter(subscription=sub).update(next_attempt_at=waiting_since)

    note(sub)
    note(sub)

    row = sync_of(sub)
    assert row.version == 3 and row.state == State.PENDING
    assert row.next_attempt_at == waiting_since


@pytest.mark.parametrize("state, due_in", [
    (State.PENDING, timedelta(minutes=5)),   # in backoff after a retryable error
    (State.FAILED, None),                    # given up on
    (State.SYNCED, None),                    # pushed, clean
])
def test_any_other_row_becomes_pending_and_due_now(state, due_in):
    sub = subscription()
    note(sub)
    ContractSync.objects.filter(subscription=sub).update(
        state=state, attempts=4,
        next_attempt_at=timezone.now() + due_in if due_in else None)
    before = timezone.now()

    note(sub)

    row = sync_of(sub)
    assert (row.state, row.attempts) == (State.PENDING, 0)
    assert before <= row.next_attempt_at <= timezone.now()


def test_a_parked_row_counts_the_change_but_stays_parked():
    """Parked by an operator: only unparking lets it be pushed (crm.services.actions)."""
    sub = subscription()
    note(sub)
    ContractSync.objects.filter(subscription=sub).update(state=State.PARKED)

    note(sub)

    row = sync_of(sub)
    assert (row.state, row.version, row.synced_version) == (State.PARKED, 2, 0)


def test_on_postgresql_a_change_to_a_waiting_row_is_a_heap_only_update():
    """Neither indexed column changes, so PostgreSQL can rewrite the row in place: a webhook
    storm changing the same subscriptions adds no index entries for them."""
    if connection.vendor != "postgresql":
        pytest.skip("reads pg_stat_xact_user_tables: runs on PostgreSQL (CI)")
    sub = subscription()
    note(sub)

    def counts():
        with connection.cursor() as cursor:
            # This test's own transaction: the counts it has made so far.
            cursor.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
                           "WHERE relname = %s", [ContractSync._meta.db_table])
            return cursor.fetchone()

    updated, hot = counts()
    note(sub)
    updated_after, hot_after = counts()
    assert updated_after - updated == 1
    assert hot_after - hot == 1
