"""seed_demo: a demo history sent through the real event pipeline (billing.demo)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.utils import timezone

from billing.demo.seed import DEMO_HEADER, DemoRefused, seed_demo
from billing.models import (
    BraintreePlan,
    Customer,
    Subscription,
    SubscriptionChange,
    SubscriptionItem,
    WebhookEvent,
)
from crm.models import ContractSync

pytestmark = pytest.mark.django_db

HUMAN_REASONS = {"Too expensive", "Missing features", "Switched to competitor", "Company closed"}


@pytest.fixture(autouse=True)
def _no_task_messages(monkeypatch):
    """Storing announces a drain and marking syncs asks for a flush: no broker here."""
    from subsync.celery import app

    monkeypatch.setattr(app, "send_task", lambda *args, **kwargs: None)


def _quarter(day: date, *, later: int = 0) -> tuple[date, date]:
    """First and last day of the quarter `later` quarters after the one holding `day`."""
    index = day.year * 4 + (day.month - 1) // 3 + later
    first = date(index // 4, 3 * (index % 4) + 1, 1)
    after = date((index + 1) // 4, 3 * ((index + 1) % 4) + 1, 1)
    return first, after - timedelta(days=1)


def _renewal_day(sub: Subscription) -> date | None:
    """The renewal date as the dashboard defines it: contract term end, else the term end
    of a subscription that renews."""
    moment = sub.contract_term_end or sub.next_renewal_at
    if sub.status == "non_renewing":
        moment = sub.contract_term_end or sub.current_term_end
    return moment.date() if moment else None


def test_a_small_demo_has_every_kind_of_history_and_all_events_processed():
    # A fixed day in the past: the quarters are known, and the plans the demo lists for
    # Braintree are still read fresh (their age counts from the wall clock).
    now = datetime(2026, 11, 10, 15, 30, tzinfo=UTC)
    summary = seed_demo(subscriptions=30, seed=11, now=now)

    events = WebhookEvent.objects.all()
    assert events.count() > 30
    assert set(events.values_list("status", flat=True)) == {"processed"}
    assert set(events.values_list("provider", flat=True)) == {"chargebee", "braintree"}
    assert set(events.values_list("source", flat=True)) == {"backfill"}
    assert all(DEMO_HEADER in headers for headers in events.values_list("headers", flat=True))
    assert all(e.occurred_at <= now for e in events)

    assert Subscription.objects.count() >= 30
    assert set(Customer.objects.values_list("provider", flat=True)) == {"chargebee",
                                                                        "braintree"}
    assert {"USD", "EUR", "GBP"} <= set(Subscription.objects.values_list("currency", flat=True))
    assert {"month", "year"} <= set(Subscription.objects.filter(provider="chargebee")
                                    .values_list("billing_period_unit", flat=True))
    statuses = set(Subscription.objects.values_list("status", flat=True))
    assert {"trial", "active", "past_due", "non_renewing", "cancelled", "expired"} <= statuses

    # The ledger was written by the pipeline, at the events' own times, over a year and more.
    ledger = SubscriptionChange.objects.select_related("event")
    assert ledger.count() > 30
    assert all(row.event is not None and row.occurred_at == row.event.occurred_at
               for row in ledger)
    times = sorted(ledger.values_list("occurred_at", flat=True))
    assert times[0] <= now - timedelta(days=365) and times[-1] <= now
    assert {"new", "expansion", "contraction", "churn", "reactivation"} <= set(
        ledger.values_list("movement", flat=True))

    cancelled = Subscription.objects.filter(status="cancelled", provider="chargebee")
    assert set(cancelled.values_list("cancel_reason", flat=True)) & HUMAN_REASONS
    assert SubscriptionChange.objects.filter(
        movement="churn", subscription__cancel_reason__in=HUMAN_REASONS).exists()

    this_quarter, next_quarter = _quarter(now.date()), _quarter(now.date(), later=1)
    renewing = Subscription.objects.filter(status__in=["active", "past_due", "non_renewing"])
    days = [_renewal_day(sub) for sub in renewing]
    assert any(this_quarter[0] <= day <= this_quarter[1] for day in days if day)
    assert any(next_quarter[0] <= day <= next_quarter[1] for day in days if day)

    # Salesforce is told about the subscriptions it syncs, by the product's own code.
    assert ContractSync.objects.filter(subscription__status="active").count() == (
        Subscription.objects.filter(status="active").count())

    assert sum(summary.subscriptions_by_status.values()) == Subscription.objects.count()
    assert sum(summary.customers.values()) == Customer.objects.count()
    assert sum(summary.events.values()) == events.count()
    assert summary.events_by_status == {"processed": events.count()}


def test_exchange_rates_for_the_demo_currencies(settings):
    settings.SUBSYNC_REPORTING_CURRENCY = "USD"
    try:
        rate_model = apps.get_model("billing", "ExchangeRate")
    except LookupError:
        pytest.skip("no ExchangeRate model in this version")
    now = datetime(2026, 5, 20, 12, tzinfo=UTC)
    seed_demo(subscriptions=3, seed=1, now=now)
    rates = rate_model.objects.all()
    assert set(rates.values_list("currency", flat=True)) == {"EUR", "GBP"}
    # One rate a month from two years back (24 whole months and the one before) to this one.
    assert min(rates.values_list("valid_from", flat=True)) <= date(2024, 5, 20)
    assert max(rates.values_list("valid_from", flat=True)) == date(2026, 5, 1)
    assert all(1 < rate.rate < 2 for rate in rates)  # a euro and a pound are worth > $1


def test_a_second_run_is_refused_unless_forced():
    seed_demo(subscriptions=4, seed=3)
    customers = Customer.objects.count()
    with pytest.raises(DemoRefused, match="already loaded"):
        seed_demo(subscriptions=4, seed=3)
    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo", "--subscriptions", "4", stdout=StringIO())
    assert Customer.objects.count() == customers

    out = StringIO()
    call_command("seed_demo", "--subscriptions", "4", "--seed", "3", "--force", stdout=out)
    assert "run 2" in out.getvalue()
    assert Customer.objects.count() > customers
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}


def test_a_database_with_real_subscriptions_is_not_seeded_by_accident():
    customer = Customer.objects.create(provider="chargebee", external_id="real_1")
    Subscription.objects.create(provider="chargebee", external_id="real_sub", customer=customer,
                                status="active", currency="USD")
    with pytest.raises(DemoRefused, match="not demo data"):
        seed_demo(subscriptions=3)
    assert WebhookEvent.objects.count() == 0


def test_the_command_prints_what_it_loaded():
    out = StringIO()
    call_command("seed_demo", "--subscriptions", "6", stdout=out)
    text = out.getvalue()
    assert "demo data loaded (seed 2024, run 1)" in text
    assert f"customers:     {Customer.objects.count()} " in text
    assert f"subscriptions: {Subscription.objects.count()} " in text
    assert f"events stored: {WebhookEvent.objects.count()} " in text
    assert f"processed {WebhookEvent.objects.count()}" in text


def _snapshot() -> tuple:
    subscriptions = sorted(Subscription.objects.values_list(
        "provider", "external_id", "status", "mrr", "currency", "plan_id", "next_renewal_at",
        "cancel_reason"))
    ledger = sorted(SubscriptionChange.objects.values_list(
        "subscription__external_id", "occurred_at", "movement", "movement_amount",
        "status_after"))
    events = sorted(WebhookEvent.objects.values_list("provider", "event_id", "event_type",
                                                     "body"))
    return subscriptions, ledger, events


def _wipe() -> None:
    ContractSync.objects.all().delete()
    SubscriptionChange.objects.all().delete()
    SubscriptionItem.objects.all().delete()
    Subscription.objects.all().delete()
    Customer.objects.all().delete()
    WebhookEvent.objects.all().delete()
    BraintreePlan.objects.all().delete()


def test_the_same_seed_gives_the_same_history_and_another_seed_another():
    now = timezone.now()
    seed_demo(subscriptions=20, seed=7, now=now)
    first = _snapshot()
    _wipe()
    seed_demo(subscriptions=20, seed=7, now=now)
    assert _snapshot() == first
    _wipe()
    seed_demo(subscriptions=20, seed=8, now=now)
    other = _snapshot()
    assert other[0] != first[0] and other[2] != first[2]
