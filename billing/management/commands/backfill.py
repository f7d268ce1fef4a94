"""python manage.py backfill <provider> [--since DATE] [--status S ...] [--restart]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from billing import backfill
from billing.management.arguments import utc_date
from billing.providers.base import ProviderError


class Command(BaseCommand):
    help = "Import every subscription and customer of a provider (resumable)."

    def add_arguments(self, parser):
        parser.add_argument("provider", help="chargebee or braintree")
        parser.add_argument("--since", type=utc_date, help="only subscriptions updated since")
        parser.add_argument("--status", action="append", default=[],
                            help="provider status to import (repeatable); default all")
        parser.add_argument("--restart", action="store_true",
                            help="ignore the saved position and start over")

    def handle(self, *args, provider, since, status, restart, **options):
        try:
            run = backfill.get(provider)
        except KeyError:
            raise CommandError(
                f"unknown provider {provider!r}; choose one of {', '.join(backfill.providers())}"
            ) from None
        opts = backfill.BackfillOptions(since=since, statuses=tuple(status), restart=restart)
        with tqdm(unit="sub", desc=f"{provider} backfill", file=self.stderr._out,
                  dynamic_ncols=True, mininterval=0.5) as bar:
            try:
                count = run(options=opts, progress=bar)
            except ProviderError as exc:
                raise CommandError(
                    f"{provider} backfill stopped: {exc} (run it again to resume)"
                ) from exc
        self.stdout.write(self.style.SUCCESS(f"{provider}: {count} subscriptions imported"))
        search = backfill.search_counts(provider)
        if search:
            self.stdout.write(
                f"{provider}: search found {search['ids']} subscriptions in "
                f"{search['ranges']} creation-date ranges ({search['searches']} searches)")
            for capped in search.get("capped", []):
                self.stderr.write(f"{provider}: range {capped} is still at the search cap; "
                                  "subscriptions in it may be missing")
