"""Concurrent batches on PostgreSQL: drains in two worker processes share customers and
subscriptions, including ones neither has stored yet.

Each thread applies its own batch on its own connection, released together. Customers are
locked (and created) in key order before subscriptions, so the batches wait for each other
instead of deadlocking, and a batch that loses the race to create a subscription is retried.
"""

from __future__ import annotations

import itertools
import random
import threading

import pytest
from django.db import connection
from django.db.models import Sum

from billing.models import Subscription, SubscriptionChange
from billing.services.batch import Change, apply_changes
from tests.support.concurrency import at_once
from tests.support.normalized import subscription

SUBSCRIPTIONS = [(f"sub_{n}", f"cus_{n % 3}") for n in range(6)]  # three shared customers
THREADS = 4


def _batch(version: int, rng: random.Random) -> list[Change]:
    subs = [subscription(sub_id, customer_id=customer_id, mrr=1000 * version, version=version)
            for sub_id, customer_id in SUBSCRIPTIONS]
    rng.shuffle(subs)
    return [Change(subscriptions=(sub,)) for sub in subs]


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_converge_with_a_consistent_ledger():
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent connections: runs on PostgreSQL (CI)")
    versions = itertools.count(1)
    lock = threading.Lock()
    rng = random.Random(7)

    def apply_one_batch():
        with lock:
            version = next(versions)
            batch = _batch(version, rng)
        return version, [result.applied for result in apply_changes(batch)]

    outcomes = at_once(apply_one_batch, threads=THREADS)

    assert sorted(version for version, _ in outcomes) == list(range(1, THREADS + 1))
    newest = dict(Subscription.objects.values_list("external_id", "source_version"))
    assert newest == {sub_id: THREADS for sub_id, _ in SUBSCRIPTIONS}
    assert set(Subscription.objects.values_list("mrr", flat=True)) == {1000 * THREADS}
    for sub_id, _ in SUBSCRIPTIONS:
        rows = list(SubscriptionChange.objects.filter(subscription__external_id=sub_id)
                    .order_by("pk"))
        assert rows, sub_id
        assert rows[0].mrr_before == 0
        assert all(a.mrr_after == b.mrr_before for a, b in itertools.pairwise(rows))
        assert rows[-1].mrr_after == 1000 * THREADS
    for customer in ("cus_0", "cus_1", "cus_2"):
        last = (SubscriptionChange.objects.filter(customer__external_id=customer)
                .order_by("pk").last())
        stored = (Subscription.objects.filter(customer__external_id=customer)
                  .aggregate(total=Sum("mrr"))["total"])
        assert last.customer_mrr_after == stored
