"""bench/dashboard.py on a tiny database, so that the benchmark cannot rot: its seeding writes
a consistent history and the pages it measures answer."""

from __future__ import annotations

from collections import defaultdict

import pytest

from bench import dashboard as bench
from billing.models import LedgerDay, Subscription, SubscriptionChange
from billing.selectors import overview_cache
from crm.models import ContractSync

pytestmark = pytest.mark.django_db


def test_the_seeded_history_is_consistent_and_every_page_is_measured(monkeypatch):
    seeded = bench.seed(subscriptions=40, ledger_rows=400, events=60)
    assert (seeded.subscriptions, seeded.events) == (40, 60)
    # About the rows asked for: every subscription has at least one change.
    assert 400 <= seeded.ledger_rows == SubscriptionChange.objects.count() <= 440
    # Each subscription's MRR is the sum of its ledger deltas, each row starting where the
    # one before ended.
    deltas, last = defaultdict(int), {}
    for row in SubscriptionChange.objects.order_by("occurred_at", "pk"):
        assert row.mrr_before == last.get(row.subscription_id, 0)
        last[row.subscription_id] = row.mrr_after
        deltas[row.subscription_id] += row.mrr_after - row.mrr_before
    assert deltas == {sub.pk: sub.mrr for sub in Subscription.objects.all()}
    assert ContractSync.objects.filter(state="failed").exists()
    # The rollup was built from that ledger: its deltas add up to the MRR now, per currency.
    rolled, now = defaultdict(int), defaultdict(int)
    for day in LedgerDay.objects.all():
        rolled[day.currency] += day.mrr_delta
    for sub in Subscription.objects.all():
        now[sub.currency] += sub.mrr
    assert rolled == now

    client = bench.staff_client()
    sub = Subscription.objects.order_by("pk").first()
    urls = bench.pages(subscription_id=sub.pk, event_id=1)
    timings = bench.measure(client, urls, repeat=2)
    assert [(t.url, t.status) for t in timings] == [(url, 200) for url in urls]
    assert all(t.queries > 0 and len(t.samples) == 2 for t in timings)
    sizes = bench.page_size_queries(client)
    assert set(sizes) == set(bench.LIST_PAGES)
    assert all(small == large for small, large in sizes.values()), sizes
    assert "/renewals.csv" in bench.table(timings)
    # Uncached, the Overview reads the version and computes its figures: more queries.
    uncached = bench.measure_uncached_overview(client, repeat=2)
    assert (uncached.url, uncached.status, len(uncached.samples)) == (
        bench.UNCACHED_OVERVIEW, 200, 2)
    assert uncached.queries > timings[0].queries
    # After a ledger change: the last figures, marked stale, without computing them. No
    # worker runs here: the refresh it asks for is recorded instead of sent.
    asked = []
    monkeypatch.setattr(overview_cache.app, "send_task", lambda name, **kw: asked.append(name))
    stale = bench.measure_stale_overview(client, repeat=2)
    assert (stale.url, stale.status, len(stale.samples)) == (bench.STALE_OVERVIEW, 200, 2)
    assert stale.queries < uncached.queries and asked == [overview_cache.REFRESH_TASK]
