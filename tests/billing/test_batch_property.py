"""Property: applying changes in batches gives exactly what applying them one by one gives.

billing.services.batch promises that a batch is equivalent to applying its changes in order,
one at a time (each seeing the result of the ones before). Hypothesis generates sequences of
changes over a few subscriptions and customers (shared customers, stale versions, status and
MRR moves, currency changes, deletions); the same sequence is applied once change by change and
once split into batches at random points, under two id prefixes in one database, and every
subscription, customer and ledger row must agree.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import Customer, Subscription, SubscriptionChange
from billing.normalized import Status
from billing.services.batch import Change, apply_changes
from crm.models import ContractSync
from tests.support.normalized import subscription

pytestmark = pytest.mark.django_db

_run = itertools.count()

step = st.tuples(
    st.integers(0, 3),  # which subscription
    st.integers(0, 1),  # which customer owns it (customers are shared)
    st.sampled_from([Status.ACTIVE, Status.TRIAL, Status.CANCELLED, Status.PAUSED,
                     Status.NON_RENEWING]),
    st.sampled_from([0, 900, 5000, 12000]),
    st.sampled_from(["USD", "EUR"]),
    st.integers(1, 6),  # version: repeats and older ones happen
    st.booleans(),  # deleted
)


def _changes(prefix: str, steps) -> list[Change]:
    changes = []
    for sub_index, customer_index, status, mrr, currency, version, deleted in steps:
        sub = subscription(f"{prefix}-sub-{sub_index}",
                           customer_id=f"{prefix}-cus-{customer_index}", status=status, mrr=mrr,
                           currency=currency, version=version)
        changes.append(Change(subscriptions=(replace(sub, deleted=deleted),)))
    return changes


def _state(prefix: str) -> dict:
    def strip(value: str) -> str:
        return value.removeprefix(prefix)

    subs = {strip(s.external_id): (s.status, s.mrr, s.currency, s.source_version,
                                    strip(s.customer.external_id), s.deleted_at is not None,
                                    [(i.item_id, i.amount) for i in s.items.all()])
            for s in Subscription.objects.filter(external_id__startswith=prefix)}
    customers = {strip(c.external_id): (c.source_version, c.first_paid_at is not None)
                 for c in Customer.objects.filter(external_id__startswith=prefix)}
    ledger = [(strip(c.subscription.external_id), strip(c.customer.external_id), c.status_before,
               c.status_after, c.mrr_before, c.mrr_after, c.customer_mrr_before,
               c.customer_mrr_after, c.currency, c.movement, c.movement_amount)
              for c in SubscriptionChange.objects.filter(
                  subscription__external_id__startswith=prefix).order_by("pk")]
    synced = sorted((strip(row.subscription.external_id), row.version) for row in
                    ContractSync.objects.filter(subscription__external_id__startswith=prefix))
    return {"subscriptions": subs, "customers": customers, "ledger": ledger,
            "tracked": [name for name, _ in synced]}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=14), cuts=st.sets(st.integers(1, 13)))
def test_batches_equal_one_by_one(steps, cuts):
    run = next(_run)
    one, many = f"one{run}-", f"many{run}-"
    one_results = [apply_changes([change])[0] for change in _changes(one, steps)]
    batch = _changes(many, steps)
    bounds = [0, *sorted(c for c in cuts if c < len(batch)), len(batch)]
    many_results = []
    for start, end in itertools.pairwise(bounds):
        many_results += apply_changes(batch[start:end])
    assert [r.applied for r in many_results] == [r.applied for r in one_results]
    assert _state(many) == _state(one)
