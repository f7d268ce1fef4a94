"""Salesforce push benchmark: API calls and time for a backfill, and webhook->Contract latency.

    .venv/bin/python bench/sync.py                       # all three parts, defaults below
    .venv/bin/python bench/sync.py --only batch -n 1000  # (a) only, smaller
    .venv/bin/python bench/sync.py --only latency --rate 20 --duration 30
    .venv/bin/python bench/sync.py --only products --renewals 1000

(a) batch: N new subscriptions (default 10,000) are pushed to the Salesforce emulator by the
    engine (crm.services.flush: Bulk API 2.0 above SUBSYNC_SF_BULK_THRESHOLD), by the engine
    with bulk turned off (collections of 200), and by a naive loop of simple-salesforce calls
    per record (Account upsert, Contract upsert, activation), each against an empty org.
    Wall time and API calls (the emulator's own count) for each, and the ratios.
(b) latency: the real pipeline (granian on a free port and a Celery worker, no beat) receives
    Chargebee `subscription_created` webhooks at a steady rate; for each one, the time from
    sending it until its Contract exists in the emulator, and until it is Activated
    (p50/p95/p99, polling the emulator's /_emulator/ control API every 50 ms).
(c) products: N subscriptions renewing within 110 days (default 1,000; monthly and yearly
    plans, add-ons) pushed with SUBSYNC_SF_PRODUCTS and SUBSYNC_SF_RENEWALS on, in collection
    batches and in one Bulk API batch: API calls for the Accounts, Contracts, Products, price
    book entries, renewal Opportunities, line items and monthly schedule rows, against a naive
    loop's one call per record written.

All run on DATABASE_URL / CELERY_BROKER_URL from the environment (default: PostgreSQL
database `subsync_bench_sync`, created if missing, and Redis database 6), with the emulator
started as a subprocess. Goals: at most 16 API calls per 1,000 new subscriptions (the naive
loop needs 3,000), at most 40 per 1,000 with products and renewals on, and p95
webhook->Contract under 3 s.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.processes import (  # noqa: E402
    ensure_database,
    free_port,
    spawn,
    stop,
    wait_healthy,
    worker_command,
)
from subsync import server  # noqa: E402

PY = sys.executable
# Its own database: the push engine takes every due row, so sharing one with bench/webhooks.py
# (which makes rows due) would push the other benchmark's subscriptions and skew both.
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/subsync_bench_sync"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/6"
HOOK_USER, HOOK_PASSWORD = "bench-sync", "bench-sync-password"
LOG_DIR = ROOT / "var" / "bench"


# -- processes ---------------------------------------------------------------------------------

class Emulator:
    """`python -m emulator.salesforce` in its own process, and its control API."""

    def __init__(self, *, daily_limit: int, cert_dir: Path | None = None) -> None:
        cert_dir = cert_dir or LOG_DIR / "sf-emulator"
        cert_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [PY, "-m", "emulator.salesforce", "--port", "0", "--cert-dir", str(cert_dir),
             "--daily-limit", str(daily_limit)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            start_new_session=True)
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("the Salesforce emulator did not start")
        ready = json.loads(line)
        self.url, self.ca_path = ready["url"], ready["ca_path"]
        import ssl

        self._tls = ssl.create_default_context(cafile=self.ca_path)

    def control(self, route: str, method: str = "GET", body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/_emulator/{route}", data=data,
                                         method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=self._tls, timeout=30) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        self.control("reset", "POST")

    @property
    def call_count(self) -> int:
        return int(self.control("state")["call_count"])

    def contracts(self) -> list[dict]:
        return self.control("records/Contract")["records"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class App:
    """The web server and one Celery worker (no beat), stopped afterwards."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, web_workers: int, worker_concurrency: int) -> None:
        web = server.command(host="127.0.0.1", port=self.port, workers=web_workers, threads=4,
                             log_level="warning")
        worker = worker_command(concurrency=worker_concurrency,
                                hostname=f"bench-sync-{self.port}@%h")
        for name, cmd in (("sync-web", web), ("sync-worker", worker)):
            self.procs.append(spawn(cmd, env=self.env, log_path=LOG_DIR / f"{name}.log"))

    def wait_ready(self, timeout: float = 90) -> None:
        began = time.monotonic()
        wait_healthy(self.url, timeout=timeout, procs=self.procs, log_dir=LOG_DIR)
        from subsync.celery import app

        app.send_task("subsync.ping").get(timeout=max(1.0, timeout - (time.monotonic() - began)))

    def stop(self) -> None:
        stop(self.procs)


# -- (a) batch -----------------------------------------------------------------------------------

@dataclass
class Run:
    name: str
    seconds: float
    calls: int
    count: int
    # API calls by (operation, sObject), from the engine's own call log (SyncAttempt)
    breakdown: dict[str, int] = field(default_factory=dict)

    @property
    def per_thousand(self) -> float:
        return self.calls * 1000 / self.count if self.count else float("nan")


def create_subscriptions(*, count: int, run_id: str) -> list[int]:
    """`count` in-scope subscriptions with due sync rows, one customer each."""
    from django.utils import timezone

    from billing.models import Customer, Subscription
    from crm.models import ContractSync

    start = datetime(2026, 1, 1, tzinfo=UTC)
    customers = Customer.objects.bulk_create(
        [Customer(provider="chargebee", external_id=f"{run_id}_cus_{i}", company=f"Bench {i}",
                  email=f"ops{i}@bench.example") for i in range(count)], batch_size=2000)
    subs = Subscription.objects.bulk_create(
        [Subscription(provider="chargebee", external_id=f"{run_id}_sub_{i}",
                      customer=customers[i], status="active", mrr=1000 + i, currency="USD",
                      plan_id="pro-monthly", started_at=start, current_term_start=start,
                      current_term_end=start + timedelta(days=365),
                      next_renewal_at=start + timedelta(days=365))
         for i in range(count)], batch_size=2000)
    now = timezone.now()
    ContractSync.objects.bulk_create(
        [ContractSync(subscription=sub, version=1, next_attempt_at=now) for sub in subs],
        batch_size=2000)
    return [sub.pk for sub in subs]


def drain(emulator: Emulator) -> None:
    """Push whatever an earlier run left due, so that it is not counted below."""
    from crm.services import claims, flush

    left = claims.count_due()
    if left:
        print(f"  pushing {left:,} rows an earlier run left due (not measured) ...", flush=True)
        flush.flush_due(time_budget=float("inf"))


def engine_run(emulator: Emulator, *, name: str, sub_ids: list[int], bulk: bool) -> Run:
    from django.conf import settings

    from crm.models import ContractSync
    from crm.salesforce.factory import get_client
    from crm.services import flush

    settings.SUBSYNC_SF_BULK_THRESHOLD = 2000 if bulk else 10**9
    emulator.reset()
    client = get_client()
    before = emulator.call_count
    began = time.perf_counter()
    report = flush.flush_due(client=client, time_budget=float("inf"))
    seconds = time.perf_counter() - began
    calls = emulator.call_count - before
    synced = ContractSync.objects.filter(subscription_id__in=sub_ids, state="synced",
                                         sf_contract_status="Activated").count()
    contracts = emulator.contracts()
    activated = sum(1 for c in contracts if c.get("Status") == "Activated")
    if synced != len(sub_ids) or activated != len(sub_ids) or report.stopped:
        raise SystemExit(f"{name}: {synced} rows synced, {activated} contracts activated of "
                         f"{len(sub_ids)}; report {report.as_dict()}")
    how = (f"{report.bulk_batches} bulk batch{'es' if report.bulk_batches != 1 else ''}"
           if report.bulk_batches else f"{report.batches} collection batches")
    return Run(f"{name}: {how}", seconds, calls, len(sub_ids))


def naive_run(emulator: Emulator, *, sub_ids: list[int]) -> Run:
    """One simple-salesforce call per record and step, as a hand-written sync would do."""
    import requests
    from simple_salesforce import Salesforce

    from billing.models import Subscription
    from crm import mapping

    emulator.reset()
    subs = list(Subscription.objects.filter(pk__in=sub_ids).select_related("customer"))
    payloads = [mapping.build_payload(sub, multi_currency=False, activate=True) for sub in subs]
    session = requests.Session()
    session.trust_env = False
    session.verify = emulator.ca_path
    token = emulator.control("token", "POST")["access_token"]
    sf = Salesforce(instance_url=emulator.url, session_id=token, session=session,
                    version="62.0")
    account_key, contract_key = mapping.ACCOUNT_EXTERNAL_ID, mapping.CONTRACT_EXTERNAL_ID
    before = emulator.call_count
    began = time.perf_counter()
    for payload in payloads:
        account = {k: v for k, v in payload.account.items() if k != account_key}
        answer = sf.Account.upsert(f"{account_key}/{payload.account_ref}", account,
                                   raw_response=True).json()
        contract = {k: v for k, v in payload.contract.items() if k != contract_key}
        contract["AccountId"] = answer["id"]
        created = sf.Contract.upsert(f"{contract_key}/{payload.contract_ref}", contract,
                                     raw_response=True).json()
        sf.Contract.update(created["id"], {"Status": mapping.ACTIVATED})
    seconds = time.perf_counter() - began
    calls = emulator.call_count - before
    session.close()
    return Run("naive loop: 3 calls per record", seconds, calls, len(subs))


def part_batch(args, emulator: Emulator) -> dict:
    from crm.services import sync_state

    print(f"(a) pushing {args.subscriptions:,} new subscriptions to an empty org", flush=True)
    drain(emulator)
    run_id = f"bs{int(time.time()):x}{os.getpid():x}"
    sub_ids = create_subscriptions(count=args.subscriptions, run_id=run_id)
    runs = [engine_run(emulator, name="engine", sub_ids=sub_ids, bulk=True)]
    print(f"  {runs[-1].name}: {runs[-1].seconds:.1f} s", flush=True)
    if not args.skip_collections:
        sync_state.mark_subscriptions_dirty(subscription_ids=sub_ids, force=True,
                                            forget_contract=True)
        runs.append(engine_run(emulator, name="engine, bulk off", sub_ids=sub_ids,
                               bulk=False))
        print(f"  {runs[-1].name}: {runs[-1].seconds:.1f} s", flush=True)
    if not args.skip_naive:
        runs.append(naive_run(emulator, sub_ids=sub_ids))
        print(f"  {runs[-1].name}: {runs[-1].seconds:.1f} s", flush=True)
    print()
    print(f"  {'':38} {'wall time':>10} {'API calls':>10} {'per 1,000':>10} {'records/s':>10}")
    for run in runs:
        print(f"  {run.name:38} {run.seconds:>8.2f} s {run.calls:>10,} "
              f"{run.per_thousand:>10.1f} {run.count / run.seconds:>10,.0f}")
    engine, naive = runs[0], runs[-1]
    if naive.name.startswith("naive"):
        print(f"  naive / engine: {naive.calls / engine.calls:,.0f}x the API calls, "
              f"{naive.seconds / engine.seconds:,.1f}x the time")
    goal = "met" if engine.per_thousand <= 16 else "MISSED"
    print(f"  goal <= 16 API calls per 1,000 new subscriptions: {goal} "
          f"({engine.per_thousand:.1f})")
    return {"subscriptions": args.subscriptions,
            "runs": [{"name": r.name, "seconds": round(r.seconds, 3), "calls": r.calls,
                      "calls_per_1000": round(r.per_thousand, 2)} for r in runs]}


# -- (c) products and renewal opportunities --------------------------------------------------------

def create_renewing_subscriptions(*, count: int, run_id: str) -> list[int]:
    """`count` subscriptions renewing within the next 110 days with their billing items: three
    in four monthly (one schedule row per line), one in four yearly (twelve), every other one
    with an add-on; two plans and one add-on in all."""
    from django.utils import timezone

    from billing.models import Customer, Subscription, SubscriptionItem
    from crm.models import ContractSync

    now = timezone.now()
    customers = Customer.objects.bulk_create(
        [Customer(provider="chargebee", external_id=f"{run_id}_pcus_{i}", company=f"Renew {i}")
         for i in range(count)], batch_size=2000)
    subs = []
    for i in range(count):
        yearly = i % 4 == 0
        end = now + timedelta(days=1 + i % 110)
        subs.append(Subscription(
            provider="chargebee", external_id=f"{run_id}_psub_{i}", customer=customers[i],
            status="active", currency="USD", mrr=5000,
            plan_id="bench-yearly" if yearly else "bench-monthly",
            billing_period=12 if yearly else 1, billing_period_unit="month",
            started_at=end - timedelta(days=365), current_term_start=end - timedelta(days=30),
            current_term_end=end, next_renewal_at=end))
    subs = Subscription.objects.bulk_create(subs, batch_size=2000)
    items = []
    for i, sub in enumerate(subs):
        price = 60000 if sub.billing_period == 12 else 5000
        items.append(SubscriptionItem(subscription=sub, kind="plan", item_id=sub.plan_id,
                                      quantity=1, unit_amount=price, amount=price))
        if i % 2:
            items.append(SubscriptionItem(subscription=sub, kind="addon", item_id="bench-seats",
                                          quantity=3, unit_amount=500, amount=1500))
    SubscriptionItem.objects.bulk_create(items, batch_size=5000)
    ContractSync.objects.bulk_create(
        [ContractSync(subscription=sub, version=1, next_attempt_at=now) for sub in subs],
        batch_size=2000)
    return [sub.pk for sub in subs]


def breakdown(*, after_id: int) -> dict[str, int]:
    """The engine's calls since SyncAttempt `after_id`, by operation and sObject (its call log
    has one row per REST request; logins are not API calls and are left out)."""
    from django.db.models import Count

    from crm.models import SyncAttempt

    rows = (SyncAttempt.objects.filter(pk__gt=after_id).exclude(operation="login")
            .values("operation", "sobject").annotate(n=Count("id")).order_by("-n", "operation"))
    return {f"{r['operation']} {r['sobject']}".strip(): r["n"] for r in rows}


def last_attempt_id() -> int:
    from crm.models import SyncAttempt

    return SyncAttempt.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def products_run(emulator: Emulator, *, name: str, sub_ids: list[int], bulk: bool,
                 threshold: int) -> Run:
    from django.conf import settings
    from django.core.cache import cache

    from crm.models import ContractSync
    from crm.salesforce.factory import get_client
    from crm.services import flush

    # Bulk: every batch through Bulk API 2.0; otherwise the configured threshold (by default
    # 2,000 rows due, under which 1,000 subscriptions go in collection batches of 200).
    settings.SUBSYNC_SF_BULK_THRESHOLD = 0 if bulk else threshold
    emulator.reset()
    cache.clear()  # a reset org has a new standard price book: forget the cached id
    client = get_client()
    first_attempt = last_attempt_id()
    before = emulator.call_count
    began = time.perf_counter()
    report = flush.flush_due(client=client, time_budget=float("inf"))
    seconds = time.perf_counter() - began
    calls = emulator.call_count - before
    synced = ContractSync.objects.filter(subscription_id__in=sub_ids, state="synced").count()
    state = emulator.control("state")["counts"]
    if synced != len(sub_ids) or state.get("Opportunity") != len(sub_ids) or report.stopped:
        raise SystemExit(f"{name}: {synced} rows synced, {state} in the org of {len(sub_ids)}; "
                         f"report {report.as_dict()}")
    how = (f"{report.bulk_batches} bulk batch{'es' if report.bulk_batches != 1 else ''}"
           if report.bulk_batches else f"{report.batches} collection batches")
    return Run(f"{name}: {how}", seconds, calls, len(sub_ids),
               breakdown=breakdown(after_id=first_attempt))


def part_products(args, emulator: Emulator) -> dict:
    """(c) The push with SUBSYNC_SF_PRODUCTS and SUBSYNC_SF_RENEWALS on: Accounts, Contracts,
    Products, entries, renewal Opportunities, line items and monthly schedule rows."""
    from django.conf import settings

    from crm.models import PriceEntrySync, ProductSync, RenewalSync
    from crm.services import sync_state

    count = args.renewals
    print(f"(c) pushing {count:,} subscriptions with products and renewals on", flush=True)
    drain(emulator)
    settings.SUBSYNC_SF_PRODUCTS = settings.SUBSYNC_SF_RENEWALS = True
    run_id = f"bp{int(time.time()):x}{os.getpid():x}"
    sub_ids = create_renewing_subscriptions(count=count, run_id=run_id)
    runs = []
    threshold = settings.SUBSYNC_SF_BULK_THRESHOLD
    for name, bulk in ((f"engine, default settings (bulk over {threshold:,} due)", False),
                       ("engine, Bulk API", True)):
        ProductSync.objects.all().delete()
        PriceEntrySync.objects.all().delete()
        RenewalSync.objects.filter(subscription_id__in=sub_ids).delete()
        sync_state.mark_subscriptions_dirty(subscription_ids=sub_ids, force=True,
                                            forget_contract=True)
        runs.append(products_run(emulator, name=name, sub_ids=sub_ids, bulk=bulk,
                                 threshold=threshold))
        print(f"  {runs[-1].name}: {runs[-1].seconds:.1f} s", flush=True)
    counts = emulator.control("state")["counts"]
    # A hand-written sync makes one call per record written (and activation per contract).
    naive = sum(counts.get(name, 0) for name in (
        "Account", "Contract", "Product2", "PricebookEntry", "Opportunity",
        "OpportunityLineItem", "OpportunityLineItemSchedule")) + counts.get("Contract", 0)
    print()
    print(f"  {'':38} {'wall time':>10} {'API calls':>10} {'per 1,000':>10}")
    for run in runs:
        print(f"  {run.name:38} {run.seconds:>8.2f} s {run.calls:>10,} {run.per_thousand:>10.1f}")
    for run in runs:
        logged = sum(run.breakdown.values())
        print(f"  calls by step, {run.name} (the engine's log: {logged}; the org counted "
              f"{run.calls}):")
        for step, n in run.breakdown.items():
            print(f"    {n:>4}  {step}")
    print(f"  a naive loop, one call per record written: {naive:,} calls "
          f"({naive * 1000 / count:,.0f} per 1,000)")
    print(f"  records: {counts}")
    worst = max(run.per_thousand for run in runs)
    goal = "met" if worst <= 40 else "MISSED"
    print(f"  goal <= 40 API calls per 1,000 subscriptions: {goal} ({worst:.1f})")
    settings.SUBSYNC_SF_PRODUCTS = settings.SUBSYNC_SF_RENEWALS = False
    settings.SUBSYNC_SF_BULK_THRESHOLD = threshold
    return {"subscriptions": count, "naive_calls": naive, "records": counts,
            "runs": [{"name": r.name, "seconds": round(r.seconds, 3), "calls": r.calls,
                      "calls_per_1000": round(r.per_thousand, 2), "by_step": r.breakdown}
                     for r in runs]}


# -- (b) latency ---------------------------------------------------------------------------------

def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def webhook_bodies(*, run_id: str, count: int) -> list[tuple[str, bytes]]:
    from emulator.chargebee.events import make_event

    now = int(time.time())
    out = []
    for i in range(count):
        sub_id = f"{run_id}_sub_{i}"
        event = make_event("subscription_created", subscription_id=sub_id,
                           customer_id=f"{run_id}_cus_{i}", event_id=f"ev_{run_id}_{i}",
                           occurred_at=now, plan_unit_price=900 + i % 7 * 1000)
        out.append((f"chargebee:{sub_id}", json.dumps(event).encode()))
    return out


class Watcher(threading.Thread):
    """Polls the emulator's Contracts and notes when each awaited one appears and activates."""

    def __init__(self, emulator: Emulator, refs: set[str], interval: float) -> None:
        super().__init__(daemon=True)
        self.emulator, self.refs, self.interval = emulator, refs, interval
        self.visible: dict[str, float] = {}
        self.activated: dict[str, float] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(OSError):
                records = self.emulator.contracts()
                seen_at = time.time()
                for record in records:
                    ref = record.get("Subsync_Subscription_Id__c")
                    if ref in self.refs:
                        self.visible.setdefault(ref, seen_at)
                        if record.get("Status") == "Activated":
                            self.activated.setdefault(ref, seen_at)
            self.stopping.wait(self.interval)


def send_steadily(url: str, bodies: list[tuple[str, bytes]], *, rate: float,
                  sent: dict[str, float]) -> list[int]:
    parts = urlsplit(url)
    token = base64.b64encode(f"{HOOK_USER}:{HOOK_PASSWORD}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    statuses = []
    began = time.monotonic()
    for index, (ref, body) in enumerate(bodies):
        delay = began + index / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sent[ref] = time.time()
        try:
            conn.request("POST", "/webhooks/chargebee/", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
        except (OSError, http.client.HTTPException):
            conn.close()
            statuses.append(0)
    conn.close()
    return statuses


def part_latency(args, emulator: Emulator, env: dict[str, str]) -> dict:
    from django.conf import settings

    total = int(args.rate * args.duration)
    debounce = settings.SUBSYNC_SF_DEBOUNCE_SECONDS
    print(f"(b) webhook -> Contract latency: {total} subscription_created webhooks at "
          f"{args.rate:g}/s (debounce {debounce:g} s)", flush=True)
    drain(emulator)
    emulator.reset()
    app = App(env=env)
    app.start(web_workers=args.web_workers, worker_concurrency=args.worker_concurrency)
    try:
        app.wait_ready()
        run_id = f"bl{int(time.time()):x}{os.getpid():x}"
        warm = webhook_bodies(run_id=run_id + "w", count=10)
        bodies = webhook_bodies(run_id=run_id, count=total)
        watcher = Watcher(emulator, {ref for ref, _ in warm + bodies}, args.poll_interval)
        watcher.start()
        warm_sent: dict[str, float] = {}
        send_steadily(app.url, warm, rate=10, sent=warm_sent)
        deadline = time.monotonic() + 60
        while len(watcher.activated) < len(warm) and time.monotonic() < deadline:
            time.sleep(0.2)
        before = emulator.call_count
        sent: dict[str, float] = {}
        began = time.monotonic()
        statuses = send_steadily(app.url, bodies, rate=args.rate, sent=sent)
        sending = time.monotonic() - began
        deadline = time.monotonic() + args.settle_timeout
        while (sum(1 for ref in sent if ref in watcher.activated) < len(sent)
               and time.monotonic() < deadline):
            time.sleep(0.2)
        watcher.stopping.set()
        watcher.join(timeout=5)
        calls = emulator.call_count - before
    finally:
        app.stop()
    visible = [watcher.visible[ref] - at for ref, at in sent.items() if ref in watcher.visible]
    activated = [watcher.activated[ref] - at for ref, at in sent.items()
                 if ref in watcher.activated]
    rejected = sum(1 for status in statuses if status != 200)
    print()
    print(f"  sent {len(sent)} webhooks in {sending:.1f} s ({len(sent) / sending:.1f}/s); "
          f"{rejected} not answered 200; {calls} Salesforce API calls "
          f"({calls * 1000 / max(1, len(sent)):.0f} per 1,000)")
    for label, values in (("Contract exists", visible), ("Contract Activated", activated)):
        print(f"  webhook -> {label:<18} p50 {percentile(values, .5):5.2f} s  "
              f"p95 {percentile(values, .95):5.2f} s  p99 {percentile(values, .99):5.2f} s  "
              f"max {max(values) if values else float('nan'):5.2f} s  "
              f"({len(values)}/{len(sent)})")
    p95 = percentile(activated, .95)
    goal = "met" if len(activated) == len(sent) and p95 < 3 else "MISSED"
    print(f"  goal p95 webhook -> Contract < 3 s: {goal} ({p95:.2f} s to Activated)")
    return {"webhooks": len(sent), "rate": args.rate, "rejected": rejected, "api_calls": calls,
            "visible_s": {"p50": percentile(visible, .5), "p95": percentile(visible, .95)},
            "activated_s": {"p50": percentile(activated, .5), "p95": p95,
                            "p99": percentile(activated, .99)},
            "missing": len(sent) - len(activated)}


# -- main ----------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("batch", "latency", "products"),
                        help="run one part")
    parser.add_argument("--renewals", type=int, default=1000,
                        help="(c) subscriptions pushed with products and renewals on "
                             "(default 1000)")
    parser.add_argument("-n", "--subscriptions", type=int, default=10_000,
                        help="(a) new subscriptions to push (default 10000)")
    parser.add_argument("--skip-naive", action="store_true", help="(a) no naive loop")
    parser.add_argument("--skip-collections", action="store_true",
                        help="(a) no run with bulk turned off")
    parser.add_argument("--rate", type=float, default=20.0,
                        help="(b) webhooks per second (default 20)")
    parser.add_argument("--duration", type=float, default=30.0,
                        help="(b) seconds of sending (default 30)")
    parser.add_argument("--poll-interval", type=float, default=0.05,
                        help="(b) seconds between looks at the emulator (default 0.05)")
    parser.add_argument("--settle-timeout", type=float, default=60.0,
                        help="(b) seconds to wait for the last contracts (default 60)")
    parser.add_argument("--web-workers", type=int, default=2, help="(b) web server workers")
    parser.add_argument("--worker-concurrency", type=int, default=2,
                        help="(b) Celery worker processes")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    env.setdefault("CELERY_BROKER_URL", DEFAULT_BROKER_URL)
    env.setdefault("SECRET_KEY", "bench-only-secret-key-not-used-anywhere-else-0123456789")
    env.setdefault("LOG_LEVEL", "WARNING")
    env.setdefault("DJANGO_SETTINGS_MODULE", "subsync.settings")
    env.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    env.update(CHARGEBEE_WEBHOOK_USERNAME=HOOK_USER, CHARGEBEE_WEBHOOK_PASSWORD=HOOK_PASSWORD)
    ensure_database(env["DATABASE_URL"])
    emulator = Emulator(daily_limit=100_000_000)
    try:
        env.update(SALESFORCE_LOGIN_URL=emulator.url, SALESFORCE_AUTH_FLOW="client_credentials",
                   SALESFORCE_CLIENT_ID="emulator", SALESFORCE_CLIENT_SECRET="emulator",
                   SALESFORCE_CA_BUNDLE=emulator.ca_path)
        subprocess.run([PY, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env,
                       check=True, capture_output=True)
        os.environ.update(env)
        import django

        django.setup()
        figures = {}
        if args.only in (None, "batch"):
            figures["batch"] = part_batch(args, emulator)
            print()
        if args.only in (None, "products"):
            figures["products"] = part_products(args, emulator)
            print()
        if args.only in (None, "latency"):
            from django.db import connection

            connection.close()
            figures["latency"] = part_latency(args, emulator, env)
        if args.json:
            print(json.dumps(figures, default=float))
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
