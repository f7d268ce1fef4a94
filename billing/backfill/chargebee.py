"""Chargebee backfill: every subscription, with its customer, through the list API.

Why it is built this way:

* Each page is applied as one batch (`billing.services.batch`), the webhook path, so the
  same ordering rule holds: a snapshot older than the stored `resource_version` changes
  nothing. A backfill running while webhooks arrive never overwrites newer state, and running
  it twice is harmless.
* One transaction per page of 100, and the Cursor checkpoint (`next_offset`) is written inside
  that same transaction: a page and its checkpoint commit together, so an interrupted run
  resumes right after the last committed page and no subscription is skipped or applied twice.
* Chargebee's offsets only mean something for the query that produced them, so a saved position
  is reused only with the same filters; different filters, `--restart` or a finished run start
  over from the first page.
* ChargebeeApi already waits out short `Retry-After`s in place. A longer one (or a 429 that
  persists) comes back as `ChargebeeApiError(retry_after=...)`: we sleep it here, capped, and
  ask for the same page again a few times before stopping with a ProviderError that the command
  turns into "run it again to resume".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing.backfill import BackfillOptions, Progress
from billing.models import Cursor
from billing.providers.base import ProviderError
from billing.providers.chargebee.api import ChargebeeApi, ChargebeeApiError, Page
from billing.providers.chargebee.client import api_from_settings
from billing.providers.chargebee.coupons import CachedCoupons
from billing.providers.chargebee.errors import ChargebeeEventError
from billing.providers.chargebee.parse import parse_subscription
from billing.services.batch import Change, apply_changes

log = logging.getLogger(__name__)

PROVIDER = "chargebee"
CURSOR_NAME = "backfill:subscriptions"
PAGE_SIZE = 100
# How often one page is asked for while Chargebee keeps answering 429, and the longest wait.
RATE_LIMIT_ATTEMPTS = 4
MAX_RETRY_AFTER_SECONDS = 120.0
# Ids of unreadable subscriptions kept on the cursor for a human to look at.
MAX_SKIPPED_KEPT = 100


def run(
    *, options: BackfillOptions, progress: Progress, api: ChargebeeApi | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Import every Chargebee subscription matching `options`; return how many were read.

    Resumes from the saved position when the previous run with the same filters stopped early.
    """
    api = api or api_from_settings()
    cursor = _open_cursor(filters=_filters(options), restart=options.restart)
    offset = cursor.position or None
    handled = 0
    coupons = CachedCoupons(api=lambda: api)  # Catalog 1.0 coupons, valued when no `mrr`
    while True:
        page = _fetch_page(api, offset=offset, options=options, sleep=sleep)
        try:
            handled += _apply_page(page, cursor=cursor, coupons=coupons)
        except ChargebeeApiError as exc:  # a coupon look-up: stop here, resume later
            raise ProviderError(exc.message, permanent=exc.permanent,
                                retry_after=exc.retry_after) from exc
        progress.update(len(page.items))
        if not page.next_offset:
            break
        offset = page.next_offset
    log.info("chargebee backfill finished",
             extra={"subscriptions": cursor.count, "this_run": handled})
    return handled


def _filters(options: BackfillOptions) -> dict[str, Any]:
    since = options.since
    return {
        "since": int(since.timestamp()) if since is not None else None,
        "statuses": sorted(set(options.statuses)),
    }


def _open_cursor(*, filters: dict[str, Any], restart: bool) -> Cursor:
    """The checkpoint row, reset unless an unfinished run with the same filters can resume."""
    with transaction.atomic():
        cursor, created = Cursor.objects.select_for_update().get_or_create(
            provider=PROVIDER, name=CURSOR_NAME, defaults={"params": {"filters": filters}},
        )
        if created:
            return cursor
        resumable = (
            not restart and not cursor.done and bool(cursor.position)
            and cursor.params.get("filters") == filters
        )
        if resumable:
            log.info("chargebee backfill resuming",
                     extra={"position": cursor.position, "count": cursor.count})
            return cursor
        if cursor.position and not cursor.done and not restart:
            log.warning("chargebee backfill: the saved position was for other filters; "
                        "starting over", extra={"saved": cursor.params.get("filters")})
        cursor.position, cursor.count, cursor.done = "", 0, False
        cursor.params = {"filters": filters}
        cursor.started_at = timezone.now()
        cursor.save()
    return cursor


def _fetch_page(
    api: ChargebeeApi, *, offset: str | None, options: BackfillOptions,
    sleep: Callable[[float], None],
) -> Page:
    for attempt in range(1, RATE_LIMIT_ATTEMPTS + 1):
        try:
            return api.list_subscriptions_page(
                offset=offset, limit=PAGE_SIZE, statuses=options.statuses or None,
                updated_after=options.since,
            )
        except ChargebeeApiError as exc:
            if exc.permanent or exc.retry_after is None or attempt == RATE_LIMIT_ATTEMPTS:
                raise ProviderError(exc.message, permanent=exc.permanent,
                                    retry_after=exc.retry_after) from exc
            wait = min(max(exc.retry_after, 0.0), MAX_RETRY_AFTER_SECONDS)
            log.info("chargebee backfill rate limited; waiting",
                     extra={"seconds": wait, "attempt": attempt})
            sleep(wait)
    raise AssertionError("unreachable")  # the loop returns or raises


def _apply_page(page: Page, *, cursor: Cursor, coupons: CachedCoupons | None = None) -> int:
    """Apply one page and move the checkpoint past it, all in one transaction."""
    changes: list[Change] = []
    skipped: list[str] = []
    for item in page.items:
        raw = item["subscription"]
        try:
            normalized = parse_subscription(subscription=raw, customer=item.get("customer"),
                                            coupons=coupons)
        except ChargebeeEventError as exc:
            # One unreadable subscription must not block the thousands behind it.
            log.warning("chargebee backfill skipped a subscription",
                        extra={"subscription": raw.get("id"), "error": str(exc)})
            skipped.append(str(raw.get("id")))
            continue
        changes.append(Change(subscriptions=(normalized,), occurred_at=_updated_at(raw)))
    handled = len(changes)
    with transaction.atomic():
        apply_changes(changes)
        cursor.position = page.next_offset or ""
        cursor.done = page.next_offset is None
        cursor.count += handled
        if skipped:
            kept = cursor.params.get("skipped", []) + skipped
            cursor.params = {**cursor.params, "skipped": kept[-MAX_SKIPPED_KEPT:]}
        cursor.save()
    return handled


def _updated_at(raw: Mapping[str, Any]) -> datetime | None:
    """When Chargebee last changed the subscription: the time of any ledger row we write."""
    value = raw.get("updated_at")
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    return None

