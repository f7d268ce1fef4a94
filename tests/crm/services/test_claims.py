"""Claims: which rows are due, leases, several workers, a worker that died mid-flush."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from crm.models import ContractSync, SyncAttempt
from crm.services import claims, flush
from tests.crm import factories as f

State = ContractSync.State
needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs concurrent connections and SELECT ... FOR UPDATE SKIP LOCKED: runs on "
    "PostgreSQL (CI)",
)


@pytest.mark.django_db
def test_only_dirty_due_unleased_rows_are_claimed_and_each_once():
    ids = f.many(5)
    now = timezone.now()
    ContractSync.objects.filter(pk=ids[0]).update(synced_version=1)  # clean
    ContractSync.objects.filter(pk=ids[1]).update(next_attempt_at=now + timedelta(hours=1))
    ContractSync.objects.filter(pk=ids[2]).update(state=State.PARKED)

    first = claims.claim_due(limit=10, lease_seconds=300)
    assert sorted(first) == sorted(ids[3:])
    assert claims.claim_due(limit=10, lease_seconds=300) == []
    leased = ContractSync.objects.get(pk=ids[3])
    assert leased.claimed_until > now


@pytest.mark.django_db
def test_a_worker_killed_mid_flush_leaves_rows_that_are_pushed_after_the_lease(emu):
    sub = f.synced_subscription("sub_1")
    row = f.sync_of(sub)
    # A worker claims the row, then dies before pushing (no verdict, lease still live).
    assert claims.claim_due(limit=200, lease_seconds=300) == [row.pk]
    report = flush.flush_due()
    assert report.claimed == 0 and emu.count("Contract") == 0

    ContractSync.objects.filter(pk=row.pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    flush.flush_due()
    row.refresh_from_db()
    assert row.state == State.SYNCED and emu.count("Contract") == 1


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_skip_locked_lets_a_second_worker_claim_other_rows_without_waiting():
    ids = f.many(20)
    locked, release = threading.Event(), threading.Event()

    def hold_first_ten():
        try:
            with transaction.atomic():
                list(ContractSync.objects.select_for_update().filter(pk__in=ids[:10]))
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_first_ten)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        claimed = claims.claim_due(limit=200, lease_seconds=300)
    finally:
        release.set()
        holder.join(timeout=30)
    assert sorted(claimed) == sorted(ids[10:])


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_flushes_push_disjoint_rows(emu, monkeypatch):
    ids = f.many(60)
    emu.inject("latency", count=6, seconds=0.05)  # interleave the two workers
    pushed: dict[int, list[int]] = {}
    original = flush.push_claimed
    lock = threading.Lock()

    def recording(*, client, ids, report=None, **options):
        with lock:
            pushed.setdefault(threading.get_ident(), []).extend(ids)
        return original(client=client, ids=ids, report=report, **options)

    monkeypatch.setattr(flush, "push_claimed", recording)
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def worker():
        try:
            start.wait(timeout=30)
            flush.flush_due(batch_size=10)
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures

    claimed = [pk for batch in pushed.values() for pk in batch]
    assert sorted(claimed) == sorted(ids)  # every row, each by exactly one worker
    assert ContractSync.objects.filter(state=State.SYNCED).count() == 60
    assert emu.count("Contract") == 60
    sent = Counter(
        ref for attempt in SyncAttempt.objects.filter(operation="upsert", sobject="Contract")
        for ref in attempt.records
    )
    assert set(sent.values()) == {1}
