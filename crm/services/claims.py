"""Which ContractSync rows a flush may push, and making sure only one worker pushes each.

A row is due when it is dirty (version > synced_version), pending or failed, its backoff
has elapsed, and nobody holds a live lease on it. Claiming stamps a lease
(`claimed_until`) in a short transaction; on PostgreSQL the candidate rows are read with
SELECT ... FOR UPDATE SKIP LOCKED, so concurrent workers take disjoint batches without
waiting for each other. SQLite has one writer at a time (IMMEDIATE transactions), which
serialises claims by itself. A worker that dies keeps its lease until it expires; then the
rows are due again, so nothing is lost and nothing is pushed twice at the same time. A claim
also names its worker (`claimed_by`, subsync.worker_identity), so that a worker that starts
frees at once the rows its own node name leased before it started (`release_held_before`):
they belonged to an earlier incarnation of it that died.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from crm.models import ContractSync
from crm.salesforce.errors import ORG_FAILURE_CODES, ORG_FAILURE_HTTP_PREFIX
from crm.services.sync_state import request_flush
from subsync import worker_identity

State = ContractSync.State


def due_filter(*, now: datetime) -> Q:
    return (
        Q(version__gt=F("synced_version"))
        & Q(state__in=[State.PENDING, State.FAILED])
        & Q(next_attempt_at__lte=now)
        & (Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
    )


def count_due(*, now: datetime | None = None) -> int:
    return ContractSync.objects.filter(due_filter(now=now or timezone.now())).count()


def claim_due(
    *,
    limit: int,
    lease_seconds: float,
    now: datetime | None = None,
    only_ids: Iterable[int] | None = None,
) -> list[int]:
    """Lease up to `limit` due rows (oldest due first) and return their ids."""
    now = now or timezone.now()
    candidates = ContractSync.objects.filter(due_filter(now=now)).order_by(
        "next_attempt_at", "id"
    )
    if only_ids is not None:
        candidates = candidates.filter(pk__in=list(only_ids))
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        ids = list(candidates.values_list("id", flat=True)[:limit])
        if ids:
            ContractSync.objects.filter(pk__in=ids).update(
                claimed_until=now + timedelta(seconds=lease_seconds), claimed_at=now,
                claimed_by=worker_identity.node_name(),
            )
    return ids


def bring_forward_after_outage(
    *, run_started: datetime, limit_rows: bool, now: datetime | None = None
) -> int:
    """Make due now the rows held back only by a failure of the org or the network, once a
    flush has reached Salesforce again; a flush is requested for them. Returns how many.

    Their backoff (1, 2, 4... minutes; an hour for a spent daily limit) guessed how long the
    outage would last; a run that Salesforce answered says it is over, and waiting out the
    guess would keep them minutes behind for nothing. Only `next_attempt_at` changes: their
    attempts still count, so a row that keeps failing still turns `failed` after
    SUBSYNC_SF_MAX_ATTEMPTS, and a `failed` row still retried (its error transient) comes
    forward like a pending one. Per-record locks (UNABLE_TO_LOCK_ROW), permanent errors and
    INTERNAL_ERROR keep their schedule (crm.salesforce.errors.ORG_FAILURE_CODES).
    REQUEST_LIMIT_EXCEEDED rows come only with `limit_rows` (the budget guard says usage is
    under SUBSYNC_SF_API_BUDGET_PCT), so a spent limit is not met with a wave of calls.

    Rows this run claimed (since `run_started`) stay as they are: they have just failed
    again, and making them due would chase them in a loop of flushes. One UPDATE, on rows
    whose backoff lies ahead (the (state, next_attempt_at) index).
    """
    now = now or timezone.now()
    codes = ORG_FAILURE_CODES if limit_rows else ORG_FAILURE_CODES - {"REQUEST_LIMIT_EXCEEDED"}
    moved = ContractSync.objects.filter(
        Q(state__in=[State.PENDING, State.FAILED]) & Q(next_attempt_at__gt=now)
        & Q(version__gt=F("synced_version"))
        & (Q(last_error_code__in=sorted(codes))
           | Q(last_error_code__startswith=ORG_FAILURE_HTTP_PREFIX))
        & (Q(claimed_at__isnull=True) | Q(claimed_at__lt=run_started))
        & (Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
    ).update(next_attempt_at=now)
    if moved:
        request_flush()
    return moved


def release(*, ids: Iterable[int]) -> None:
    """Give rows back without a verdict (the push never started)."""
    ContractSync.objects.filter(pk__in=list(ids)).update(claimed_until=None)


def release_unfinished(*, ids: Iterable[int], claimed_at: datetime) -> int:
    """Give back the rows of one claim (`ids`, stamped `claimed_at` by claim_due) that still
    hold it: the run lost its database connection before their verdicts. Returns how many.

    Rows with a verdict (their lease cleared) or claimed since by another run (another
    stamp) are left alone. The others are due at once (they were due when claimed and no
    verdict moved them), no attempt counted (Salesforce did not fail them), and a flush is
    requested. Pushing again what reached Salesforce before the loss is safe: upserts.
    """
    return _free(ContractSync.objects.filter(
        pk__in=list(ids), claimed_at=claimed_at, claimed_until__isnull=False))


def release_held_before(*, node: str, before: datetime) -> int:
    """Free the rows worker `node` leased before `before` (its start): they belonged to an
    earlier incarnation of it that died, and would wait for their lease otherwise. They are
    due at once; a flush is requested. Returns how many rows were freed.

    Their push may have reached Salesforce before the worker died; pushing again is safe
    (upserts by external id). Nothing for a process that is not a worker (`node` empty).
    """
    if not node:
        return 0
    return _free(ContractSync.objects.filter(
        claimed_by=node, claimed_at__lt=before, claimed_until__isnull=False))


def _free(held) -> int:
    """Clear the leases of `held` (due at once: nothing moved their next_attempt_at) and ask
    for a flush if any were freed; how many."""
    freed = held.update(claimed_until=None, claimed_by="")
    if freed:
        request_flush()
    return freed
