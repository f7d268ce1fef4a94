"""Fault campaign: the real processes under a steady webhook load while faults are injected.

    .venv/bin/python bench/faults.py                 # every fault, one after another, then all
    .venv/bin/python bench/faults.py --profile quick # short outages (what the test runs)
    .venv/bin/python bench/faults.py --only redis --only postgres

It starts a PostgreSQL and a Redis of its own (bench.private_services: it stops and restarts
them, so never the machine's shared ones), the Salesforce emulator as a process, and the app
as bench/webhooks.py starts it (granian, a Celery worker) plus Celery beat. A provider-like
load (bench.provider_load: Chargebee and Braintree deliveries from bench.mix plans, re-sends
and disorder included; whatever is not answered 2xx is sent again) runs before, during and a
little after each fault. Once the fault has ended, nobody acts: the campaign only watches
(bench.fault_checks) until every event sent is applied exactly once, each subscription holds
its newest version, no event or sync row is open, and the emulator holds one Account and one
Contract per external id with billing's current values; the time from the end of the fault
to that point is its time to converge. Exit status 1 when a phase did not converge by
--deadline or lost or duplicated anything.

The app runs on its default settings: leases, time limits and the Salesforce backoff (rows
that an outage held back come due as soon as Salesforce answers again).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.braintree_mix import BraintreeMix  # noqa: E402
from bench.chargebee_mix import ChargebeeMix  # noqa: E402
from bench.fault_checks import State, applied_count, read_state  # noqa: E402
from bench.mix import plan  # noqa: E402
from bench.private_services import PrivatePostgres, PrivateRedis  # noqa: E402
from bench.processes import spawn, stop, wait_healthy  # noqa: E402
from bench.provider_load import ProviderLoad  # noqa: E402
from bench.sync import Emulator  # noqa: E402
from bench.webhooks import (  # noqa: E402
    BENCH_PASSWORD,
    BENCH_USERNAME,
    ManagedApp,
    seed_braintree_plans,
    wait_for_worker,
)
from emulator.braintree.subscriptions import Keys  # noqa: E402

PY = sys.executable
# Salesforce's faults, through the emulator's control API. The latency is beyond the client's
# 30 s timeout (crm.salesforce.config), so the call times out.
SALESFORCE_FAULTS = [
    {"kind": "server_error", "count": 2, "status": 503},
    {"kind": "server_error", "count": 1, "status": 500},
    {"kind": "latency", "count": 1, "seconds": 35},
    {"kind": "unable_to_lock_row", "count": 2},
    {"kind": "invalid_session", "count": 2},
    {"kind": "request_limit", "count": 1},
]


@dataclass(frozen=True)
class Profile:
    rate: float  # deliveries per second
    before: float  # seconds of load before the fault
    after: float  # seconds of load after it ended
    redis_down: float
    postgres_down: float
    beat_off: float
    together_beat_off: float  # beat's outage in the all-together phase


PROFILES = {
    "full": Profile(rate=10, before=15, after=10, redis_down=30, postgres_down=10,
                    beat_off=600, together_beat_off=120),
    "quick": Profile(rate=5, before=5, after=5, redis_down=10, postgres_down=5,
                     beat_off=90, together_beat_off=40),
}


@dataclass
class Row:
    fault: str
    sent: int  # deliveries sent (re-sends of the plan included, provider retries not)
    distinct: int
    acknowledged: int
    applied: int
    lost: int
    sf_duplicates: int
    converge_seconds: float | None  # None: not converged by the deadline
    answers: dict
    note: str = ""


class Campaign:
    """The private servers, the emulator and the app's processes, and the faults on them."""

    def __init__(self, *, profile: Profile, log_dir: Path, seed: int) -> None:
        self.profile, self.log_dir = profile, log_dir
        self.rng = random.Random(seed)
        self.run_id = f"f{seed:x}"
        self.pg = PrivatePostgres(log_dir=log_dir)
        self.redis = PrivateRedis(log_dir=log_dir)
        self.emulator: Emulator | None = None
        self.app: ManagedApp | None = None
        self.worker: subprocess.Popen | None = None
        self.beat: subprocess.Popen | None = None
        self.load: ProviderLoad | None = None
        self.phases = 0

    # the processes ------------------------------------------------------------------------

    def start(self) -> None:
        (self.log_dir / "var").mkdir(parents=True, exist_ok=True)
        self.pg.start()
        self.pg.create_database("subsync_faults")
        self.redis.start()
        self.emulator = Emulator(daily_limit=100_000_000, cert_dir=self.log_dir / "sf-emulator")
        keys = Keys()
        env = {**os.environ,
               "DATABASE_URL": self.pg.url("subsync_faults"),
               "CELERY_BROKER_URL": self.redis.url(0),
               "SUBSYNC_VAR_DIR": str(self.log_dir / "var"),
               "SECRET_KEY": "fault-campaign-only-secret-key-0123456789-abcdefghijklmnop",
               "LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "subsync.settings",
               "ALLOWED_HOSTS": "127.0.0.1,localhost", "DEBUG": "false",
               "CHARGEBEE_WEBHOOK_USERNAME": BENCH_USERNAME,
               "CHARGEBEE_WEBHOOK_PASSWORD": BENCH_PASSWORD,
               "BRAINTREE_MERCHANT_ID": keys.merchant_id,
               "BRAINTREE_PUBLIC_KEY": keys.public_key,
               "BRAINTREE_PRIVATE_KEY": keys.private_key,
               "SALESFORCE_LOGIN_URL": self.emulator.url,
               "SALESFORCE_AUTH_FLOW": "client_credentials",
               "SALESFORCE_CLIENT_ID": "emulator", "SALESFORCE_CLIENT_SECRET": "emulator",
               "SALESFORCE_CA_BUNDLE": self.emulator.ca_path}
        for name in ("CACHE_URL", "CELERY_RESULT_BACKEND", "CACHE_KEY_PREFIX"):
            env.pop(name, None)
        self.env = env
        os.environ.update(env)
        import django

        django.setup()
        self.app = ManagedApp(env=env, web_workers=2, web_threads=4, worker_concurrency=2,
                              worker_nice=0, log_dir=self.log_dir)
        self.app.start(worker=False)
        self.start_worker()
        self.start_beat()
        wait_healthy(self.app.url, timeout=120, procs=self.app.procs, log_dir=self.log_dir)
        seed_braintree_plans()
        wait_for_worker(timeout=120)
        self.load = ProviderLoad(self.app.url)

    def start_worker(self) -> None:
        self.app.start_worker()
        self.worker = self.app.procs[-1]

    def kill_worker(self) -> None:
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait()
        self.app.procs.remove(self.worker)

    def start_beat(self) -> None:
        cmd = [PY, "-m", "celery", "-A", "subsync", "beat", "--loglevel", "WARNING"]
        self.beat = spawn(cmd, env=self.env, log_path=self.log_dir / "beat.log")

    def stop_beat(self) -> None:
        stop([self.beat])

    def close(self) -> None:
        if self.load is not None:
            self.load.close()
        procs = [p for p in [*(self.app.procs if self.app else []), self.beat] if p]
        stop(procs)
        if self.emulator is not None:
            self.emulator.stop()
        self.redis.destroy()
        self.pg.destroy()

    # the faults (each returns once the fault has ended) -----------------------------------

    def worker_killed(self) -> None:
        """SIGKILL the worker while it holds events or Salesforce rows, then start a new one.
        A slow org (3 s per call) keeps a push in flight when the kill comes."""
        from django.db import connection
        from django.utils import timezone

        from billing.models import WebhookEvent
        from crm.models import ContractSync

        self.emulator.control("faults", "POST", {"kind": "latency", "seconds": 3, "count": 3})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            events = WebhookEvent.objects.filter(status="processing").exists()
            pushes = ContractSync.objects.filter(claimed_until__gt=timezone.now()).exists()
            if events and pushes:
                break
            time.sleep(0.05)
        connection.close()
        self.kill_worker()
        time.sleep(2)
        self.start_worker()

    def redis_stopped(self, seconds: float | None = None) -> None:
        self.redis.stop()
        time.sleep(seconds or self.profile.redis_down)
        self.redis.start()

    def postgres_restarted(self) -> None:
        from django.db import connection

        connection.close()
        self.pg.stop()
        time.sleep(self.profile.postgres_down)
        self.pg.start()

    def salesforce_faults(self) -> None:
        """Queue the faults; they end when the app has run into every one of them."""
        self.emulator.control("faults", "POST", SALESFORCE_FAULTS)
        deadline = time.monotonic() + 600
        while self.emulator.control("faults")["faults"] and time.monotonic() < deadline:
            time.sleep(0.5)

    def beat_stopped(self, seconds: float | None = None) -> None:
        self.stop_beat()
        time.sleep(seconds or self.profile.beat_off)
        self.start_beat()

    def all_together(self) -> None:
        """Beat stopped, Salesforce faults queued, the worker killed, Redis stopped and,
        during Redis's outage, PostgreSQL restarted; then back in that order."""
        began = time.monotonic()
        self.stop_beat()
        self.emulator.control("faults", "POST", SALESFORCE_FAULTS)
        self.kill_worker()
        self.redis.stop()
        self.postgres_restarted()
        time.sleep(max(0.0, self.profile.redis_down - (time.monotonic() - began)))
        self.redis.start()
        self.start_worker()
        time.sleep(max(0.0, self.profile.together_beat_off - (time.monotonic() - began)))
        self.start_beat()

    # a phase --------------------------------------------------------------------------------

    def phase(self, name: str, fault: Callable[[], None], *, deadline: float) -> Row:
        """Load before, during and after `fault`; then watch until converged."""
        from django.db import connection

        profile = self.profile
        self.phases += 1
        count = int(profile.rate * (profile.before + profile.after + 700)) + 10
        start = int(time.time()) - 86_400 + self.phases * 1_000_000
        run_id = f"{self.run_id}p{self.phases}"
        generators = [
            (0.7, ChargebeeMix(run_id=run_id, subscriptions=max(10, count // 8),
                               username=BENCH_USERNAME, password=BENCH_PASSWORD,
                               rng=self.rng, start=start)),
            (0.3, BraintreeMix(run_id=run_id, subscriptions=max(5, count // 16), keys=Keys(),
                               rng=self.rng, start=start)),
        ]
        deliveries = plan(total=count, generators=generators, duplicate_share=0.1,
                          rng=self.rng, disorder=20).deliveries
        first_sent = len(self.load.sent)
        print(f"[{name}] load at {profile.rate:g}/s ...", flush=True)
        self.load.feed(deliveries, rate=profile.rate)
        time.sleep(profile.before)
        print(f"[{name}] fault ...", flush=True)
        fault()
        ended = time.monotonic()
        connection.close()
        print(f"[{name}] fault ended; load for {profile.after:g} s more", flush=True)
        time.sleep(profile.after)
        self.load.stop_feeding()
        state, converged_at = self._watch(until=ended + deadline)
        sent = self.load.sent[first_sent:]
        distinct = {(d.provider, d.event_id) for d in sent}
        applied = applied_count(sent)
        row = Row(fault=name, sent=len(sent), distinct=len(distinct),
                  acknowledged=len(distinct & self.load.acked), applied=applied,
                  lost=len(distinct) - applied, sf_duplicates=state.sf_duplicates,
                  converge_seconds=None if converged_at is None else converged_at - ended,
                  answers=dict(self.load.answers),
                  note="" if converged_at is not None else state.summary())
        self.load.answers.clear()
        print(f"[{name}] {state.summary()}", flush=True)
        return row

    def _watch(self, *, until: float) -> tuple[State, float | None]:
        from django.db import connection

        state = None
        while True:
            if self.load.pending() == 0:
                try:
                    state = read_state(self.load.sent, self.emulator)
                except Exception as exc:  # a database between restarts: look again
                    print(f"  (check failed: {type(exc).__name__}: {exc})", flush=True)
                    connection.close()
                else:
                    if state.converged:
                        return state, time.monotonic()
            if time.monotonic() > until:
                if state is None:
                    state = read_state(self.load.sent, self.emulator)
                return state, None
            time.sleep(1.0)


PHASES = {
    "worker": ("worker SIGKILLed mid-batch, restarted", "worker_killed"),
    "redis": ("Redis stopped {redis_down:g} s, restarted empty", "redis_stopped"),
    "postgres": ("PostgreSQL restarted ({postgres_down:g} s down)", "postgres_restarted"),
    "salesforce": ("Salesforce 5xx, timeout, lock, session, limit", "salesforce_faults"),
    "beat": ("beat not running for {beat_off:g} s", "beat_stopped"),
    "together": ("all of them at once (beat off {together_beat_off:g} s)", "all_together"),
}


def print_table(rows: list[Row], *, profile: str) -> None:
    print()
    print(f"fault campaign ({profile} profile); app settings: the defaults")
    header = (f"| {'fault':<48} | {'sent':>5} | {'distinct':>8} | {'acked':>5} | "
              f"{'applied':>7} | {'lost':>4} | {'SF dup':>6} | {'converged after':>15} |")
    print(header)
    print("|" + "|".join("-" * (len(part)) for part in header.split("|")[1:-1]) + "|")
    for row in rows:
        converged = (f"{row.converge_seconds:.0f} s" if row.converge_seconds is not None
                     else "NOT converged")
        print(f"| {row.fault:<48} | {row.sent:>5} | {row.distinct:>8} | "
              f"{row.acknowledged:>5} | {row.applied:>7} | {row.lost:>4} | "
              f"{row.sf_duplicates:>6} | {converged:>15} |")
    for row in rows:
        errors = {k: v for k, v in row.answers.items() if not 200 <= int(k) < 300}
        if errors or row.note:
            print(f"  {row.fault}: non-2xx answers {errors} (0: no answer); {row.note}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full",
                        help="outage lengths and load (default full: Redis 30 s, beat 600 s)")
    parser.add_argument("--only", action="append", choices=list(PHASES),
                        help="run these phases only (repeatable; default all, in order)")
    parser.add_argument("--beat-off", type=float, default=None,
                        help="seconds beat stays stopped in its own phase (default: profile)")
    parser.add_argument("--deadline", type=float, default=600,
                        help="seconds after a fault ends before it counts as not converged")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> list[Row]:
    profile = PROFILES[args.profile]
    if args.beat_off is not None:
        profile = Profile(**{**asdict(profile), "beat_off": args.beat_off})
    log_dir = Path(tempfile.mkdtemp(prefix="subsync-faults-"))
    seed = args.seed if args.seed is not None else int(time.time())
    print(f"logs in {log_dir} (seed {seed})", flush=True)
    campaign = Campaign(profile=profile, log_dir=log_dir, seed=seed)
    rows = []
    # Stop cleanly on SIGTERM too: the finally below stops what was started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        campaign.start()
        for key in args.only or list(PHASES):
            label, method = PHASES[key]
            rows.append(campaign.phase(label.format(**asdict(profile)),
                                       getattr(campaign, method), deadline=args.deadline))
    finally:
        campaign.close()
    print_table(rows, profile=args.profile)
    if args.json:
        print(json.dumps([asdict(row) for row in rows]))
    return rows


def main(argv: list[str] | None = None) -> int:
    rows = run(parse_args(argv))
    failed = [r for r in rows if r.lost or r.sf_duplicates or r.converge_seconds is None]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
