"""`python manage.py seed_demo [--subscriptions N] [--seed S] [--force]`: load demo data.

Thin: billing.demo.seed plays the history through the event pipeline; this prints what it did.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from billing.demo.seed import DEFAULT_SEED, DEFAULT_SUBSCRIPTIONS, DemoRefused, seed_demo


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name or '-'} {n}" for name, n in sorted(counts.items())) or "none"


class Command(BaseCommand):
    help = ("Load a two-year demo history (Chargebee and Braintree, several currencies) by "
            "sending provider events through the normal processing pipeline. Refuses to run "
            "on a database that already holds subscriptions unless --force.")

    def add_arguments(self, parser):
        parser.add_argument("--subscriptions", type=int, default=DEFAULT_SUBSCRIPTIONS,
                            help=f"how many subscriptions to create (default "
                                 f"{DEFAULT_SUBSCRIPTIONS})")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                            help=f"random seed: the same seed gives the same history "
                                 f"(default {DEFAULT_SEED})")
        parser.add_argument("--force", action="store_true",
                            help="load demo data even though the database holds "
                                 "subscriptions (e.g. a second demo)")

    def handle(self, *args, subscriptions: int, seed: int, force: bool, **options):
        if subscriptions < 1:
            raise CommandError("--subscriptions must be at least 1")
        try:
            summary = seed_demo(subscriptions=subscriptions, seed=seed, force=force)
        except DemoRefused as exc:
            raise CommandError(f"seed_demo refused: {exc}") from exc
        events = sum(summary.events.values())
        self.stdout.write(f"demo data loaded (seed {seed}, run {summary.run})")
        self.stdout.write(f"  customers:     {sum(summary.customers.values())} "
                          f"({_counts(summary.customers)}; by currency "
                          f"{_counts(summary.customers_by_currency)})")
        self.stdout.write(f"  subscriptions: {sum(summary.subscriptions_by_status.values())} "
                          f"({_counts(summary.subscriptions_by_status)})")
        self.stdout.write(f"  events stored: {events} ({_counts(summary.events)}); "
                          f"processing: {_counts(summary.events_by_status)}")
        self.stdout.write(f"  ledger rows:   {summary.ledger_rows}")
        if summary.exchange_rates is None or summary.rates_skipped:
            self.stdout.write(f"  exchange rates: none written ({summary.rates_skipped})")
        else:
            self.stdout.write(f"  exchange rates: {summary.exchange_rates} written")
        failed = summary.events_by_status.get("failed", 0)
        if failed:
            self.stderr.write(f"{failed} demo events failed to process: see the webhook "
                              "event log for their errors")
