"""python manage.py replay_events [--provider P] [--status S ...] [--since DATE] [--id ID ...]
[--dry-run] [--sync]

Processes stored events again (see billing.services.replay): by default the failed ones, reset
to `received` and handed to the worker; `--sync` processes them here and prints each outcome.
`rejected` events are replayed only when named with --id.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from billing.management.arguments import utc_date
from billing.models import ProviderChoices, WebhookEvent
from billing.services import replay

CHUNK = 500


class Command(BaseCommand):
    help = "Process stored webhook events again (default: the failed ones)."

    def add_arguments(self, parser):
        parser.add_argument("--provider", choices=ProviderChoices.values)
        parser.add_argument("--status", action="append", default=[],
                            choices=WebhookEvent.State.values,
                            help="status to replay (repeatable); default failed, or any status "
                                 "with --id")
        parser.add_argument("--since", type=utc_date, help="only events received since this date")
        parser.add_argument("--id", dest="event_ids", action="append", default=[],
                            metavar="EVENT_ID", help="the provider's event id (repeatable)")
        parser.add_argument("--dry-run", action="store_true",
                            help="list the events that would be replayed, change nothing")
        parser.add_argument("--sync", action="store_true",
                            help="process inline and print each outcome instead of enqueuing")

    def handle(self, *args, provider, status, since, event_ids, dry_run, sync, **options):
        try:
            selected = replay.select_for_replay(provider=provider, statuses=status, since=since,
                                                event_ids=event_ids)
        except replay.ReplayError as exc:
            raise CommandError(str(exc)) from exc
        # Ids first: replaying changes the very status the selection filters on.
        pks = list(selected.values_list("pk", flat=True))
        found: set[str] = set()
        for start in range(0, len(pks), CHUNK):
            chunk = pks[start:start + CHUNK]
            rows = WebhookEvent.objects.in_bulk(chunk)
            for pk in chunk:
                event = rows[pk]
                found.add(event.event_id)
                self._replay(event, dry_run=dry_run, sync=sync)
        for event_id in sorted(set(event_ids) - found):
            self.stderr.write(f"no stored event {event_id!r} matches")
        count = len(pks)
        verb = "would replay" if dry_run else ("replayed" if sync else "enqueued")
        self.stdout.write(self.style.SUCCESS(f"{verb} {count} event(s)"))

    def _replay(self, event: WebhookEvent, *, dry_run: bool, sync: bool) -> None:
        label = f"{event.provider} {event.event_id} ({event.event_type or 'no type'})"
        if dry_run:
            self.stdout.write(f"would replay {label}: {event.status}")
            return
        outcome = replay.replay_event(event=event, inline=sync)
        line = f"{label}: {outcome.previous_status} -> {outcome.status}"
        if outcome.error:
            line += f" ({outcome.error})"
        self.stdout.write(line)
