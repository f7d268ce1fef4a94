"""Braintree backfill: every subscription in every status, resumable by subscription id.

Run as `python manage.py backfill braintree [--status "Past Due" ...] [--since DATE]
[--restart]`. It first refreshes the plan cache (one request), then walks
`api.iter_subscriptions` in ascending id order (its ids found by creation-date ranges, each
answered under Braintree's search cap; the counts are kept on the cursor as
`params["search"]`), one page at a time:

1. normalise the page's subscriptions (look-ups through the persistent DatabaseResolver,
   outside any transaction: they may call Braintree);
2. apply them and move the Cursor to the page's last id in ONE transaction, so the saved
   position never runs ahead of, or behind, what was stored.

An interrupted run (Braintree down, Ctrl-C) resumes after the last committed page. A run with
other --status/--since values than the saved one, a finished one, or --restart starts over.

Backfilled pages are applied as batches (billing.services.batch) like webhooks, versioned by the
subscription's updated_at (`source_version_for(sub)`), so a backfill never overwrites a newer
state a webhook already stored. A subscription whose data cannot be understood, or whose
payment method Braintree no longer has, is logged and skipped; any other API failure stops the
run (resume it later). Skipped ids are kept on the cursor (`params["skipped"]`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from itertools import chain, islice

import braintree
from django.db import transaction
from django.utils import timezone

from billing.backfill import BackfillOptions, Progress
from billing.models import Cursor
from billing.normalized import NormalizedSubscription
from billing.providers.base import ProviderError
from billing.providers.braintree.api import (
    ALL_STATUSES,
    PAGE_SIZE,
    SearchReport,
    iter_subscriptions,
)
from billing.providers.braintree.cache import DatabaseResolver, refresh_plans
from billing.providers.braintree.client import BraintreeNotConfigured, gateway_from_settings
from billing.providers.braintree.errors import BraintreeApiError, BraintreeEventError
from billing.providers.braintree.normalize import (
    as_utc,
    normalize_subscription,
    source_version_for,
)
from billing.services.batch import Change, apply_changes

log = logging.getLogger(__name__)

PROVIDER = "braintree"
CURSOR_NAME = "backfill:subscriptions"
MAX_SKIPPED_KEPT = 100  # ids of unreadable subscriptions kept on the cursor for a human


def _status_key(value: str) -> str:
    return "".join(ch for ch in value.lower() if ch.isalnum())


def wanted_statuses(values: Iterable[str]) -> tuple[str, ...]:
    """Braintree statuses for --status values, matched loosely ("past_due" = "Past Due")."""
    known = {_status_key(status): status for status in ALL_STATUSES}
    unknown = [value for value in values if _status_key(value) not in known]
    if unknown:
        raise ProviderError(
            f"unknown Braintree status {', '.join(map(repr, unknown))}; choose from "
            f"{', '.join(ALL_STATUSES)}", permanent=True,
        )
    return tuple(sorted({known[_status_key(value)] for value in values}))


def _pages(items: Iterator, size: int) -> Iterator[list]:
    while page := list(islice(items, size)):
        yield page


def _open_cursor(*, filters: dict, restart: bool) -> Cursor:
    """The checkpoint row, reset unless an unfinished run with the same filters can resume."""
    with transaction.atomic():
        cursor, created = Cursor.objects.select_for_update().get_or_create(
            provider=PROVIDER, name=CURSOR_NAME, defaults={"params": {"filters": filters}},
        )
        resumable = not restart and not cursor.done and cursor.params.get("filters") == filters
        if created or resumable:
            if cursor.position:
                log.info("braintree backfill resuming",
                         extra={"position": cursor.position, "count": cursor.count})
            return cursor
        cursor.position, cursor.count, cursor.done = "", 0, False
        cursor.params, cursor.started_at = {"filters": filters}, timezone.now()
        cursor.save()
    return cursor


def _selected(sub: braintree.Subscription, *, statuses: tuple[str, ...],
              options: BackfillOptions) -> bool:
    if statuses and sub.status not in statuses:
        return False
    updated_at = as_utc(getattr(sub, "updated_at", None))
    return options.since is None or updated_at is None or updated_at >= options.since


def _normalize(sub: braintree.Subscription, *, resolver: DatabaseResolver
               ) -> NormalizedSubscription | None:
    """The subscription as observed now, versioned by its updated_at; None to skip it."""
    try:
        return normalize_subscription(sub, resolver=resolver, as_of=timezone.now(),
                                      source_version=source_version_for(sub))
    except BraintreeApiError as exc:
        if exc.status != 404:  # a missing payment method or account concerns this sub only
            raise
        error = str(exc)
    except BraintreeEventError as exc:
        error = str(exc)
    # One unreadable subscription must not block the thousands behind it.
    log.warning("braintree backfill skipped a subscription",
                extra={"subscription": sub.id, "error": error})
    return None


def _import_page(page: list[braintree.Subscription], *, cursor: Cursor,
                 resolver: DatabaseResolver, statuses: tuple[str, ...],
                 options: BackfillOptions) -> int:
    """Normalise a page (may call Braintree), then apply it and move the checkpoint at once."""
    selected = [sub for sub in page if _selected(sub, statuses=statuses, options=options)]
    normalized = [(sub, _normalize(sub, resolver=resolver)) for sub in selected]
    skipped = [sub.id for sub, found in normalized if found is None]
    with transaction.atomic():
        apply_changes([
            Change(subscriptions=(subscription,),
                   occurred_at=as_utc(getattr(sub, "updated_at", None)))
            for sub, subscription in normalized if subscription is not None
        ])
        cursor.position = page[-1].id
        cursor.count += len(normalized) - len(skipped)
        if skipped:
            kept = cursor.params.get("skipped", []) + skipped
            cursor.params = {**cursor.params, "skipped": kept[-MAX_SKIPPED_KEPT:]}
        cursor.save()
    return len(normalized) - len(skipped)


def _record_search(cursor: Cursor, search: SearchReport) -> None:
    """Keep the search's counts on the cursor (`params["search"]`, printed by the command) and
    in the log; a range still at Braintree's cap may have missed subscriptions: a warning."""
    counts = search.as_dict()
    cursor.params = {**cursor.params, "search": counts}
    Cursor.objects.filter(pk=cursor.pk).update(params=cursor.params)
    log.info("braintree backfill search", extra=counts)
    if search.capped:
        log.warning("braintree backfill: creation-date ranges still at the search cap; "
                    "subscriptions in them may be missing", extra={"capped": search.capped})


def run(*, options: BackfillOptions, progress: Progress, page_size: int = PAGE_SIZE) -> int:
    """Import Braintree subscriptions; returns how many this run applied."""
    statuses = wanted_statuses(options.statuses)
    try:
        gateway = gateway_from_settings()
    except BraintreeNotConfigured as exc:
        raise ProviderError(str(exc), permanent=True) from exc
    filters = {"statuses": list(statuses),
               "since": options.since.isoformat() if options.since else None}
    cursor = _open_cursor(filters=filters, restart=options.restart)
    resolver = DatabaseResolver(gateway=lambda: gateway)
    imported = 0
    try:
        refresh_plans(gateway=gateway)
        search = SearchReport()
        subscriptions = iter_subscriptions(gateway, after=cursor.position or None,
                                           page_size=page_size, report=search)
        first = next(subscriptions, None)  # runs the search
        _record_search(cursor, search)
        pending = subscriptions if first is None else chain([first], subscriptions)
        for page in _pages(pending, page_size):
            imported += _import_page(page, cursor=cursor, resolver=resolver,
                                     statuses=statuses, options=options)
            progress.update(len(page))
    except BraintreeApiError as exc:
        raise ProviderError(str(exc), permanent=exc.permanent) from exc
    Cursor.objects.filter(pk=cursor.pk).update(done=True, updated_at=timezone.now())
    return imported
