"""python manage.py reconcile_braintree [--max-held N | --all]

Runs now what beat runs every half hour (billing.tasks.reconcile_braintree_subscriptions):
compares Braintree's subscriptions with the stored ones and applies what differs, recorded
with source `reconcile`. --all compares every held subscription in one run, e.g. after an
outage longer than Braintree's 24 hours of webhook retries.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from billing.providers.base import ProviderError
from billing.providers.braintree.client import configuration_problem
from billing.services import braintree_recovery


class Command(BaseCommand):
    help = "Find Braintree subscription changes no notification told us, and apply them."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--max-held", type=int, default=braintree_recovery.DEFAULT_MAX_HELD,
                           help="held subscriptions to compare in this run (default "
                                f"{braintree_recovery.DEFAULT_MAX_HELD}; the next run goes on "
                                "from there)")
        group.add_argument("--all", action="store_true", dest="everything",
                           help="compare every held subscription that can still change")

    def handle(self, *args, max_held, everything, **options):
        problem = configuration_problem()
        if problem is not None:
            raise CommandError(str(problem))
        if max_held < 1:
            raise CommandError("--max-held must be at least 1")
        try:
            result = braintree_recovery.reconcile_braintree_subscriptions(
                max_held=None if everything else max_held)
        except ProviderError as exc:
            raise CommandError(f"braintree reconcile stopped: {exc} (what was applied stays; "
                               "run it again)") from exc
        self.stdout.write(
            f"compared {result.fetched} subscription(s) ({result.new_ids} created since "
            f"{result.created_since:%Y-%m-%d %H:%M} UTC, {result.held_ids} held): "
            f"{result.unchanged} unchanged, {result.newer_here} newer here, "
            f"{result.not_found} not found, {result.errors} unreadable")
        self.stdout.write(self.style.SUCCESS(
            f"braintree: {result.applied} of {result.differing} differing subscription(s) "
            "applied"))
