"""python manage.py prune_events [--days N] [--dry-run]

Deletes done webhook events (processed, ignored, stale) received more than N days ago (default
SUBSYNC_EVENT_RETENTION_DAYS), as the nightly beat task does but without its time budget: for
a first clean-up of a large table, or with --dry-run to see what the retention would remove.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing.services import retention


class Command(BaseCommand):
    help = "Delete done webhook events older than the retention (see --days)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None,
                            help="retention in days (default SUBSYNC_EVENT_RETENTION_DAYS; "
                                 f"at least {retention.MIN_RETENTION_DAYS})")
        parser.add_argument("--dry-run", action="store_true",
                            help="count what would be deleted, delete nothing")

    def handle(self, *args, days, dry_run, **options):
        days = settings.SUBSYNC_EVENT_RETENTION_DAYS if days is None else days
        if not days:
            raise CommandError("SUBSYNC_EVENT_RETENTION_DAYS is 0 (keep every event): "
                               "give --days to prune anyway")
        try:
            cutoff = retention.retention_cutoff(days=days)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if dry_run:
            count = retention.prunable_events(cutoff=cutoff).count()
            self.stdout.write(f"would delete {count} event(s) received before "
                              f"{cutoff:%Y-%m-%d %H:%M} UTC")
            return
        result = retention.prune_events(cutoff=cutoff)
        self.stdout.write(self.style.SUCCESS(
            f"deleted {result.deleted} event(s) received before {cutoff:%Y-%m-%d %H:%M} UTC"))
