"""LedgerDay, the ledger summed per day and currency, always equals the ledger it sums; and the
metrics read from it agree with figures worked out from the ledger rows by definition.

Hypothesis sends random histories through the batch writer (apply_changes, as the webhooks
do): subscriptions shared by a few customers, moves between customers, upgrades, downgrades,
cancellations and comebacks, over two years, split into batches at random points. The
expected figures are computed here straight from the ledger rows: a customer's MRR at a moment
is the sum of their ledger deltas before it (docs/metrics.md).
"""

from __future__ import annotations

import itertools
import random
import threading
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import (
    ACTIVE_STATUSES,
    Customer,
    ExchangeRate,
    LedgerDay,
    Subscription,
    SubscriptionChange,
)
from billing.normalized import Status
from billing.selectors import metrics
from billing.services.batch import Change, apply_changes
from billing.services.ledger_days import COLUMNS, rebuild_ledger_days
from subsync.months import add_months
from tests.support.concurrency import at_once
from tests.support.normalized import subscription

pytestmark = pytest.mark.django_db

START = datetime(2025, 1, 1, 12, tzinfo=UTC)
KINDS = ("new", "expansion", "contraction", "churn", "reactivation")
_run = itertools.count()


def expected_days() -> dict[tuple[date, str], dict[str, int]]:
    """Each LedgerDay column by its definition, from the ledger rows."""
    days: dict = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))
    for row in SubscriptionChange.objects.all():
        sums = days[row.occurred_at.astimezone(UTC).date(), row.currency]
        sums["mrr_delta"] += row.mrr_after - row.mrr_before
        sums["active_delta"] += ((row.status_after in ACTIVE_STATUSES)
                                 - (row.status_before in ACTIVE_STATUSES))
        if row.movement in KINDS:
            sums[f"{row.movement}_amount"] += row.movement_amount
            sums[f"{row.movement}_count"] += 1
    return dict(days)


def stored_days() -> dict[tuple[date, str], dict[str, int]]:
    return {(row.day, row.currency): {name: getattr(row, name) for name in COLUMNS}
            for row in LedgerDay.objects.all()}


def mrr_at(moment: datetime) -> dict[int, dict[str, int]]:
    """Each customer's MRR per currency just before `moment`: the sum of their deltas."""
    customers: dict = defaultdict(lambda: defaultdict(int))
    for row in SubscriptionChange.objects.filter(occurred_at__lt=moment):
        customers[row.customer_id][row.currency] += row.mrr_after - row.mrr_before
    return customers


def expected_nrr(*, end: date, months: int) -> tuple[int, dict, dict]:
    """(customers paying at the start, their MRR then, their MRR at the end), per currency."""
    start = add_months(end, -months)
    then = mrr_at(datetime.combine(start + timedelta(days=1), datetime.min.time(), UTC))
    now = mrr_at(datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC))
    paying = [customer for customer, parts in then.items() if sum(parts.values()) > 0]
    then_sums, now_sums = defaultdict(int), defaultdict(int)
    for customer in paying:
        for currency, amount in then[customer].items():
            then_sums[currency] += amount
        for currency, amount in now[customer].items():
            now_sums[currency] += amount
    return (len(paying), {c: a for c, a in then_sums.items() if a},
            {c: a for c, a in now_sums.items() if a})


step = st.tuples(
    st.integers(0, 5),  # which subscription (its currency is fixed: USD or EUR)
    st.integers(0, 2),  # which customer owns it now (subscriptions can move)
    st.sampled_from([Status.ACTIVE, Status.TRIAL, Status.CANCELLED, Status.PAST_DUE,
                     Status.NON_RENEWING]),
    st.sampled_from([0, 900, 5000, 12000]),
    st.integers(0, 90),  # days after the previous change (0: the same day)
    st.integers(0, 23),  # hour
)


def _apply(prefix: str, steps, cuts) -> None:
    changes, when, versions = [], START, defaultdict(int)
    for sub_index, customer_index, status, mrr, days, hour in steps:
        when = (when + timedelta(days=days)).replace(hour=hour)
        versions[sub_index] += 1
        sub = subscription(f"{prefix}sub-{sub_index}", customer_id=f"{prefix}cus-{customer_index}",
                           status=status, mrr=0 if status in (Status.TRIAL, Status.CANCELLED)
                           else mrr, currency=("USD", "EUR")[sub_index % 2],
                           version=versions[sub_index])
        changes.append(Change(subscriptions=(sub,), occurred_at=when))
    bounds = [0, *sorted(c for c in cuts if c < len(changes)), len(changes)]
    for low, high in itertools.pairwise(bounds):
        if high > low:
            apply_changes(changes[low:high])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=24), cuts=st.sets(st.integers(1, 23)))
def test_the_rollup_equals_the_ledger_and_the_metrics_their_definition(steps, cuts):
    for model in (SubscriptionChange, LedgerDay, Subscription, Customer):  # a fresh start
        model.objects.all().delete()
    _apply(f"r{next(_run)}-", steps, cuts)

    assert stored_days() == expected_days()
    written = stored_days()
    rebuild_ledger_days()
    assert stored_days() == written

    for today in (date(2025, 6, 30), date(2025, 12, 15), date(2026, 3, 1), date(2026, 9, 30)):
        for months in (1, 3, 12):
            result = metrics.nrr(today=today, months=months)
            customers, then, now = expected_nrr(end=today, months=months)
            assert (result.customers, result.mrr_then.breakdown,
                    result.mrr_now.breakdown) == (customers, then, now), (today, months)
        # The overview's previous period: as of the end of last month.
        previous = metrics.overview(today=today).nrr.previous
        last_month_end = today.replace(day=1) - timedelta(days=1)
        _, then, now = expected_nrr(end=last_month_end, months=12)
        usd = ({"USD": 1, "EUR": Decimal("1.25")})
        assert previous.denominator == sum(usd[c] * a for c, a in then.items())
        assert previous.numerator == sum(usd[c] * a for c, a in now.items())
        # MRR at each month end, per currency (by definition: the sum of the deltas before).
        for point in metrics.mrr_series(today=today, months=6):
            moment = datetime.combine(point.at + timedelta(days=1), datetime.min.time(), UTC)
            totals = defaultdict(int)
            for parts in mrr_at(moment).values():
                for currency, amount in parts.items():
                    totals[currency] += amount
            assert point.mrr.breakdown == {c: a for c, a in totals.items() if a}


@pytest.fixture(autouse=True)
def _rates(settings):
    settings.SUBSYNC_REPORTING_CURRENCY = "USD"
    ExchangeRate.objects.create(currency="EUR", rate=Decimal("1.25"), valid_from=date(2020, 1, 1))


def test_a_batch_adds_to_the_days_already_stored():
    when = datetime(2026, 3, 4, 10, tzinfo=UTC)
    first = subscription("s1", customer_id="c1", mrr=1000, version=1)
    apply_changes([Change(subscriptions=(first,), occurred_at=when)])
    apply_changes([Change(subscriptions=(replace(first, mrr=1500, source_version=2),),
                          occurred_at=when + timedelta(hours=5)),
                   Change(subscriptions=(subscription("s2", customer_id="c2", mrr=700),),
                          occurred_at=when + timedelta(days=1))])
    day = LedgerDay.objects.get(day=date(2026, 3, 4), currency="USD")
    # c1 new 1000, then expansion 500, both on 4 March; one subscription became active.
    assert (day.mrr_delta, day.active_delta, day.new_amount, day.new_count,
            day.expansion_amount, day.expansion_count) == (1500, 1, 1000, 1, 500, 1)
    after = LedgerDay.objects.get(day=date(2026, 3, 5), currency="USD")
    assert (after.mrr_delta, after.new_count, after.active_delta) == (700, 1, 1)


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_keep_the_rollup_equal_to_the_ledger():
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent connections: runs on PostgreSQL (CI)")
    lock = threading.Lock()
    rng = random.Random(11)
    versions = itertools.count(1)

    def one_batch():
        with lock:
            version = next(versions)
            days = [rng.randrange(5) for _ in range(8)]
        changes = [Change(subscriptions=(subscription(
                       f"sub_{n}", customer_id=f"cus_{n % 3}", mrr=100 * version + n,
                       currency=("USD", "EUR")[n % 2], version=version),),
                       occurred_at=START + timedelta(days=days[n]))
                   for n in range(8)]
        apply_changes(changes)
        return (version,)

    for _ in range(3):
        at_once(one_batch, threads=4)
    assert LedgerDay.objects.count() > 1
    assert stored_days() == expected_days()
