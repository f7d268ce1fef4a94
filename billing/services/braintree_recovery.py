"""Missed-notification recovery for Braintree: compare its subscriptions with ours, apply the
differences.

Braintree retries a webhook for 24 hours and offers no list of past notifications, so one lost
past that (an outage, a bad deploy, a wrong URL in the Control Panel) would be lost for good.
Chargebee's counterpart polls its event list (billing.services.polling); here beat runs this
instead, every half hour. Each run:

1. searches the subscriptions created since the previous run began (less an hour of overlap;
   the first run looks back LOOKBACK), in every status: the ones we may never have heard of.
   Braintree caps the ids one search answers with, so the search is split by creation date
   until every range is under the cap (billing.providers.braintree.api.ids_by_creation_date);
   a range that cannot be split further is kept in `capped`;
2. takes the next `max_held` subscriptions we hold in a status that can still change (in id
   order, after the position on the Cursor; at the end it wraps round), so that every held
   subscription is compared again every few runs however many there are;
3. fetches those from Braintree a page at a time, normalises them as the backfill does
   (versioned by `updated_at`), and compares each with the stored row. Equal ones are left
   alone: no write, no ledger row, no Salesforce push. One that differs, or that we lack, is
   applied through the webhook upsert (billing.services.batch), together with a WebhookEvent
   of source `reconcile` (already `processed`) that its ledger row points at, so the dashboard
   and the ledger say where the change came from.

Ordering: a searched subscription carries no notification timestamp, so its version is its
`updated_at` (as in the backfill), while a webhook stores max(timestamp, updated_at). A state
we hold from a webhook is therefore never older than the same state searched, and a stored
version newer than the searched one (a webhook that arrived meanwhile) is left as it is.

What each run found is kept on the Cursor (`params["last_run"]`) for the dashboard; `count`
adds up what was applied over all runs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import braintree
from django.db import transaction
from django.utils import timezone

from billing.models import Cursor, Subscription, WebhookEvent
from billing.normalized import NormalizedSubscription, Status
from billing.providers.base import ProviderError
from billing.providers.braintree.api import (
    PAGE_SIZE,
    SearchReport,
    fetch_by_ids,
    ids_by_creation_date,
)
from billing.providers.braintree.cache import DatabaseResolver
from billing.providers.braintree.client import configuration_problem, gateway_from_settings
from billing.providers.braintree.errors import BraintreeApiError, BraintreeEventError
from billing.providers.braintree.normalize import (
    as_utc,
    normalize_subscription,
    source_version_for,
    to_ms,
)
from billing.services import subscriptions as subscription_rows
from billing.services.batch import Change, apply_changes
from billing.services.customers import is_stale

log = logging.getLogger(__name__)

PROVIDER = "braintree"
CURSOR_NAME = "reconcile:subscriptions"
EVENT_TYPE = "subscription_reconciled"
# Braintree retries a notification for 24 hours: a first run looks back twice that.
LOOKBACK = timedelta(hours=48)
# Runs overlap by this much, so a subscription created while the previous run searched is
# not missed (seeing one twice costs a comparison).
OVERLAP = timedelta(hours=1)
# Held subscriptions compared per run: 40 pages, two requests each, well inside the task's
# time limit; at one run every 30 minutes, about 96,000 a day.
DEFAULT_MAX_HELD = 2000
# Statuses in which a stored subscription can still change without our hearing of a new one.
OPEN_STATUSES = tuple(s.value for s in (Status.FUTURE, Status.TRIAL, Status.ACTIVE,
                                        Status.PAST_DUE, Status.NON_RENEWING))
# Compared with the stored row: everything copied from the subscription but the snapshot and
# the ordering version themselves.
COMPARED = tuple(name for name in subscription_rows.COPIED if name not in ("raw",
                                                                           "source_version"))


@dataclass
class ReconcileResult:
    """What one run did. `skipped` means Braintree's API keys are not configured."""

    created_since: datetime | None = None
    new_ids: int = 0  # created since `created_since`, per Braintree's search
    held_ids: int = 0  # held subscriptions taken this run
    fetched: int = 0
    not_found: int = 0  # asked for, not returned by Braintree
    unchanged: int = 0
    newer_here: int = 0  # what we hold is newer than what Braintree answered
    differing: int = 0
    applied: int = 0
    errors: int = 0  # subscriptions that could not be understood (logged, skipped)
    wrapped: bool = False  # the held rotation reached the end and starts over next run
    # Creation-date ranges still at Braintree's search cap after splitting down to a second:
    # subscriptions created then may be missing from new_ids (said, never silent).
    capped: list[str] = field(default_factory=list)
    skipped: bool = False
    error_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        values = asdict(self)
        values["created_since"] = self.created_since.isoformat() if self.created_since else None
        return values


def reconcile_braintree_subscriptions(
    *, gateway: braintree.BraintreeGateway | None = None, now: datetime | None = None,
    max_held: int | None = DEFAULT_MAX_HELD, page_size: int = PAGE_SIZE,
) -> ReconcileResult:
    """Compare Braintree's subscriptions with ours and apply what differs (see module doc).

    `max_held=None` compares every held open subscription, from the first.

    Does nothing when Braintree is not configured. Raises ProviderError when Braintree cannot
    be read; pages applied before that stay applied and the rotation keeps its place.
    """
    if gateway is None:
        if configuration_problem() is not None:
            return ReconcileResult(skipped=True)
        gateway = gateway_from_settings()
    now = now or timezone.now()
    cursor, _ = Cursor.objects.get_or_create(provider=PROVIDER, name=CURSOR_NAME)
    result = ReconcileResult(created_since=_created_since(cursor, now=now))
    resolver = DatabaseResolver(gateway=lambda: gateway)
    try:
        search = SearchReport()
        new_ids = ids_by_creation_date(gateway, start=result.created_since, report=search)
        result.capped = search.capped
        if search.capped:
            log.warning("braintree reconcile: a creation-date search stayed at the cap",
                        extra={"capped": search.capped})
        held_ids, wrapped = _held_ids(after="" if max_held is None else cursor.position,
                                      limit=max_held, exclude=set(new_ids))
        result.new_ids, result.held_ids, result.wrapped = len(new_ids), len(held_ids), wrapped
        for ids, held in ((new_ids, False), (held_ids, True)):
            for page, found in fetch_by_ids(gateway, ids, page_size=page_size):
                _reconcile_page(page, found, resolver=resolver, now=now, result=result)
                if held:
                    _save_position(cursor_pk=cursor.pk, position=page[-1])
    except BraintreeApiError as exc:
        _save_run(cursor_pk=cursor.pk, result=result, started_at=None)
        raise ProviderError(str(exc), permanent=exc.permanent) from exc
    if wrapped:
        _save_position(cursor_pk=cursor.pk, position="")
    _save_run(cursor_pk=cursor.pk, result=result, started_at=now)
    if result.differing or result.errors:
        log.info("braintree subscriptions reconciled", extra=result.as_dict())
    return result


# -- what to look at --------------------------------------------------------------------------


def _created_since(cursor: Cursor, *, now: datetime) -> datetime:
    """From the start of the last finished run less OVERLAP; LOOKBACK on a first run."""
    started = cursor.params.get("last_started_at")
    if started:
        try:
            return datetime.fromisoformat(started) - OVERLAP
        except ValueError:
            log.warning("braintree reconcile cursor unreadable; looking back the default",
                        extra={"last_started_at": started})
    return now - LOOKBACK


def _held_ids(*, after: str, limit: int | None, exclude: set[str]) -> tuple[list[str], bool]:
    """The next `limit` (None: all) held open subscriptions after `after`, and whether that
    reached the end."""
    rows = (Subscription.objects.filter(provider=PROVIDER, status__in=OPEN_STATUSES,
                                        deleted_at__isnull=True)
            .order_by("external_id").values_list("external_id", flat=True))
    if after:
        rows = rows.filter(external_id__gt=after)
    taken = list(rows if limit is None else rows[:limit + 1])
    wrapped = limit is None or len(taken) <= limit
    return [sub_id for sub_id in taken[:limit] if sub_id not in exclude], wrapped


# -- comparing and applying -------------------------------------------------------------------


def _reconcile_page(page: list[str], found: list[braintree.Subscription], *,
                    resolver: DatabaseResolver, now: datetime, result: ReconcileResult) -> None:
    result.fetched += len(found)
    result.not_found += len(set(page) - {sub.id for sub in found})
    normalized = [(sub, n) for sub in found
                  if (n := _normalize(sub, resolver=resolver, now=now, result=result))]
    stored = _stored({n.external_id for _, n in normalized})
    differing: list[tuple[braintree.Subscription, NormalizedSubscription, list[str]]] = []
    for sub, subscription in normalized:
        row = stored.get(subscription.external_id)
        if row is not None and is_stale(incoming=subscription.source_version,
                                        stored=row.source_version):
            result.newer_here += 1
            continue
        fields = differences(row, subscription)
        if not fields:
            result.unchanged += 1
            continue
        differing.append((sub, subscription, fields))
    result.differing += len(differing)
    if differing:
        result.applied += _apply(differing, now=now)


def _normalize(sub: braintree.Subscription, *, resolver: DatabaseResolver, now: datetime,
               result: ReconcileResult) -> NormalizedSubscription | None:
    try:
        return normalize_subscription(sub, resolver=resolver, as_of=now,
                                      source_version=source_version_for(sub))
    except BraintreeApiError as exc:
        if exc.status != 404:  # a missing payment method concerns this subscription only
            raise
        error = str(exc)
    except BraintreeEventError as exc:
        error = str(exc)
    log.warning("braintree reconcile skipped a subscription",
                extra={"subscription": sub.id, "error": error})
    result.errors += 1
    result.error_ids = [*result.error_ids, sub.id][-20:]
    return None


def _stored(external_ids: Iterable[str]) -> dict[str, Subscription]:
    rows = (Subscription.objects.filter(provider=PROVIDER, external_id__in=list(external_ids))
            .select_related("customer").prefetch_related("items").defer("raw"))
    return {row.external_id: row for row in rows}


def differences(row: Subscription | None, subscription: NormalizedSubscription) -> list[str]:
    """The names of what differs between the stored row and `subscription` (all when absent).

    The fields applying would copy (snapshot and version aside), the payer and the items.
    """
    if row is None:
        return ["missing"]
    values = subscription_rows.values_for(subscription)
    names = [name for name in COMPARED if getattr(row, name) != values[name]]
    if row.customer.external_id != subscription.customer.external_id:
        names.append("customer")
    stored_items = [(str(i.kind), i.item_id, i.quantity, i.unit_amount, i.amount, i.recurring)
                    for i in sorted(row.items.all(), key=lambda item: item.pk)]
    wanted_items = [(str(i.kind), i.item_id, i.quantity, i.unit_amount, i.amount, i.recurring)
                    for i in subscription.items]
    if stored_items != wanted_items:
        names.append("items")
    if row.deleted_at is not None:
        names.append("deleted_at")
    return names


def _apply(differing: list[tuple[braintree.Subscription, NormalizedSubscription, list[str]]],
           *, now: datetime) -> int:
    """Record and apply the differing subscriptions in one transaction; how many applied."""
    with transaction.atomic():
        events = WebhookEvent.objects.bulk_create([
            _event(sub, subscription, fields, now=now) for sub, subscription, fields in differing
        ])
        results = apply_changes([
            Change(subscriptions=(subscription,), event=event,
                   occurred_at=as_utc(getattr(sub, "updated_at", None)) or now)
            for event, (sub, subscription, _) in zip(events, differing, strict=True)
        ])
        # A webhook may have stored a newer state since the comparison: then nothing applied.
        stale = [event.pk for event, outcome in zip(events, results, strict=True)
                 if not outcome.applied]
        if stale:
            WebhookEvent.objects.filter(pk__in=stale).update(status=WebhookEvent.State.STALE)
    return len(events) - len(stale)


def _event(sub: braintree.Subscription, subscription: NormalizedSubscription,
           fields: list[str], *, now: datetime) -> WebhookEvent:
    """The record of one recovered difference: what differed, and the state applied."""
    updated_at = as_utc(getattr(sub, "updated_at", None))
    body = {"subscription_id": subscription.external_id, "differences": fields,
            "updated_at": updated_at.isoformat() if updated_at else None,
            "subscription": subscription.raw}
    return WebhookEvent(
        provider=PROVIDER, event_type=EVENT_TYPE, source=WebhookEvent.Source.RECONCILE,
        # One per subscription and run: the same state found again in a later run (after a
        # newer one was overwritten back, say) is a new record, not a clash.
        event_id=f"reconcile:{subscription.external_id}:{to_ms(now)}",
        occurred_at=updated_at or now, body=json.dumps(body, separators=(",", ":"),
                                                        default=str),
        status=WebhookEvent.State.PROCESSED, processed_at=now,
    )


# -- the cursor -------------------------------------------------------------------------------


def _save_position(*, cursor_pk: int, position: str) -> None:
    Cursor.objects.filter(pk=cursor_pk).update(position=position, updated_at=timezone.now())


def _save_run(*, cursor_pk: int, result: ReconcileResult, started_at: datetime | None) -> None:
    """Keep the run's figures; a finished run (`started_at` given) also moves the creation
    window forward to when it started."""
    with transaction.atomic():
        cursor = Cursor.objects.select_for_update().get(pk=cursor_pk)
        params = {**cursor.params, "last_run": {**result.as_dict(),
                                                "finished": started_at is not None}}
        if started_at is not None:
            params["last_started_at"] = started_at.isoformat()
        cursor.params = params
        cursor.count += result.applied
        cursor.save()

