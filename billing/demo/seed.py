"""Load the demo: store each step as a provider delivery, then process it like any other.

Why through the pipeline and not straight into the tables: the ledger's movements, customer
totals, churn reasons and Salesforce sync flags then come from the product's own code, so the
dashboard shows what real deliveries would produce, and a change to that code changes the demo.

Events are stored with `store_event` (the webhook views' intake) as `backfill` deliveries
carrying an `X-Subsync-Demo` header, each with its provider's own id and time in the past, and
are claimed and applied in batches with the processing service, as the drain does. Everything
happens in one transaction: a demo is loaded whole or not at all. The drain that storing asks
for afterwards finds nothing left to do; the Salesforce flush pushes the Contracts as usual.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.demo import braintree as braintree_events
from billing.demo import chargebee as chargebee_events
from billing.demo.catalog import CURRENCIES, all_prices
from billing.demo.story import BRAINTREE, CHARGEBEE, HISTORY_DAYS, Step, build_story
from billing.models import Customer, Subscription, SubscriptionChange, WebhookEvent
from billing.providers.braintree.api import PlanInfo
from billing.providers.braintree.cache import remember_plans
from billing.providers.braintree.parse import dedupe_key
from billing.selectors import overview_cache
from billing.services.intake import store_event
from billing.services.processing import claim_events, process_claimed
from subsync.months import month_start

DEFAULT_SEED = 2024
DEFAULT_SUBSCRIPTIONS = 300
BATCH_SIZE = 500
DEMO_HEADER = "X-Subsync-Demo"
CHARGEBEE_EVENT_PREFIX = "ev_demo"
# US dollars per unit, roughly where they stood; the demo's rates wander around these.
_USD_PER_UNIT = {"USD": Decimal(1), "EUR": Decimal("1.09"), "GBP": Decimal("1.27")}


class DemoRefused(Exception):
    """The database already holds subscriptions; the message says what to do."""


@dataclass(frozen=True)
class Delivery:
    provider: str
    event_id: str
    event_type: str
    body: str
    occurred_at: datetime


@dataclass
class DemoSummary:
    run: int
    customers: dict[str, int] = field(default_factory=dict)  # by provider
    customers_by_currency: dict[str, int] = field(default_factory=dict)
    subscriptions_by_status: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)  # by provider
    events_by_status: dict[str, int] = field(default_factory=dict)
    ledger_rows: int = 0
    exchange_rates: int | None = None  # None: no ExchangeRate model
    rates_skipped: str = ""  # why no rates were written


def demo_runs() -> int:
    """How many demos this database already holds (each run's Chargebee event ids differ)."""
    runs = 0
    while WebhookEvent.objects.filter(
            provider=CHARGEBEE, event_id__startswith=f"{CHARGEBEE_EVENT_PREFIX}{runs + 1}_"
    ).exists():
        runs += 1
    return runs


def refusal() -> str:
    """Why seed_demo should not run on this database without --force ("" when it may)."""
    runs = demo_runs()
    if runs:
        return (f"demo data is already loaded ({runs} run{'s' * (runs > 1)}); running again "
                "would add another set of demo customers beside it. Use --force to do that.")
    count = Subscription.objects.count()
    if count:
        return (f"the database already holds {count} subscriptions that are not demo data; "
                "demo data is meant for an empty database. Use --force to add it anyway.")
    return ""


def seed_demo(*, subscriptions: int = DEFAULT_SUBSCRIPTIONS, seed: int = DEFAULT_SEED,
              force: bool = False, now: datetime | None = None) -> DemoSummary:
    """Play a demo history of `subscriptions` subscriptions ending at `now` through the
    pipeline. Raises DemoRefused when the database is not empty, unless `force`."""
    if not force and (reason := refusal()):
        raise DemoRefused(reason)
    now = (now or timezone.now()).astimezone(UTC)
    run = demo_runs() + 1
    # The first run plays the seed itself; later (forced) runs a story of their own.
    story = build_story(subscriptions=subscriptions, seed=seed if run == 1 else f"{seed}:{run}",
                        now=now)
    deliveries = list(_deliveries(story.steps, run=run, seed=seed))
    headers = {"User-Agent": "subsync seed_demo", DEMO_HEADER: f"seed={seed} run={run}"}
    summary = DemoSummary(run=run)
    with transaction.atomic():
        remember_plans([PlanInfo(plan_id=price.braintree_plan_id,
                                 billing_frequency=price.period_months,
                                 price=price.per_seat, currency=price.currency,
                                 name=price.name) for price in all_prices()])
        for start in range(0, len(deliveries), BATCH_SIZE):
            batch = deliveries[start:start + BATCH_SIZE]
            stored = [store_event(provider=d.provider, event_id=d.event_id,
                                  event_type=d.event_type, body=d.body, headers=headers,
                                  occurred_at=d.occurred_at,
                                  source=WebhookEvent.Source.BACKFILL).pk for d in batch]
            process_claimed(claim_events(ids=stored))
        summary.exchange_rates, summary.rates_skipped = _exchange_rates(seed=seed, now=now)
    _count(summary, run=run, seed=seed)
    # The Overview's stored figures predate the demo (computed on an empty ledger): compute
    # them now, as a worker would when asked, so the first visit shows the demo's figures.
    overview_cache.refresh_dashboard(today=timezone.now().date())
    return summary


def _deliveries(steps: list[Step], *, run: int, seed: int):
    ids = random.Random(f"{seed}:{run}:event-ids")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    for step in steps:
        if step.provider == CHARGEBEE:
            token = "".join(ids.choice(alphabet) for _ in range(14))
            event_id = f"{CHARGEBEE_EVENT_PREFIX}{run}_{token}"
            yield Delivery(provider=CHARGEBEE, event_id=event_id,
                           event_type=chargebee_events.EVENT_TYPES[step.kind],
                           body=chargebee_events.event_body(step, event_id=event_id),
                           occurred_at=step.at)
        else:
            payload = braintree_events.notification_payload(step)
            # As the webhook view does: Braintree sends no id, the payload's digest is one.
            yield Delivery(provider=BRAINTREE, event_id=dedupe_key(payload=payload),
                           event_type=braintree_events.KINDS[step.kind],
                           body=braintree_events.form_body(payload), occurred_at=step.at)


def _exchange_rates(*, seed: int, now: datetime) -> tuple[int | None, str]:
    """Monthly rates of the demo's currencies into the reporting currency, for two years."""
    try:
        model = apps.get_model("billing", "ExchangeRate")
    except LookupError:
        return None, "this version has no ExchangeRate table"
    reporting = settings.SUBSYNC_REPORTING_CURRENCY.upper()
    if reporting not in _USD_PER_UNIT:
        return 0, (f"no demo rates into the reporting currency {reporting}: enter them in the "
                   "admin")
    wander = random.Random(f"{seed}:rates")
    months = [month_start(now.date(), offset=-back)
              for back in range(HISTORY_DAYS // 30 + 1, -1, -1)]
    rows = []
    for currency in CURRENCIES:
        if currency == reporting:
            continue
        for month in months:
            usd = {code: value * Decimal(1 + wander.uniform(-0.03, 0.03))
                   for code, value in _USD_PER_UNIT.items()}
            rate = (usd[currency] / usd[reporting]).quantize(Decimal("0.000001"))
            rows.append(model(currency=currency, rate=rate, valid_from=month))
    before = model.objects.count()
    model.objects.bulk_create(rows, ignore_conflicts=True)  # a rate entered by hand stays
    return model.objects.count() - before, ""


def _count(summary: DemoSummary, *, run: int, seed: int) -> None:
    events = WebhookEvent.objects.filter(**{f"headers__{DEMO_HEADER}": f"seed={seed} run={run}"})
    summary.events = dict(Counter(events.values_list("provider", flat=True)))
    summary.events_by_status = dict(Counter(events.values_list("status", flat=True)))
    subs = Subscription.objects.filter(pk__in=SubscriptionChange.objects.filter(
        event__in=events).values("subscription_id"))
    summary.subscriptions_by_status = dict(Counter(subs.values_list("status", flat=True)))
    customers = Customer.objects.filter(pk__in=subs.values("customer_id"))
    summary.customers = dict(Counter(customers.values_list("provider", flat=True)))
    summary.customers_by_currency = dict(Counter(
        currency for _, currency in set(subs.values_list("customer_id", "currency"))))
    summary.ledger_rows = SubscriptionChange.objects.filter(event__in=events).count()
