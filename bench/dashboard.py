"""Dashboard benchmark: server time and queries of every page over a large database.

    .venv/bin/python bench/dashboard.py                  # 100k subscriptions, 1M ledger rows
    .venv/bin/python bench/dashboard.py --subscriptions 10000 --ledger-rows 100000 --repeat 5
    .venv/bin/python bench/dashboard.py --keep                   # keep the database afterwards
    .venv/bin/python bench/dashboard.py --reuse --keep           # measure a kept database again

Seeds a PostgreSQL database of its own (`--database-url`, created and dropped here; migrated)
with bulk inserts (COPY, not the webhook pipeline): customers (a few with several
subscriptions), subscriptions with two years of consistent ledger history (each change
classified per customer as the batch writer does; LedgerDay rebuilt from it with
billing.services.ledger_days), ContractSync rows in every state (failed ones included) with
their SyncAttempts, webhook events, and a few exchange rates. Then asks every dashboard page,
in process with Django's test client as a logged-in staff user, `--repeat` times: the server
time of each (median and p95: the whole request, template and CSV streaming included, no
network) and its number of SQL queries; and checks that the list pages make as many queries
for 200 rows as for 10. The Overview is measured three times: with its figures cached
(refreshed by beat), just after a ledger change (the last figures shown marked as such while
a worker computes new ones), and with its figures computed for each request (the first visit
ever: shown, not held to the goal). Goal (issue 13): every page under 300 ms (p95).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.processes import ensure_database  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_dashboard"
GOAL_MS = 300
UNCACHED_OVERVIEW = "/ (figures never computed)"  # once per deployment: not held to the goal
STALE_OVERVIEW = "/ (ledger changed since)"
CURRENCIES = (("USD", 0.6), ("EUR", 0.25), ("GBP", 0.15))
PLANS = {"starter": 2900, "team": 9900, "business": 29900, "enterprise": 99900}
COMPANY_WORDS = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell")
ACTIVE = ("active", "past_due", "non_renewing")
LIST_PAGES = ("/subscriptions/", "/events/", "/sync/", "/renewals/", "/churn/", "/movements/",
              # The REST API's lists (issue 14), read with the same session.
              "/api/v1/subscriptions/", "/api/v1/customers/", "/api/v1/events/",
              "/api/v1/renewals/", "/api/v1/sync/failures/",
              "/api/v1/metrics/churn/subscriptions/")


# -- seeding ----------------------------------------------------------------------------------

@dataclass
class Seeded:
    customers: int = 0
    subscriptions: int = 0
    ledger_rows: int = 0
    ledger_days: int = 0
    contract_syncs: int = 0
    sync_attempts: int = 0
    events: int = 0
    seconds: float = 0.0
    detail_subscription: int = 0
    detail_event: int = 0


class _Writer:
    """Rows into a table as dicts of attribute names: COPY on PostgreSQL, bulk_create
    elsewhere (the smoke test on SQLite). Ids are given, so relations need no read-back."""

    def __init__(self, *, now: datetime) -> None:
        from django.db import connection

        self.connection = connection
        self.now = now

    def write(self, model, rows: list[dict]) -> None:
        if not rows:
            return
        if self.connection.vendor != "postgresql":
            model.objects.bulk_create([model(**row) for row in rows], batch_size=500)
            return
        from django.db import models

        fields = model._meta.concrete_fields
        defaults = {}
        for column in fields:
            if getattr(column, "auto_now", False) or getattr(column, "auto_now_add", False):
                defaults[column.attname] = self.now
            else:
                defaults[column.attname] = column.get_default()  # "" for text, else None
        jsons = {column.attname for column in fields if isinstance(column, models.JSONField)}
        names = [column.attname for column in fields]
        table = self.connection.ops.quote_name(model._meta.db_table)
        columns = ", ".join(self.connection.ops.quote_name(column.column) for column in fields)
        with (self.connection.cursor() as cursor,
              cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy):
            for row in rows:
                copy.write_row([json.dumps(row.get(name, defaults[name])) if name in jsons
                                else row.get(name, defaults[name]) for name in names])

    def reset_sequences(self, models: list) -> None:
        from django.core.management.color import no_style

        with self.connection.cursor() as cursor:
            for statement in self.connection.ops.sequence_reset_sql(no_style(), models):
                cursor.execute(statement)


def _weighted(rng: random.Random, choices) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _history(rng: random.Random, *, start: datetime, now: datetime, changes: int,
             plan_mrr: int) -> list[tuple[datetime, str, int]]:
    """(when, status after, MRR after) of one subscription's changes, in time order: at most
    `changes`, fewer when it ends (a trial that does not convert, or a cancellation: one in
    ten cancelled subscriptions comes back)."""
    begin = start + (now - start) * rng.random() * 0.9
    moments = sorted(begin + (now - begin) * rng.random() for _ in range(changes))
    steps, status, mrr = [], "", 0
    for i, when in enumerate(moments):
        if i == 0:
            status, mrr = ("trial", 0) if rng.random() < 0.3 else ("active", plan_mrr)
        elif status == "trial":
            status, mrr = ("active", plan_mrr) if rng.random() < 0.8 else ("cancelled", 0)
        elif status == "cancelled":
            if rng.random() > 0.1:
                break
            status, mrr = "active", plan_mrr
        else:
            roll = rng.random()
            if roll < 0.35:
                status, mrr = "active", int(mrr * rng.choice((1.2, 1.5, 2)))
            elif roll < 0.6:
                status, mrr = "active", max(500, int(mrr * rng.choice((0.5, 0.8))))
            elif roll < 0.8:
                status = "past_due" if status != "past_due" else "active"
            elif roll < 0.85:
                status = "non_renewing"
            elif roll < 0.88:
                status, mrr = "cancelled", 0
            else:
                status = "active"
        steps.append((when, status, mrr))
    return steps


def seed(*, subscriptions: int, ledger_rows: int, events: int, now: datetime | None = None,
         seed_value: int = 13) -> Seeded:
    """Fill an empty database (see the module docstring); returns what was written."""
    from django.contrib.auth import get_user_model

    from billing.models import (
        Customer,
        ExchangeRate,
        Subscription,
        SubscriptionChange,
        SubscriptionItem,
        WebhookEvent,
    )
    from billing.movements import classify_movement
    from billing.services.ledger_days import rebuild_ledger_days
    from crm.models import ContractSync, SyncAttempt

    began = time.perf_counter()
    rng = random.Random(seed_value)
    now = now or datetime.now(UTC)
    start = now - timedelta(days=730)
    writer = _Writer(now=now)
    result = Seeded()

    customer_count = max(1, int(subscriptions * 0.7))
    owners = [i if i < customer_count else rng.randrange(customer_count)
              for i in range(subscriptions)]
    currency_of = [_weighted(rng, CURRENCIES) for _ in range(customer_count)]
    histories, plans, left = [], [], ledger_rows
    for i in range(subscriptions):
        plan = rng.choice(list(PLANS))
        fair = max(1, left // (subscriptions - i))  # what ended histories left over, spread
        plans.append(plan)
        histories.append(_history(rng, start=start, now=now, changes=min(left, 3 * fair) or 1,
                                  plan_mrr=PLANS[plan]))
        left = max(0, left - len(histories[-1]))

    # Each customer's changes in time order, classified as the batch writer would.
    by_customer = defaultdict(list)
    for sub, steps in enumerate(histories):
        for when, status, mrr in steps:
            by_customer[owners[sub]].append((when, sub, status, mrr))
    ledger, first_paid = [], {}
    sub_state = [("", 0)] * subscriptions
    event_ids = list(range(1, events + 1))
    rng.shuffle(event_ids)
    for customer, changes in by_customer.items():
        changes.sort()
        totals, paid = 0, False
        for when, sub, status, mrr in changes:
            before_status, before_mrr = sub_state[sub]
            after_totals = totals - before_mrr + mrr
            movement, amount = classify_movement(
                customer_paying_before=totals > 0, customer_paying_after=after_totals > 0,
                delta=mrr - before_mrr, customer_paid_ever=paid)
            if movement in ("new", "reactivation") and not paid:
                paid = True
                first_paid[customer] = when
            ledger.append({
                "subscription_id": sub + 1, "customer_id": customer + 1, "occurred_at": when,
                "recorded_at": when, "source_version": len(ledger) + 1,
                "status_before": before_status, "status_after": status,
                "mrr_before": before_mrr, "mrr_after": mrr, "customer_mrr_before": totals,
                "customer_mrr_after": after_totals, "currency": currency_of[customer],
                "movement": str(movement), "movement_amount": amount,
            })
            totals = after_totals
            sub_state[sub] = (status, mrr)
    ledger.sort(key=lambda row: row["occurred_at"])
    for index, row in enumerate(ledger):
        row["id"] = index + 1
        if index >= len(ledger) - events:  # the newest changes came with a stored event
            row["event_id"] = event_ids[len(ledger) - 1 - index]

    customers = [{
        "id": i + 1, "provider": "chargebee" if i % 4 else "braintree",
        "external_id": f"cus_{i + 1}", "email": f"billing{i + 1}@example.test",
        "company": f"{COMPANY_WORDS[i % len(COMPANY_WORDS)]} {i + 1}",
        "first_name": "Sam", "last_name": f"Customer{i + 1}", "source_version": 1,
        "first_paid_at": first_paid.get(i), "created_at": start,
    } for i in range(customer_count)]
    subs, items = [], []
    for i, (status, mrr) in enumerate(sub_state):
        started = histories[i][0][0]
        term_end = now + timedelta(days=rng.randrange(1, 365))
        cancelled = status == "cancelled"
        subs.append({
            "id": i + 1, "provider": customers[owners[i]]["provider"],
            "external_id": f"sub_{i + 1}", "customer_id": owners[i] + 1, "status": status,
            "provider_status": status, "plan_id": f"{plans[i]}-monthly", "price_id": plans[i],
            "currency": currency_of[owners[i]], "mrr": mrr, "billing_period": 1,
            "billing_period_unit": "month", "started_at": started,
            "current_term_start": term_end - timedelta(days=30), "current_term_end": term_end,
            "next_renewal_at": None if cancelled or status == "non_renewing" else term_end,
            "cancelled_at": histories[i][-1][0] if cancelled else None,
            "cancel_reason": rng.choice(("too expensive", "not used", "switched", ""))
            if cancelled else "",
            "source_version": len(histories[i]), "created_at": started,
        })
        items.append({"id": i + 1, "subscription_id": i + 1, "kind": "plan",
                      "item_id": plans[i], "quantity": 1, "unit_amount": PLANS[plans[i]],
                      "amount": PLANS[plans[i]]})

    body = json.dumps({"event_type": "subscription_changed", "content": {
        "subscription": {"id": "sub_x", "status": "active", "plan_id": "team-monthly"},
        "customer": {"id": "cus_x", "email": "billing@example.test"}}})
    event_rows = []
    for i in range(events):
        received = now - timedelta(seconds=rng.randrange(30 * 86400))
        failed = rng.random() < 0.01
        event_rows.append({
            "id": i + 1, "provider": "chargebee", "event_id": f"ev_{i + 1}",
            "event_type": rng.choice(("subscription_changed", "subscription_created",
                                      "subscription_cancelled", "subscription_renewed")),
            "source": "webhook", "occurred_at": received, "received_at": received,
            "headers": {}, "body": body, "status": "failed" if failed else "processed",
            "attempts": 3 if failed else 1, "error": "KeyError: 'plan'" if failed else "",
            "processed_at": None if failed else received,
        })

    syncs, attempts = [], []
    for i in range(subscriptions):
        if rng.random() < 0.15:
            continue
        share = len(syncs) % 100  # 4 % failed, 1 % parked, 5 % pending
        state = ("failed" if share < 4 else "parked" if share < 5
                 else "pending" if share < 10 else "synced")
        synced = state == "synced"
        syncs.append({
            "id": len(syncs) + 1, "subscription_id": i + 1,
            "sf_account_id": f"001{i:015d}", "sf_contract_id": f"800{i:015d}" if synced else "",
            "sf_contract_status": "Activated" if synced else "", "state": state,
            "version": 3, "synced_version": 3 if synced else 2,
            "attempts": rng.randrange(1, 6) if state in ("failed", "parked") else 1,
            "last_error_code": "FIELD_CUSTOM_VALIDATION_EXCEPTION" if not synced else "",
            "last_error": "Contract end date before start" if not synced else "",
            "next_attempt_at": now + timedelta(minutes=10) if state == "failed" else None,
            "last_synced_at": now - timedelta(days=1),
        })
    for i in range(len(syncs) // 2):
        failed = rng.random() < 0.05
        attempts.append({
            "id": i + 1, "operation": "upsert_contracts", "sobject": "Contract",
            "records": [f"sub_{i + 1}"], "results": [{"success": not failed}],
            "outcome": "failed" if failed else "succeeded",
            "http_status": 400 if failed else 200,
            "error_code": "INVALID_FIELD" if failed else "", "started_at":
            now - timedelta(seconds=rng.randrange(30 * 86400)), "duration_ms": 120,
        })

    writer.write(Customer, customers)
    writer.write(Subscription, subs)
    writer.write(SubscriptionItem, items)
    writer.write(WebhookEvent, event_rows)
    writer.write(SubscriptionChange, ledger)
    writer.write(ContractSync, syncs)
    writer.write(SyncAttempt, attempts)
    rates = [{"currency": code, "rate": rate, "valid_from": (now - timedelta(days=days)).date()}
             for code, rate, days in (("EUR", "1.08", 800), ("EUR", "1.12", 300),
                                      ("EUR", "1.17", 40), ("GBP", "1.25", 800),
                                      ("GBP", "1.31", 200))]
    ExchangeRate.objects.bulk_create([ExchangeRate(**row) for row in rates])
    writer.reset_sequences([Customer, Subscription, SubscriptionItem, WebhookEvent,
                            SubscriptionChange, ContractSync, SyncAttempt])
    result.ledger_days = rebuild_ledger_days()
    user_model = get_user_model()
    if not user_model.objects.filter(username="bench").exists():
        user_model.objects.create_user("bench", "bench@example.test", "bench-password-1",
                                       is_staff=True, is_superuser=True)
    result.customers, result.subscriptions = len(customers), len(subs)
    result.ledger_rows, result.events = len(ledger), len(event_rows)
    result.contract_syncs, result.sync_attempts = len(syncs), len(attempts)
    result.seconds = time.perf_counter() - began
    return result


def analyze() -> None:
    """Fresh planner statistics after a bulk load (what autovacuum would do soon after)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


# -- measuring --------------------------------------------------------------------------------

@dataclass
class PageTiming:
    url: str
    status: int
    queries: int
    median_ms: float
    p95_ms: float
    samples: list[float] = field(default_factory=list, repr=False)
    held_to_goal: bool = True

    @property
    def within_goal(self) -> bool:
        return self.p95_ms < GOAL_MS or not self.held_to_goal


def pages(*, subscription_id: int, event_id: int) -> list[str]:
    return ["/", "/renewals/", "/renewals/?window=next_quarter", "/renewals.csv", "/churn/",
            "/movements/", "/subscriptions/", "/subscriptions/?q=acme",
            f"/subscriptions/{subscription_id}/", "/sync/", "/events/", f"/events/{event_id}/",
            "/api/v1/subscriptions/", "/api/v1/subscriptions/?q=acme&ordering=-mrr",
            "/api/v1/subscriptions/?min_mrr=500&renewal_from=2020-01-01",
            "/api/v1/customers/", "/api/v1/events/", "/api/v1/renewals/",
            "/api/v1/renewals/rows/?window=next_quarter", "/api/v1/metrics/summary/",
            "/api/v1/metrics/mrr/", "/api/v1/sync/failures/",
            f"/api/v1/subscriptions/{subscription_id}/"]


def staff_client():
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_test_environment

    with contextlib.suppress(RuntimeError):  # already set up (under pytest)
        setup_test_environment()
    user_model = get_user_model()
    user = user_model.objects.filter(is_staff=True, is_active=True).order_by("pk").first()
    client = Client()
    client.force_login(user)
    return client


def _get(client, url: str) -> tuple[int, float]:
    began = time.perf_counter()
    response = client.get(url)
    if response.streaming:
        b"".join(response.streaming_content)
    else:
        response.content  # noqa: B018 (rendered already; read as a browser would)
    return response.status_code, (time.perf_counter() - began) * 1000


def count_queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        _get(client, url)
    return len(queries)


def measure(client, urls: list[str], *, repeat: int) -> list[PageTiming]:
    """Each page once to warm up, then `repeat` timed requests, then once counting queries."""
    timings = []
    for url in urls:
        status, _ = _get(client, url)
        samples = [_get(client, url)[1] for _ in range(repeat)]
        timings.append(PageTiming(url=url, status=status, queries=count_queries(client, url),
                                  median_ms=statistics.median(samples),
                                  p95_ms=percentile(samples, 0.95), samples=samples))
    return timings


def measure_uncached_overview(client, *, repeat: int) -> PageTiming:
    """The Overview with its figures forgotten before each request, so computed for it: what
    the first visitor ever waits (or after the cache was lost). Shown, not held to the goal:
    after a ledger change visitors get the last figures (measure_stale_overview)."""
    from django.core.cache import cache

    from billing.selectors import overview_cache

    def uncached() -> tuple[int, float]:
        cache.delete(overview_cache.CACHE_KEY)
        return _get(client, "/")

    status, _ = uncached()
    samples = [uncached()[1] for _ in range(repeat)]
    cache.delete(overview_cache.CACHE_KEY)
    return PageTiming(url=UNCACHED_OVERVIEW, status=status, queries=count_queries(client, "/"),
                      median_ms=statistics.median(samples), p95_ms=percentile(samples, 0.95),
                      samples=samples, held_to_goal=False)


def measure_stale_overview(client, *, repeat: int) -> PageTiming:
    """The Overview just after a ledger change: the stored figures are of an older version (and
    a few seconds old), so the page shows them marked as such and asks a worker for new ones
    (none runs here; the request is debounced by billing.selectors.overview_cache)."""
    from dataclasses import replace

    from django.core.cache import cache
    from django.utils import timezone

    from billing.selectors import overview_cache

    _get(client, "/")
    current = cache.get(overview_cache.CACHE_KEY)

    def stale() -> tuple[int, float]:
        cache.set(overview_cache.CACHE_KEY, replace(current, version="before-a-change",
                                                    computed_at=timezone.now()))
        return _get(client, "/")

    status, _ = stale()
    samples = [stale()[1] for _ in range(repeat)]
    cache.set(overview_cache.CACHE_KEY, replace(current, version="before-a-change",
                                                computed_at=timezone.now()))
    queries = count_queries(client, "/")
    cache.delete(overview_cache.CACHE_KEY)
    return PageTiming(url=STALE_OVERVIEW, status=status, queries=queries,
                      median_ms=statistics.median(samples), p95_ms=percentile(samples, 0.95),
                      samples=samples)


def page_size_queries(client) -> dict[str, tuple[int, int]]:
    """Queries of each list page at 10 and at 200 rows a page: the two must be equal."""
    counts = {}
    for url in LIST_PAGES:
        counts[url] = (count_queries(client, f"{url}?page_size=10"),
                       count_queries(client, f"{url}?page_size=200"))
    return counts


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def _verdict(row: PageTiming) -> str:
    if not row.held_to_goal:
        return "(once)"
    return "ok" if row.within_goal else "MISSED"


def table(timings: list[PageTiming]) -> str:
    lines = [f"{'page':<36} {'status':>6} {'median ms':>10} {'p95 ms':>8} {'queries':>8}  goal"]
    for row in timings:
        lines.append(f"{row.url:<36} {row.status:>6} {row.median_ms:>10.1f} {row.p95_ms:>8.1f}"
                     f" {row.queries:>8}  {_verdict(row)}")
    return "\n".join(lines)


# -- the run ----------------------------------------------------------------------------------

def _drop_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(parts.path.lstrip("/"))))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL,
                        help="a PostgreSQL database of the benchmark's own (dropped first)")
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--ledger-rows", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=200_000, help="webhook events stored")
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per page")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the database a --keep run left, without seeding")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if urlsplit(args.database_url).scheme not in ("postgres", "postgresql"):
        raise SystemExit("--database-url must name a PostgreSQL database")
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-used-anywhere-else-0123456789")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # The API's per-user throttle would answer 429 to a benchmark's burst of requests.
    os.environ.setdefault("SUBSYNC_API_THROTTLE_RATE", "1000000/min")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "subsync.settings")
    if not args.reuse:
        _drop_database(args.database_url)
    ensure_database(args.database_url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from billing.models import Subscription, WebhookEvent

    try:
        call_command("migrate", verbosity=0)
        if not args.reuse:
            seeded = seed(subscriptions=args.subscriptions, ledger_rows=args.ledger_rows,
                          events=args.events)
            print(f"seeded in {seeded.seconds:.0f} s: {seeded.customers} customers,"
                  f" {seeded.subscriptions} subscriptions, {seeded.ledger_rows} ledger rows"
                  f" ({seeded.ledger_days} ledger days), {seeded.contract_syncs} contract syncs,"
                  f" {seeded.sync_attempts} sync attempts, {seeded.events} webhook events")
            analyze()
        busiest = (Subscription.objects.filter(mrr__gt=0).order_by("-source_version", "pk")
                   .values_list("pk", flat=True).first())
        event = WebhookEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
        client = staff_client()
        timings = measure(client, pages(subscription_id=busiest, event_id=event),
                          repeat=args.repeat)
        timings.insert(1, measure_stale_overview(client, repeat=args.repeat))
        timings.insert(2, measure_uncached_overview(client, repeat=args.repeat))
        print(table(timings))
        sizes = page_size_queries(client)
        for url, (small, large) in sizes.items():
            print(f"queries {url}: {small} at page_size=10, {large} at page_size=200"
                  f"{'' if small == large else '  GROWS'}")
        if args.json:
            print(json.dumps({"pages": [{k: v for k, v in asdict(t).items() if k != "samples"}
                                        for t in timings], "page_size_queries": sizes}))
        ok = (all(t.within_goal and t.status == 200 for t in timings)
              and all(small == large for small, large in sizes.values()))
        return 0 if ok else 1
    finally:
        connection.close()
        if not args.keep:
            _drop_database(args.database_url)


if __name__ == "__main__":
    sys.exit(main())
