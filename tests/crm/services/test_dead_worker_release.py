"""A worker that starts frees at once the ContractSync rows its node name leased before it
started (an earlier incarnation of it died holding them), instead of leaving them to their
5-minute lease; and asks for a flush."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import ContractSync
from crm.services import claims
from subsync import worker_identity
from tests.crm import factories as f

pytestmark = pytest.mark.django_db
NODE = "celery@worker-a"


def lease(pk: int, *, by: str, claimed_at) -> None:
    ContractSync.objects.filter(pk=pk).update(
        claimed_by=by, claimed_at=claimed_at, claimed_until=claimed_at + timedelta(seconds=300))


def test_a_claim_names_the_worker():
    [pk] = f.many(1)
    worker_identity.set_identity(node=NODE, started=timezone.now())
    try:
        assert claims.claim_due(limit=10, lease_seconds=300) == [pk]
    finally:
        worker_identity.set_identity(node="", started=None)
    row = ContractSync.objects.get(pk=pk)
    assert row.claimed_by == NODE and row.claimed_at is not None


def test_rows_this_node_leased_before_it_started_are_due_again(flushes):
    started = timezone.now()
    dead, other, since, nobody = f.many(4)
    lease(dead, by=NODE, claimed_at=started - timedelta(seconds=5))
    lease(other, by="celery@worker-b", claimed_at=started - timedelta(seconds=5))
    lease(since, by=NODE, claimed_at=started + timedelta(seconds=1))
    lease(nobody, by="", claimed_at=started - timedelta(seconds=5))
    assert claims.claim_due(limit=10, lease_seconds=300) == []

    assert claims.release_held_before(node=NODE, before=started) == 1

    assert flushes == [1]
    assert claims.claim_due(limit=10, lease_seconds=300) == [dead]
    for pk in (other, since, nobody):
        assert ContractSync.objects.get(pk=pk).claimed_until is not None


def test_nothing_to_free_asks_for_no_flush(flushes):
    assert claims.release_held_before(node=NODE, before=timezone.now()) == 0
    assert claims.release_held_before(node="", before=timezone.now()) == 0
    assert flushes == []
