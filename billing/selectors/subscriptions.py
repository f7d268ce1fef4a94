"""Subscriptions: search and list, and one subscription with its timeline.

Search matches every word typed against the customer's first and last name, email, company
and id and the subscription's id (`icontains`: portable between SQLite and PostgreSQL), so
"ada lovelace" finds Ada Lovelace, and a pasted Salesforce external id ("chargebee:sub_1")
finds its subscription.

The timeline merges, newest first and bounded: the ledger changes of the subscription, the
webhook events that wrote them, failed or rejected Chargebee events that name it but never
reached the ledger, and the Salesforce calls that carried it. Each source is one query cut to
the limit, so the detail costs the same whatever the subscription's history.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from functools import reduce
from typing import Any

from django.db.models import F, Q, QuerySet, TextField
from django.db.models.functions import Cast

from billing.models import Subscription, SubscriptionChange, WebhookEvent
from billing.normalized import Provider, Status
from billing.selectors.params import Page, PageRequest, Reader, paginate
from billing.selectors.renewals import customer_name_of, renewal_at
from crm import mapping
from crm.models import ContractSync, SyncAttempt

ORDERINGS = {
    "-mrr": (F("mrr").desc(), F("id").desc()),
    "mrr": (F("mrr").asc(), F("id").asc()),
    "renewal": (F("renewal_at").asc(nulls_last=True), F("id").asc()),
    "-renewal": (F("renewal_at").desc(nulls_last=True), F("id").desc()),
    "-updated": (F("updated_at").desc(), F("id").desc()),
    "updated": (F("updated_at").asc(), F("id").asc()),
}
DEFAULT_ORDERING = "-updated"
TIMELINE_LIMIT = 50
# How far back failed or rejected events are searched for the subscription's id (a text scan).
UNAPPLIED_EVENTS_DAYS = 30


@dataclass(frozen=True)
class SubscriptionFilters:
    search: str = ""
    provider: str = ""
    status: str = ""
    plan: str = ""
    currency: str = ""
    ordering: str = DEFAULT_ORDERING

    @classmethod
    def from_query(cls, query: Mapping[str, Any] | None) -> SubscriptionFilters:
        """Parameters: q, provider, status, plan, currency, ordering (one of ORDERINGS)."""
        reader = Reader(query)
        filters = cls(
            search=reader.text("q", max_length=200),
            provider=reader.choice("provider", [p.value for p in Provider]),
            status=reader.choice("status", [s.value for s in Status]),
            plan=reader.text("plan"),
            currency=reader.text("currency", max_length=3).upper(),
            ordering=reader.choice("ordering", list(ORDERINGS)) or DEFAULT_ORDERING,
        )
        reader.done()
        return filters


@dataclass(frozen=True)
class SubscriptionRow:
    id: int
    provider: str
    external_id: str
    status: str
    plan_id: str
    mrr: int
    currency: str
    renewal_at: dt.datetime | None
    updated_at: dt.datetime
    customer_id: int
    customer_name: str
    customer_email: str


_SEARCHED = ("customer__first_name", "customer__last_name", "customer__email",
             "customer__company", "customer__external_id", "external_id")


def _search(text: str) -> Q:
    query = Q()
    for word in text.split()[:8]:
        provider, _, rest = word.partition(":")
        if rest and provider in {p.value for p in Provider}:
            query &= Q(provider=provider, external_id__iexact=rest)
            continue
        query &= reduce(operator.or_, (Q(**{f"{name}__icontains": word}) for name in _SEARCHED))
    return query


def subscription_row(values: dict) -> SubscriptionRow:
    """A row of `subscription_rows` as a SubscriptionRow."""
    return SubscriptionRow(
        id=values["id"], provider=values["provider"], external_id=values["external_id"],
        status=values["status"], plan_id=values["plan_id"], mrr=values["mrr"],
        currency=values["currency"], renewal_at=values["renewal_at"],
        updated_at=values["updated_at"], customer_id=values["customer_id"],
        customer_name=customer_name_of(values), customer_email=values["customer__email"],
    )


def search_subscriptions(*, filters: SubscriptionFilters, page: PageRequest
                         ) -> Page[SubscriptionRow]:
    """A page of subscriptions matching the search and filters (two queries: the count joins
    the customers only when the search needs them)."""
    return paginate(subscription_rows(filters=filters), page=page, convert=subscription_row,
                    total=_matching(filters).count())


def subscription_rows(*, filters: SubscriptionFilters) -> QuerySet:
    """The matching subscriptions as an ordered queryset of values (the fields
    `subscription_row` reads, and `renewal_at`), for callers that page it their own way: the
    REST API pages it with a cursor over the same ordering (ORDERINGS)."""
    return (_matching(filters).annotate(renewal_at=renewal_at())
            .order_by(*ORDERINGS.get(filters.ordering, ORDERINGS[DEFAULT_ORDERING]))
            .values("id", "provider", "external_id", "status", "plan_id", "mrr", "currency",
                    "renewal_at", "updated_at", "customer_id", "customer__company",
                    "customer__first_name", "customer__last_name", "customer__email",
                    "customer__external_id"))


def _matching(filters: SubscriptionFilters) -> QuerySet:
    query = Q(deleted_at__isnull=True)
    if filters.search:
        query &= _search(filters.search)
    for field, value in (("provider", filters.provider), ("status", filters.status),
                         ("plan_id", filters.plan), ("currency", filters.currency)):
        if value:
            query &= Q(**{field: value})
    return Subscription.objects.filter(query)


@dataclass(frozen=True)
class TimelineEntry:
    when: dt.datetime
    kind: str  # "change", "event" or "sync"
    title: str
    detail: str
    status: str  # the event's status, the call's outcome, or the change's movement
    event_id: int | None = None  # WebhookEvent pk
    change_id: int | None = None  # SubscriptionChange pk
    attempt_id: int | None = None  # SyncAttempt pk


@dataclass(frozen=True)
class SubscriptionDetail:
    subscription: Subscription  # with .customer and .items loaded
    contract_sync: ContractSync | None
    renewal_at: dt.datetime | None
    timeline: tuple[TimelineEntry, ...]  # newest first, at most the limit asked for


def subscription_detail(*, pk: int, limit: int = TIMELINE_LIMIT,
                        now: dt.datetime | None = None) -> SubscriptionDetail | None:
    """One subscription with its customer, items, ContractSync and timeline; None if unknown.

    Six queries whatever its history.
    """
    sub = (Subscription.objects.select_related("customer", "contract_sync")
           .prefetch_related("items").filter(pk=pk).first())
    if sub is None:
        return None
    sync = getattr(sub, "contract_sync", None)
    entries = [*_change_entries(sub, limit), *_event_entries(sub, limit),
               *_unapplied_event_entries(sub, limit, now=now),
               *_sync_entries(sub, sync, limit)]
    entries.sort(key=lambda entry: entry.when, reverse=True)
    return SubscriptionDetail(subscription=sub, contract_sync=sync,
                              renewal_at=sub.contract_term_end or sub.current_term_end,
                              timeline=tuple(entries[:limit]))


def _money(amount: int, currency: str) -> str:
    return f"{mapping.format_major(amount, currency)} {currency}"


def _change_entries(sub: Subscription, limit: int) -> list[TimelineEntry]:
    changes = (SubscriptionChange.objects.filter(subscription=sub)
               .order_by("-occurred_at", "-id")[:limit])
    out = []
    for change in changes:
        status = (f"{change.status_before} → {change.status_after}"
                  if change.status_before != change.status_after else change.status_after)
        mrr = (f"MRR {_money(change.mrr_before, change.currency)} → "
               f"{_money(change.mrr_after, change.currency)}")
        out.append(TimelineEntry(
            when=change.occurred_at, kind="change", title=f"Ledger: {status or 'recorded'}",
            detail=mrr, status=change.movement, event_id=change.event_id, change_id=change.pk))
    return out


def _event_entry(row: dict, *, note: str = "") -> TimelineEntry:
    # Placed when it happened at the provider (beside the ledger row it wrote); a backfill or
    # a late retry is received long after.
    detail = row["error"] or note
    return TimelineEntry(when=row["occurred_at"] or row["received_at"], kind="event",
                         title=f"Webhook: {row['event_type'] or 'event'}", detail=detail,
                         status=row["status"], event_id=row["id"])


_EVENT_FIELDS = ("id", "event_type", "occurred_at", "received_at", "status", "error")


def _event_entries(sub: Subscription, limit: int) -> list[TimelineEntry]:
    rows = (WebhookEvent.objects.filter(changes__subscription=sub).distinct()
            .order_by("-received_at", "-id").values(*_EVENT_FIELDS)[:limit])
    return [_event_entry(row) for row in rows]


def _unapplied_event_entries(sub: Subscription, limit: int, *,
                             now: dt.datetime | None) -> list[TimelineEntry]:
    """Failed or rejected events of the last UNAPPLIED_EVENTS_DAYS whose body names the
    subscription's id as a JSON string (`"sub_1"`, so `sub_10` does not match).

    Only Chargebee: its bodies are JSON text. Braintree's are base64 XML, which no text
    search can see into, and decoding every failed body would be a loop over rows.
    """
    if sub.provider != Provider.CHARGEBEE:
        return []
    since = (now or dt.datetime.now(tz=dt.UTC)) - dt.timedelta(days=UNAPPLIED_EVENTS_DAYS)
    rows = (WebhookEvent.objects
            .filter(provider=sub.provider, received_at__gte=since,
                    status__in=[WebhookEvent.State.FAILED, WebhookEvent.State.REJECTED],
                    body__contains=json.dumps(sub.external_id))
            .exclude(changes__subscription=sub)
            .order_by("-received_at", "-id").values(*_EVENT_FIELDS)[:limit])
    return [_event_entry(row, note="never reached the ledger") for row in rows]


def _json_string_needles(value: str) -> Q:
    """`value` as a JSON string inside a JSON column cast to text, on either database: Django
    stores JSON on SQLite with ASCII escapes, PostgreSQL prints jsonb text unescaped."""
    needles = {json.dumps(value), json.dumps(value, ensure_ascii=False)}
    return reduce(operator.or_, (Q(records_text__contains=needle) for needle in needles))


def _sync_entries(sub: Subscription, sync: ContractSync | None,
                  limit: int) -> list[TimelineEntry]:
    """Salesforce calls that carried this subscription: Contract upserts (by its external id),
    Contract activations (by the Contract's Salesforce id) and its customer's Account upserts.

    `records` is a JSON list, and JSONField `contains` does not work on SQLite, so the list is
    searched as text for the quoted id: the quotes stop `chargebee:sub_1` matching
    `chargebee:sub_10`. Rows are checked once more in Python for exact membership (SQLite's
    LIKE ignores case). No ContractSync means nothing was ever pushed: no query.
    """
    if sync is None:
        return []
    contract_ref = mapping.external_id(sub.provider, sub.external_id)
    account_ref = mapping.external_id(sub.customer.provider, sub.customer.external_id)
    contract = _json_string_needles(contract_ref)
    if sync.sf_contract_id:
        contract |= _json_string_needles(sync.sf_contract_id)
    matches = ((Q(sobject=mapping.CONTRACT) & contract)
               | (Q(sobject=mapping.ACCOUNT) & _json_string_needles(account_ref)))
    attempts = (SyncAttempt.objects.annotate(records_text=Cast("records", TextField()))
                .filter(matches, started_at__gte=sync.created_at - dt.timedelta(minutes=1))
                .order_by("-started_at", "-id")
                .defer("results")[:limit])
    wanted = {mapping.CONTRACT: {contract_ref, sync.sf_contract_id} - {""},
              mapping.ACCOUNT: {account_ref}}
    out = []
    for attempt in attempts:
        if not wanted.get(attempt.sobject, set()) & set(map(str, attempt.records or [])):
            continue
        detail = (f"{attempt.error_code}: {attempt.error_message}" if attempt.error_code
                  else f"{len(attempt.records or [])} record(s)")
        out.append(TimelineEntry(
            when=attempt.started_at, kind="sync",
            title=f"Salesforce: {attempt.operation} {attempt.sobject}", detail=detail,
            status=attempt.outcome, attempt_id=attempt.pk))
    return out
