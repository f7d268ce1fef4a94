"""Braintree answers a search with a capped list of ids: the backfill splits its search by
creation date until every range is answered under the cap, and reports the counts (issue 15,
gap 8)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from billing.models import Cursor, Subscription
from billing.providers.braintree import api
from billing.providers.braintree.api import (
    SearchReport,
    ids_by_creation_date,
    iter_subscriptions,
)
from billing.services import processing
from emulator.braintree.server import FakeBraintreeServer
from emulator.braintree.subscriptions import Customer as BtCustomer
from emulator.braintree.subscriptions import Transaction, subscription_fields
from tests.support.braintree_app import configure, fake_gateway, seed

from .conftest import T0

CAP = 10


@pytest.fixture(autouse=True)
def small_cap(monkeypatch):
    """Braintree's cap, scaled down to the fake's."""
    monkeypatch.setattr(api, "SEARCH_CAP", CAP)


@pytest.fixture
def server(keys):
    with FakeBraintreeServer(keys=keys, search_cap=CAP) as fake:
        fake.add_plan("basic", price="10.00", currency="USD")
        yield fake


def add(server, count: int, *, spread: timedelta = timedelta(days=1)) -> list[str]:
    """`count` subscriptions created `spread` apart, inserted in a shuffled order."""
    ids = [f"sub_{n:04d}" for n in range(count)]
    order = list(range(count))
    random.Random(3).shuffle(order)
    for n in order:
        server.add_subscription(subscription_fields(
            subscription_id=ids[n], status="Active", plan_id="basic", price="10.00",
            timestamp=T0 - n * spread))
    return ids


def created_ranges(server) -> list[tuple]:
    posts = [r for r in server.requests if r.path.endswith("/advanced_search_ids")]
    return [r.search_values("created_at") for r in posts]


def test_one_search_answers_a_merchant_under_the_cap(keys, server):
    expected = add(server, CAP - 1)
    report = SearchReport()
    assert ids_by_creation_date(fake_gateway(server), report=report) == sorted(expected)
    assert (report.searches, report.ranges, report.ids, report.capped) == (1, 1, CAP - 1, [])


def test_a_capped_answer_is_split_until_every_range_is_under_the_cap(keys, server):
    expected = add(server, 45)
    report = SearchReport()
    ids = ids_by_creation_date(fake_gateway(server), report=report)

    assert ids == sorted(expected)  # none missing, none twice
    assert report.ids == 45 and report.capped == []
    # 45 ids under a cap of 10 take at least 5 ranges; every split costs one more search.
    assert report.ranges >= 5 and report.searches == 2 * report.ranges - 1


def test_a_range_that_cannot_be_split_further_is_reported(keys, server):
    same_second = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    for n in range(CAP + 2):
        server.add_subscription(subscription_fields(
            subscription_id=f"dup_{n:02d}", status="Active", plan_id="basic", price="10.00",
            timestamp=same_second))
    report = SearchReport()
    ids = ids_by_creation_date(fake_gateway(server), start=same_second - timedelta(seconds=1),
                               end=same_second + timedelta(seconds=1), report=report)
    assert len(ids) == CAP  # what Braintree answered; the rest cannot be reached by date
    assert report.capped  # said, not silent


def test_iter_subscriptions_yields_every_subscription_of_a_large_merchant(keys, server):
    expected = add(server, 37)
    report = SearchReport()
    seen = [sub.id for sub in iter_subscriptions(fake_gateway(server), report=report)]
    assert seen == sorted(expected) and report.ids == 37


@pytest.mark.django_db
def test_the_backfill_imports_them_all_and_reports_the_counts(keys, settings, monkeypatch):
    monkeypatch.setattr(processing.app, "send_task", lambda *args, **kwargs: None)
    with FakeBraintreeServer(keys=keys, search_cap=CAP) as server:
        seed(server)
        configure(settings, keys=keys, gateway_url=server.url)
        for n in range(25):
            sub_id = f"sub_{n:04d}"
            server.add_subscription(subscription_fields(
                subscription_id=sub_id, status="Active", plan_id="basic", price="10.00",
                timestamp=T0 - timedelta(days=n),
                transactions=[Transaction(f"tx_{sub_id}", "10.00",
                                          customer=BtCustomer(f"payer_{sub_id}"))]))
        out = StringIO()
        call_command("backfill", "braintree", stdout=out, stderr=StringIO())

    assert Subscription.objects.filter(provider="braintree").count() == 25
    search = Cursor.objects.get(provider="braintree", name="backfill:subscriptions"
                                ).params["search"]
    assert search["ids"] == 25 and search["capped"] == []
    assert search["ranges"] >= 3
    assert (f"search found 25 subscriptions in {search['ranges']} creation-date ranges"
            in out.getvalue())
