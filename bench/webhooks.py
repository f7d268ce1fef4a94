"""Webhook intake benchmark: how fast subsync acknowledges provider events and applies them.

    .venv/bin/python bench/webhooks.py                  # starts the web server + a Celery worker
    .venv/bin/python bench/webhooks.py -n 5000 -c 16    # smaller run
    .venv/bin/python bench/webhooks.py --defer-worker   # web alone, then the worker alone
    .venv/bin/python bench/webhooks.py --rate 800       # offer 800 deliveries/s (open loop)
    .venv/bin/python bench/webhooks.py --url http://127.0.0.1:8000   # a running app

Without --url it migrates and starts the app itself on a free port, on DATABASE_URL and
CELERY_BROKER_URL from the environment (default: PostgreSQL database `subsync_bench`, created
if missing, and Redis database 5), with webhook credentials of its own. With --url, the
running app must accept the credentials given by --username/--password, and DATABASE_URL must
name its database: the benchmark reads the event rows to see when processing is over.

It sends N authenticated deliveries (a mix of event types, catalogs and currencies across many
subscriptions, a little out of order, a share re-sent as providers do) over C keep-alive
connections from a small asyncio client, then reports: acknowledged events/s, ack latency
p50/p95/p99, how long after the last acknowledgement every event was applied, and checks
that each distinct event was stored once and applied exactly once, and that every
subscription ended at its newest version. Exit status 1 when a check fails. It also says
how the CPU time was split between the app, PostgreSQL, Redis, itself and everything else on
the machine: on a small shared machine the figures mean little without that.

The web server is the app's own (granian, subsync.server) with 2 workers of 4 threads;
`--server gunicorn` runs gunicorn instead, for comparison (sync workers close each connection
after the response, and the client reconnects). `--worker-nice 19` runs the Celery worker at a
lower CPU priority. On PostgreSQL with autovacuum off (as on the CI machines) it vacuums the
database first. Logging is at WARNING unless LOG_LEVEL says otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.braintree_mix import PLANS as BRAINTREE_PLANS  # noqa: E402
from bench.braintree_mix import BraintreeMix  # noqa: E402
from bench.chargebee_mix import ChargebeeMix  # noqa: E402
from bench.cpu import CpuMeter, machine_speed  # noqa: E402
from bench.mix import Delivery, Generator, Plan, plan  # noqa: E402
from bench.pg_waits import WaitSampler  # noqa: E402
from bench.processes import (  # noqa: E402
    ensure_database,
    free_port,
    spawn,
    stop,
    wait_healthy,
    worker_command,
)
from emulator.braintree.subscriptions import Keys  # noqa: E402
from subsync import server  # noqa: E402

PY = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/subsync_bench"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/5"
BENCH_USERNAME, BENCH_PASSWORD = "bench-hooks", "bench-hooks-password"
PENDING = ("received", "processing")
DONE = ("processed", "stale", "ignored")


# -- the app under test ------------------------------------------------------------------------

@dataclass
class ManagedApp:
    """The web server and a Celery worker started for the run, stopped afterwards."""

    env: dict[str, str]
    web_workers: int
    web_threads: int
    worker_concurrency: int
    worker_nice: int
    log_dir: Path
    server: str = "granian"
    port: int = field(default_factory=free_port)
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def describe(self) -> str:
        nice = f", nice {self.worker_nice}" if self.worker_nice else ""
        if self.server == "granian":
            web = f"granian {self.web_workers} workers x {self.web_threads} threads"
        else:
            web = (f"gunicorn {self.web_workers} gthread workers x {self.web_threads} threads"
                   if self.web_threads > 1 else f"gunicorn {self.web_workers} sync workers")
        return f"{web}, celery {self.worker_concurrency} processes{nice}"

    def start(self, *, worker: bool = True) -> None:
        """Migrate, start the web server, and (unless `worker=False`) the Celery worker."""
        subprocess.run([PY, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=self.env,
                       check=True, capture_output=True)
        if self.server == "granian":
            web = server.command(host="127.0.0.1", port=self.port, workers=self.web_workers,
                                 threads=self.web_threads, log_level="warning")
        else:
            web = [
                PY, "-m", "gunicorn", "subsync.wsgi:application",
                "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.web_workers),
                # One thread: sync workers, served in accept order; more: gthread workers,
                # which keep connections alive but serve them less evenly.
                "--worker-class", "gthread" if self.web_threads > 1 else "sync",
                "--threads", str(self.web_threads),
                "--keep-alive", "30", "--backlog", "2048", "--log-level", "warning",
            ]
        self._spawn("web", web)
        if worker:
            self.start_worker()

    def start_worker(self) -> None:
        # A lower CPU priority lets acknowledgements win over processing on a small machine.
        self._spawn("worker", worker_command(concurrency=self.worker_concurrency,
                                             hostname=f"bench-{self.port}@%h",
                                             nice=self.worker_nice))

    def _spawn(self, name: str, cmd: list[str]) -> None:
        self.procs.append(spawn(cmd, env=self.env, log_path=self.log_dir / f"{name}.log"))

    def stop(self) -> None:
        stop(self.procs)


def wait_for_worker(*, timeout: float) -> None:
    """A Celery worker answers a ping sent through the broker."""
    from subsync.celery import app as celery_app

    celery_app.send_task("subsync.ping").get(timeout=timeout)


# -- sending -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ack:
    status: int
    outcome: str  # the app's "status": accepted / duplicate / requeued, or an error
    seconds: float
    sent_at: float = 0.0  # seconds from the start of the run (when it was due, open loop)
    connection: int = 0  # which of the client's connections sent it


def _request_bytes(delivery: Delivery, host: str) -> bytes:
    head = [f"POST {delivery.path} HTTP/1.1", f"Host: {host}",
            f"Content-Length: {len(delivery.body)}"]
    head += [f"{name}: {value}" for name, value in delivery.headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + delivery.body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    """(status, connection closes after it, body) of one HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            body += (await reader.readexactly(size + 2))[:-2]
        await reader.readuntil(b"\r\n")
    elif "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        body = await reader.read()  # until the server closes
    closes = headers.get("connection", "").lower() == "close" or lines[0].startswith("HTTP/1.0")
    return status, closes, body


def send_all(url: str, deliveries: list[Delivery], *, concurrency: int,
             rate: float | None = None) -> tuple[list[Ack], float, float]:
    """POST every delivery over `concurrency` connections, kept alive where the server allows.

    A small asyncio client writing prepared request bytes: it runs on the same machine as the
    app, so the less CPU it takes, the less it skews what is measured (http.client in threads
    took about a third of a millisecond per request). Returns the acks in delivery order, the
    elapsed seconds from the first send to the last ack, and the wall-clock time of the last ack.

    Without `rate` (closed loop) each connection sends its next delivery as soon as the last
    one is answered, so the app sets the pace and latency is measured from each send. With
    `rate` (open loop) delivery i is due at start + i / rate, as providers send whatever our
    pace; a delivery that finds every connection busy waits, and its latency is measured from
    when it was due, so a slow answer is not hidden by the sends it delayed.
    """
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    requests = [_request_bytes(d, f"{host}:{port}") for d in deliveries]
    acks: list[Ack | None] = [None] * len(deliveries)
    next_index = iter(range(len(deliveries)))
    started = 0.0

    async def connection(number: int) -> None:
        reader = writer = None
        for index in next_index:
            began = time.perf_counter()
            if rate:
                due = started + index / rate
                if due > began:
                    await asyncio.sleep(due - began)
                began = due
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                writer.write(requests[index])
                status, closes, data = await _read_response(reader)
                try:
                    outcome = json.loads(data).get("status", "")
                except ValueError:
                    outcome = data[:80].decode(errors="replace")
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                status, outcome, closes = 0, f"{type(exc).__name__}: {exc}", True
            acks[index] = Ack(status=status, outcome=outcome,
                              seconds=time.perf_counter() - began, sent_at=began - started,
                              connection=number)
            if closes and writer is not None:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    async def run() -> float:
        nonlocal started
        started = time.perf_counter()
        await asyncio.gather(*(connection(number) for number in range(concurrency)))
        return time.perf_counter() - started

    # No garbage collection while sending: a full collection of this process's heap (the
    # prepared deliveries, the growing acks) paused all connections at once, every 3 s in a
    # 20,000-delivery run, and the pause was counted as the app's latency.
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        elapsed = asyncio.run(run())
    finally:
        gc.enable()
        gc.unfreeze()
    return [a for a in acks if a is not None], elapsed, time.time()


def write_trace(path: Path, deliveries: list[Delivery], acks: list[Ack]) -> None:
    with path.open("w") as out:
        for index, (delivery, ack) in enumerate(zip(deliveries, acks, strict=True)):
            out.write(json.dumps({
                "index": index, "provider": delivery.provider, "sent_at": round(ack.sent_at, 6),
                "ms": round(ack.seconds * 1000, 3), "connection": ack.connection,
                "status": ack.status,
                "outcome": ack.outcome}) + "\n")


def connection_spread(acks: list[Ack]) -> str:
    """The lowest and highest mean latency of a client connection: far apart when the web
    server's processes took uneven shares of the keep-alive connections (measured: 12 and 20
    of 32 on two processes, 20 and 34 ms)."""
    by_connection: dict[int, list[float]] = {}
    for ack in acks:
        by_connection.setdefault(ack.connection, []).append(ack.seconds * 1000)
    means = sorted(sum(values) / len(values) for values in by_connection.values())
    if not means:
        return "n/a"
    return f"{means[0]:.1f}-{means[-1]:.1f} ms over {len(means)} connections"


def percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))
    return sorted_values[index]


# -- waiting and checking ----------------------------------------------------------------------

def wait_for_processing(*, since: datetime, expected: int, timeout: float) -> float:
    """Seconds waited until no event received since `since` is pending (or the timeout)."""
    from billing.models import WebhookEvent

    began = time.monotonic()
    while time.monotonic() - began < timeout:
        recent = WebhookEvent.objects.filter(received_at__gte=since)
        if (recent.count() >= expected
                and not recent.filter(status__in=PENDING).exists()):
            break
        time.sleep(0.2)
    return time.monotonic() - began


@dataclass
class Verdict:
    statuses: Counter
    stored: int
    missing: int
    extra_attempts: int
    multi_change_events: int
    wrong_versions: list[str]
    last_processed_at: datetime | None
    failures: list[str] = field(default_factory=list)


def verify(run: Plan, acks: list[Ack]) -> Verdict:
    """Each distinct event stored once and applied exactly once; newest versions won."""
    from django.db.models import Count, Max

    from billing.models import Subscription, WebhookEvent

    by_provider: dict[str, set[str]] = {}
    newest: dict[tuple[str, str], int] = {}
    for delivery in run.deliveries:
        by_provider.setdefault(delivery.provider, set()).add(delivery.event_id)
        if delivery.subscription_id and delivery.version is not None:
            key = (delivery.provider, delivery.subscription_id)
            newest[key] = max(newest.get(key, 0), delivery.version)
    statuses: Counter = Counter()
    stored = extra_attempts = multi_change = 0
    last_processed = None
    for provider, ids in by_provider.items():
        ordered = sorted(ids)
        for start in range(0, len(ordered), 5000):
            rows = WebhookEvent.objects.filter(provider=provider,
                                               event_id__in=ordered[start:start + 5000])
            for row in rows.values("status").annotate(n=Count("id")):
                statuses[row["status"]] += row["n"]
            stored += rows.count()
            extra_attempts += sum(max(0, a - 1) for a in rows.values_list("attempts", flat=True))
            multi_change += (rows.annotate(ledger_rows=Count("changes"))
                             .filter(ledger_rows__gt=1).count())
            latest = rows.aggregate(latest=Max("processed_at"))["latest"]
            if latest and (last_processed is None or latest > last_processed):
                last_processed = latest
    wrong = []
    for (provider, sub_id), version in newest.items():
        stored_version = Subscription.objects.filter(
            provider=provider, external_id=sub_id).values_list("source_version", flat=True)
        if list(stored_version) != [version]:
            wrong.append(f"{provider}:{sub_id}")
    verdict = Verdict(
        statuses=statuses, stored=stored, missing=run.distinct - stored,
        extra_attempts=extra_attempts, multi_change_events=multi_change,
        wrong_versions=wrong, last_processed_at=last_processed,
    )
    http_errors = Counter(a.status for a in acks if a.status != 200)
    outcomes = Counter(a.outcome for a in acks if a.status == 200)
    if http_errors:
        verdict.failures.append(f"non-200 answers: {dict(http_errors)}")
    if outcomes["accepted"] != run.distinct:
        verdict.failures.append(
            f"{outcomes['accepted']} deliveries accepted as new, expected {run.distinct}")
    if verdict.missing:
        verdict.failures.append(f"{verdict.missing} distinct events not stored")
    not_done = {s: n for s, n in statuses.items() if s not in DONE}
    if not_done:
        verdict.failures.append(f"events not applied: {not_done}")
    if extra_attempts:
        verdict.failures.append(f"{extra_attempts} extra processing attempts")
    if multi_change:
        verdict.failures.append(f"{multi_change} events wrote more than one ledger row")
    if wrong:
        verdict.failures.append(f"{len(wrong)} subscriptions not at their newest version, "
                                f"e.g. {wrong[:3]}")
    return verdict


# -- the run -----------------------------------------------------------------------------------

def generators(args: argparse.Namespace, *, run_id: str, rng: random.Random,
               start: int) -> list[tuple[float, Generator]]:
    """(share, generator) pairs. Another provider's mix is one more pair here."""
    braintree_subscriptions = max(1, round(args.subscriptions * args.braintree_share))
    pairs: list[tuple[float, Generator]] = [
        (1.0 - args.braintree_share,
         ChargebeeMix(run_id=run_id, subscriptions=args.subscriptions - braintree_subscriptions,
                      username=args.username, password=args.password, rng=rng, start=start)),
    ]
    if args.braintree_share > 0:
        pairs.append((args.braintree_share,
                      BraintreeMix(run_id=run_id, subscriptions=braintree_subscriptions,
                                   keys=braintree_keys(args), rng=rng, start=start)))
    return pairs


def braintree_keys(args: argparse.Namespace) -> Keys:
    return Keys(merchant_id=args.braintree_merchant_id, public_key=args.braintree_public_key,
                private_key=args.braintree_private_key)


def seed_braintree_plans() -> None:
    """Put the mix's plans in the app's plan cache, as a backfill or a first look-up would:
    the benchmark runs without a Braintree gateway to ask."""
    from django.utils import timezone

    from billing.models import BraintreePlan

    for plan_id, months, price in BRAINTREE_PLANS:
        BraintreePlan.objects.update_or_create(
            plan_id=plan_id, defaults={"billing_frequency": months, "currency": "USD",
                                       "price": round(float(price) * 100),
                                       "refreshed_at": timezone.now()})


def vacuum(connection) -> None:
    """Start from a vacuumed database, as a server with autovacuum on would keep it.

    This machine's PostgreSQL runs with autovacuum off, so dead rows of earlier runs pile up
    in the indexes the drain claims through, and each run would be slower than the last.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        if cursor.fetchone()[0] == "off":
            cursor.execute("VACUUM (ANALYZE)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--events", type=int, default=20_000,
                        help="deliveries to send, duplicates included (default 20000)")
    parser.add_argument("-c", "--concurrency", type=int, default=32,
                        help="concurrent keep-alive connections (default 32)")
    parser.add_argument("--rate", type=float, default=None,
                        help="open loop: offer this many deliveries per second (still at most "
                             "C at once) and measure latency from when each was due; default: "
                             "closed loop, as fast as the app answers")
    parser.add_argument("--duplicates", type=float, default=0.05,
                        help="share of deliveries that are re-sends (default 0.05)")
    parser.add_argument("--subscriptions", type=int, default=None,
                        help="distinct subscriptions (default: one per 10 events)")
    parser.add_argument("--url", help="benchmark a running app instead of starting one")
    parser.add_argument("--username", default=BENCH_USERNAME,
                        help="webhook Basic auth user (with --url: the app's)")
    parser.add_argument("--password", default=BENCH_PASSWORD,
                        help="webhook Basic auth password (with --url: the app's)")
    parser.add_argument("--braintree-share", type=float, default=0.2,
                        help="share of distinct deliveries that are Braintree notifications "
                             "(default 0.2; 0 for Chargebee only)")
    parser.add_argument("--braintree-merchant-id", default=Keys.merchant_id)
    parser.add_argument("--braintree-public-key", default=Keys.public_key,
                        help="keys the notifications are signed with (with --url: the app's)")
    parser.add_argument("--braintree-private-key", default=Keys.private_key)
    parser.add_argument("--server", choices=("granian", "gunicorn"), default="granian",
                        help="web server (default granian, the app's; gunicorn to compare)")
    parser.add_argument("--web-workers", type=int, default=2,
                        help="web server worker processes (default 2)")
    parser.add_argument("--web-threads", type=int, default=4,
                        help="threads per web worker (default 4; with gunicorn, above 1 uses "
                             "gthread workers, 1 sync workers)")
    parser.add_argument("--worker-concurrency", type=int, default=2,
                        help="Celery worker processes (default 2)")
    parser.add_argument("--worker-nice", type=int, default=0,
                        help="run the Celery worker at this lower CPU priority (default 0)")
    parser.add_argument("--defer-worker", action="store_true",
                        help="start the Celery worker only after the last ack: the web alone, "
                             "then the worker alone (as on separate machines)")
    parser.add_argument("--warmup", type=int, default=200,
                        help="deliveries sent before measuring (default 200)")
    parser.add_argument("--settle-timeout", type=float, default=300,
                        help="seconds to wait for processing to finish (default 300)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--pg-waits", action="store_true",
                        help="sample what PostgreSQL's connections wait for while sending "
                             "(every 10 ms) and print a summary")
    parser.add_argument("--trace", type=Path, default=None,
                        help="write one JSON line per delivery (when it was sent, its latency, "
                             "status, provider) to this file: slow answers that come together "
                             "point at something the whole machine waited for")
    args = parser.parse_args(argv)
    if args.url and args.defer_worker:
        parser.error("--defer-worker needs the app started by the benchmark (no --url)")
    if not 0 <= args.braintree_share < 1:
        parser.error("--braintree-share must be at least 0 and below 1")
    if args.subscriptions is None:
        args.subscriptions = max(1, args.events // 10)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    env.setdefault("CELERY_BROKER_URL", DEFAULT_BROKER_URL)
    env.setdefault("SECRET_KEY", "bench-only-secret-key-not-used-anywhere-else-0123456789")
    env.setdefault("LOG_LEVEL", "WARNING")
    env.setdefault("DJANGO_SETTINGS_MODULE", "subsync.settings")
    env.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    managed = None
    if not args.url:
        env["CHARGEBEE_WEBHOOK_USERNAME"] = args.username
        env["CHARGEBEE_WEBHOOK_PASSWORD"] = args.password
        env["BRAINTREE_MERCHANT_ID"] = args.braintree_merchant_id
        env["BRAINTREE_PUBLIC_KEY"] = args.braintree_public_key
        env["BRAINTREE_PRIVATE_KEY"] = args.braintree_private_key
        ensure_database(env["DATABASE_URL"])
        managed = ManagedApp(env=env, web_workers=args.web_workers, web_threads=args.web_threads,
                             worker_concurrency=args.worker_concurrency,
                             worker_nice=args.worker_nice, server=args.server,
                             log_dir=ROOT / "var" / "bench" / "webhooks")
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    # Stop cleanly on SIGTERM too: the finally below stops the processes we started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if managed is not None and env["CELERY_BROKER_URL"] == DEFAULT_BROKER_URL:
        # The benchmark's own broker database: tasks an interrupted run left behind would be
        # processed first and skew the figures.
        from subsync.celery import app as celery_app

        dropped = celery_app.control.purge()
        if dropped:
            print(f"dropped {dropped} tasks left in {DEFAULT_BROKER_URL} by an earlier run")

    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    run_id = f"b{seed:x}{os.getpid():x}"
    start = int(time.time()) - 86_400
    warm = plan(total=args.warmup, duplicate_share=0, rng=rng,
                generators=generators(args, run_id=run_id + "w", rng=rng, start=start))
    print(f"generating {args.events} deliveries (seed {seed}) ...", flush=True)
    run = plan(total=args.events, duplicate_share=args.duplicates, rng=rng,
               generators=generators(args, run_id=run_id, rng=rng, start=start + 100_000))
    defer = managed is not None and args.defer_worker
    worker_started: float | None = None
    try:
        if managed is not None:
            print(f"starting the app: {managed.describe()}", flush=True)
            managed.start(worker=not defer)
        url = args.url or managed.url
        wait_healthy(url, timeout=90, procs=managed.procs if managed else [],
                     log_dir=managed.log_dir if managed else None)
        if managed is not None and args.braintree_share > 0:
            seed_braintree_plans()
        if managed is not None:
            vacuum(connection)
        if not defer:
            wait_for_worker(timeout=90)
        if warm.deliveries:
            # First requests open database connections and load code: not what is measured.
            warm_since = datetime.now(UTC)
            send_all(url, warm.deliveries, concurrency=min(args.concurrency,
                                                           len(warm.deliveries)))
            if not defer:
                wait_for_processing(since=warm_since, expected=warm.distinct, timeout=60)
        connection.close()
        since = datetime.now(UTC)
        print(f"sending {len(run.deliveries)} deliveries over {args.concurrency} connections "
              "...", flush=True)
        meter = CpuMeter(app_pids=[p.pid for p in managed.procs] if managed else [],
                         database=str(connection.settings_dict["NAME"]))
        sampler = (WaitSampler(conninfo=env["DATABASE_URL"],
                               database=str(connection.settings_dict["NAME"])).start()
                   if args.pg_waits and connection.vendor == "postgresql" else None)
        speed_before = machine_speed()
        meter.start()
        acks, elapsed, last_ack_wall = send_all(url, run.deliveries,
                                                concurrency=args.concurrency, rate=args.rate)
        cpu_sending = meter.split()
        waits = sampler.stop() if sampler else None
        if args.trace:
            write_trace(args.trace, run.deliveries, acks)
        if defer:
            print("starting the worker ...", flush=True)
            worker_started = time.time()
            managed.start_worker()
            meter.app_pids.append(managed.procs[-1].pid)
        waited = wait_for_processing(since=since, expected=run.distinct,
                                     timeout=args.settle_timeout)
        cpu_total = meter.split()
        speed_after = machine_speed()
        verdict = verify(run, acks)
    finally:
        if managed is not None:
            managed.stop()
    report(args, run, acks, elapsed, last_ack_wall, waited, verdict,
           target=url if args.url else f"{url} ({managed.describe()})",
           cpu={"sending": cpu_sending, "until applied": cpu_total},
           worker_started=worker_started)
    print(f"  machine speed a fixed Python loop took {speed_before:.3f} s of CPU before the run "
          f"and {speed_after:.3f} s after (lower is faster; compare runs by it)")
    if waits is not None:
        for line in waits.lines():
            print(f"  pg waits      {line}")
    return 1 if verdict.failures else 0


def pace(args) -> str:
    if args.rate:
        return (f"open loop: {args.rate:,.0f} deliveries/s offered, latency from when each "
                "was due")
    return "closed loop: each connection sends as soon as its last delivery is answered"


def report(args, run: Plan, acks: list[Ack], elapsed: float, last_ack_wall: float,
           waited: float, verdict: Verdict, *, target: str,
           cpu: dict[str, dict[str, float]], worker_started: float | None) -> None:
    latencies = sorted(a.seconds * 1000 for a in acks)
    p50, p95, p99 = (percentile(latencies, q) for q in (0.50, 0.95, 0.99))
    throughput = len(acks) / elapsed if elapsed else float("nan")
    applied_after = (verdict.last_processed_at.timestamp() - last_ack_wall
                     if verdict.last_processed_at else float("nan"))
    if worker_started is None:
        # From the first send to the last event applied: the rate the worker kept up.
        processing_span = elapsed + applied_after
        processing_note = "from the first send to the last event applied"
    else:
        processing_span = (verdict.last_processed_at.timestamp() - worker_started
                           if verdict.last_processed_at else float("nan"))
        processing_note = "draining the backlog (worker started after the last ack)"
    processing_rate = (verdict.stored / processing_span
                       if verdict.stored and processing_span > 0 else float("nan"))
    done = ", ".join(f"{verdict.statuses[s]} {s}" for s in DONE)
    print()
    print("subsync webhook benchmark")
    print(f"  target        {target}")
    print(f"  deliveries    {len(run.deliveries)} ({run.distinct} distinct + {run.duplicates} "
          f"re-sent), {args.subscriptions} subscriptions, {args.concurrency} connections")
    print(f"  pace          {pace(args)}")
    print(f"  acknowledged  {throughput:,.0f} events/s ({len(acks)} in {elapsed:.2f} s)")
    print(f"  ack latency   p50 {p50:.1f} ms  p95 {p95:.1f} ms  p99 {p99:.1f} ms  "
          f"max {latencies[-1] if latencies else float('nan'):.1f} ms")
    print(f"  connections   mean latency per connection {connection_spread(acks)}")
    print(f"  applied       all {verdict.stored} events {applied_after:.2f} s after the last "
          f"ack ({done}); waited {waited:.1f} s")
    print(f"  processing    {processing_rate:,.0f} events/s {processing_note}")
    for phase, split in cpu.items():
        if split:
            used = "  ".join(f"{name} {seconds:.1f}" for name, seconds in sorted(
                split.items(), key=lambda pair: -pair[1]))
            print(f"  cpu seconds   {phase:<14} {used}   ({os.cpu_count()} cores)")
    if verdict.failures:
        print("  checks        FAILED")
        for failure in verdict.failures:
            print(f"                - {failure}")
    else:
        print("  checks        ok: every delivery 200, each distinct event stored once and "
              "applied exactly once, newest version won for every subscription")
    if args.json:
        print(json.dumps({
            "deliveries": len(run.deliveries), "distinct": run.distinct,
            "concurrency": args.concurrency, "rate": args.rate,
            "events_per_second": round(throughput, 1),
            "ack_ms": {"p50": round(p50, 2), "p95": round(p95, 2), "p99": round(p99, 2)},
            "applied_after_last_ack_s": round(applied_after, 3),
            "processing_events_per_second": round(processing_rate, 1),
            "statuses": dict(verdict.statuses), "failures": verdict.failures, "cpu_seconds": cpu,
        }))


if __name__ == "__main__":
    sys.exit(main())
