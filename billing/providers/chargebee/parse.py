"""Chargebee API v2 events, as provider-neutral `ParsedEvent`s.

Pure functions, no database and no network: the webhook view stores the raw body first, and the
processing task calls `parse_event` on it, so that a body we cannot read fails with a message a
human can act on (kept on the stored row) and never half-applies.

What we take from an event:

* every `subscription_*` event (and `mrr_updated`) whose content carries a subscription: a full
  snapshot of that subscription. Chargebee sends the whole resource each time, so applying the
  newest snapshot by `resource_version` is enough; we do not interpret the event name beyond
  `subscription_deleted` (the row is gone in Chargebee) and the informational reminders.
* `customer_created`, `customer_changed`, `customer_deleted`: the customer.
* `payment_failed`, `payment_succeeded`: the subscription the invoice belongs to, when there is
  one, because dues are what turn an active subscription into past_due and back.

Anything else is returned with `ignored_reason` and no changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from billing import minimise
from billing.mrr import effective_mrr, items_mrr
from billing.normalized import (
    NormalizedCustomer,
    NormalizedSubscription,
    ParsedEvent,
    PeriodUnit,
    Provider,
    Status,
)
from billing.providers.chargebee._values import (
    read_int,
    read_mapping,
    read_str,
    read_time,
    required_str,
)
from billing.providers.chargebee.errors import ChargebeeEventError
from billing.providers.chargebee.items import plan_price_id, subscription_items

if TYPE_CHECKING:
    from billing.providers.chargebee.coupons import CouponLookup

__all__ = [
    "CUSTOMER_EVENTS",
    "PAYMENT_EVENTS",
    "SUBSCRIPTION_EVENTS",
    "ChargebeeEventError",
    "EventEnvelope",
    "normalize_status",
    "parse_customer",
    "parse_event",
    "parse_subscription",
    "read_envelope",
]

# The subscription events Chargebee documents for API v2 that always carry a subscription: one of
# these without it is a malformed body, not an event to skip. Other `subscription_*` events are
# applied when they carry one (Chargebee adds event types over time) and ignored otherwise
# (entitlement and ramp events carry other resources).
SUBSCRIPTION_EVENTS = frozenset({
    "subscription_created",
    "subscription_created_with_backdating",
    "subscription_started",
    "subscription_activated",
    "subscription_activated_with_backdating",
    "subscription_changed",
    "subscription_changed_with_backdating",
    "subscription_changes_scheduled",
    "subscription_scheduled_changes_removed",
    "subscription_renewed",
    "subscription_items_renewed",
    "subscription_renewal_reminder",
    "subscription_cancelled",
    "subscription_canceled_with_backdating",  # sic: Chargebee's spelling
    "subscription_cancellation_scheduled",
    "subscription_scheduled_cancellation_removed",
    "subscription_reactivated",
    "subscription_reactivated_with_backdating",
    "subscription_paused",
    "subscription_pause_scheduled",
    "subscription_scheduled_pause_removed",
    "subscription_resumed",
    "subscription_resumption_scheduled",
    "subscription_scheduled_resumption_removed",
    "subscription_deleted",
    "subscription_trial_extended",
    "subscription_moved_in",
    "subscription_moved_out",
    "subscription_shipping_address_updated",
    "mrr_updated",
})
CUSTOMER_EVENTS = frozenset({"customer_created", "customer_changed", "customer_deleted"})
PAYMENT_EVENTS = frozenset({"payment_failed", "payment_succeeded"})

# Chargebee subscription status -> ours. `transferred` is what the old site keeps after a
# subscription moved to another site: for this site it has ended.
_STATUSES = {
    "future": Status.FUTURE,
    "in_trial": Status.TRIAL,
    "active": Status.ACTIVE,
    "non_renewing": Status.NON_RENEWING,
    "paused": Status.PAUSED,
    "cancelled": Status.CANCELLED,
    "transferred": Status.CANCELLED,
}
# Statuses whose subscription will not renew on its own, so it has no renewal date.
_NOT_RENEWING = frozenset({Status.NON_RENEWING, Status.CANCELLED, Status.EXPIRED, Status.PAUSED})


@dataclass(frozen=True)
class EventEnvelope:
    """The parts of an event the webhook layer stores before processing (dedupe and ordering)."""

    event_id: str
    event_type: str
    occurred_at: datetime
    api_version: str
    source: str = ""


def read_envelope(*, event: Mapping[str, Any] | str | bytes) -> EventEnvelope:
    """Check that `event` is a Chargebee v2 event and return its id, type and time.

    We validate ourselves rather than with `Chargebee.Event.deserialize`: the SDK accepts a
    body without `api_version`, needs a JSON string, and fails on bad JSON with an
    AttributeError (it reads `ex.message`), none of which gives a usable message.
    """
    body = _as_mapping(event)
    api_version = body.get("api_version")
    if not isinstance(api_version, str) or api_version.lower() != "v2":
        raise ChargebeeEventError(
            f"event api_version is {api_version!r}, subsync only understands 'v2': set the "
            "webhook's API version to v2 in Chargebee (Settings > Webhooks)"
        )
    event_id = required_str(body, "id", where="event")
    event_type = required_str(body, "event_type", where="event")
    occurred_at = read_time(body, "occurred_at", where="event")
    if occurred_at is None:
        raise ChargebeeEventError("event.occurred_at is missing")
    if not isinstance(body.get("content"), Mapping):
        raise ChargebeeEventError(f"event {event_id} ({event_type}) has no content object")
    return EventEnvelope(
        event_id=event_id,
        event_type=event_type,
        occurred_at=occurred_at,
        api_version="v2",
        source=read_str(body, "source", where="event"),
    )


def parse_event(*, event: Mapping[str, Any] | str | bytes,
                coupons: CouponLookup | None = None) -> ParsedEvent:
    """What one Chargebee v2 event means for our subscriptions and customers.

    Raises `ChargebeeEventError` for a body that is not a readable v2 event. `coupons`: see
    `parse_subscription`.
    """
    body = _as_mapping(event)
    envelope = read_envelope(event=body)
    event_type = envelope.event_type
    content: Mapping[str, Any] = body["content"]
    where = f"event {envelope.event_id} ({event_type}) content"
    subscription = read_mapping(content, "subscription", where=where)
    customer = read_mapping(content, "customer", where=where)

    if event_type in CUSTOMER_EVENTS:
        if customer is None:
            raise ChargebeeEventError(f"{where} has no customer")
        deleted = event_type == "customer_deleted"
        return ParsedEvent(
            event_type=event_type,
            customers=(parse_customer(customer=customer, deleted=deleted),),
        )

    applies_subscription = (
        event_type in SUBSCRIPTION_EVENTS
        or event_type in PAYMENT_EVENTS
        or event_type.startswith("subscription_")
    )
    if not applies_subscription:
        return ParsedEvent(
            event_type=event_type,
            ignored_reason=f"{event_type} does not change subscriptions or customers",
        )
    if subscription is None:
        if event_type in SUBSCRIPTION_EVENTS:
            raise ChargebeeEventError(f"{where} has no subscription")
        reason = (
            f"{event_type} is not for a subscription"
            if event_type in PAYMENT_EVENTS
            else f"{event_type} carries no subscription"
        )
        return ParsedEvent(event_type=event_type, ignored_reason=reason)
    normalized = parse_subscription(
        subscription=subscription, customer=customer, event_type=event_type, coupons=coupons
    )
    return ParsedEvent(event_type=event_type, subscriptions=(normalized,))


def parse_customer(*, customer: Mapping[str, Any], deleted: bool = False) -> NormalizedCustomer:
    """A Chargebee customer resource (from an event or the API) as a `NormalizedCustomer`."""
    where = "customer"
    return NormalizedCustomer(
        provider=Provider.CHARGEBEE,
        external_id=required_str(customer, "id", where=where),
        email=read_str(customer, "email", where=where),
        company=read_str(customer, "company", where=where),
        first_name=read_str(customer, "first_name", where=where),
        last_name=read_str(customer, "last_name", where=where),
        source_version=read_int(customer, "resource_version", where=where),
        deleted=deleted or customer.get("deleted") is True,
        raw=minimise.chargebee_customer(customer),
    )


def parse_subscription(
    *,
    subscription: Mapping[str, Any],
    customer: Mapping[str, Any] | None = None,
    event_type: str = "",
    coupons: CouponLookup | None = None,
) -> NormalizedSubscription:
    """A Chargebee subscription resource (from an event or the API) as a NormalizedSubscription.

    `customer` is the customer resource sent alongside it, if any; without it the subscription
    refers to its customer by id only (no version, so it never overwrites stored details).
    `event_type` matters for `subscription_deleted` and `payment_failed`. `coupons` looks up
    the Catalog 1.0 coupons the subscription only names, to value them when Chargebee sends
    no `mrr` (billing.providers.chargebee.coupons); without it they count 0.
    """
    where = "subscription"
    external_id = required_str(subscription, "id", where=where)
    customer_id = required_str(subscription, "customer_id", where=where)
    provider_status = required_str(subscription, "status", where=where)
    status = normalize_status(
        provider_status=provider_status, subscription=subscription, event_type=event_type
    )
    period = read_int(subscription, "billing_period", where=where, default=1)
    if period is None or period < 1:
        raise ChargebeeEventError(f"subscription {external_id} billing_period is {period!r}")
    unit_name = read_str(subscription, "billing_period_unit", where=where) or "month"
    try:
        unit = PeriodUnit(unit_name)
    except ValueError as exc:
        raise ChargebeeEventError(
            f"subscription {external_id} billing_period_unit {unit_name!r} is not one of "
            "day, week, month, year"
        ) from exc
    chargebee_mrr = read_int(subscription, "mrr", where=where)
    # Catalog 1.0 coupons are valued by looking them up (`coupons`), only when the MRR is
    # computed from the items: Chargebee's own figure already counts them.
    items = subscription_items(subscription=subscription,
                               coupons=coupons if chargebee_mrr is None else None)
    # Chargebee's own figure (minor units per month) includes coupons we cannot value
    # ourselves, so it wins when the site sends it.
    monthly = chargebee_mrr if chargebee_mrr is not None else items_mrr(
        items, period=period, unit=unit
    )
    contract = read_mapping(subscription, "contract_term", where=where) or {}
    trial_end = read_time(subscription, "trial_end", where=where)
    current_term_end = read_time(subscription, "current_term_end", where=where)
    next_billing_at = read_time(subscription, "next_billing_at", where=where)
    plan = plan_price_id(subscription=subscription)
    return NormalizedSubscription(
        provider=Provider.CHARGEBEE,
        external_id=external_id,
        customer=_subscription_customer(customer, customer_id=customer_id),
        status=status,
        provider_status=provider_status,
        currency=read_str(subscription, "currency_code", where=where).upper(),
        mrr=effective_mrr(status, max(0, monthly)),
        source_version=read_int(subscription, "resource_version", where=where),
        plan_id=plan,
        price_id=plan,
        billing_period=period,
        billing_period_unit=unit,
        started_at=(
            read_time(subscription, "started_at", where=where)
            or read_time(subscription, "start_date", where=where)
        ),
        trial_end=trial_end,
        current_term_start=read_time(subscription, "current_term_start", where=where),
        current_term_end=current_term_end,
        next_renewal_at=_next_renewal(
            status, trial_end=trial_end, term_end=current_term_end or next_billing_at
        ),
        cancelled_at=read_time(subscription, "cancelled_at", where=where),
        cancel_reason=(
            read_str(subscription, "cancel_reason", where=where)
            or read_str(subscription, "cancel_reason_code", where=where)
        ),
        contract_term_start=read_time(contract, "contract_start", where="contract_term"),
        contract_term_end=read_time(contract, "contract_end", where="contract_term"),
        deleted=event_type == "subscription_deleted" or subscription.get("deleted") is True,
        items=items,
        raw=minimise.chargebee_subscription(subscription),
    )


def normalize_status(
    *,
    provider_status: str,
    subscription: Mapping[str, Any] | None = None,
    event_type: str = "",
) -> Status:
    """Our status for a Chargebee status.

    Chargebee has no past-due status: an active subscription with unpaid invoices stays
    `active` there. We call it past_due while it has dues, or when this very event is a failed
    payment for it, and active again once the dues are paid. Other statuses keep their meaning
    (a non-renewing subscription with dues is still ending, not past due).
    """
    try:
        status = _STATUSES[provider_status]
    except KeyError:
        raise ChargebeeEventError(
            f"unknown Chargebee subscription status {provider_status!r} "
            f"(known: {', '.join(sorted(_STATUSES))})"
        ) from None
    if status != Status.ACTIVE:
        return status
    data = subscription or {}
    dues = read_int(data, "due_invoices_count", where="subscription", default=0) or 0
    total_dues = read_int(data, "total_dues", where="subscription", default=0) or 0
    if event_type == "payment_failed" or dues > 0 or total_dues > 0:
        return Status.PAST_DUE
    return Status.ACTIVE


def _next_renewal(
    status: Status, *, trial_end: datetime | None, term_end: datetime | None
) -> datetime | None:
    if status in _NOT_RENEWING:
        return None
    if status == Status.TRIAL:
        return trial_end or term_end
    return term_end


def _subscription_customer(
    customer: Mapping[str, Any] | None, *, customer_id: str
) -> NormalizedCustomer:
    if customer is None:
        return NormalizedCustomer(provider=Provider.CHARGEBEE, external_id=customer_id)
    parsed = parse_customer(customer=customer)
    if parsed.external_id != customer_id:
        raise ChargebeeEventError(
            f"subscription belongs to customer {customer_id!r} but the event's customer is "
            f"{parsed.external_id!r}"
        )
    return parsed


def _as_mapping(event: Mapping[str, Any] | str | bytes) -> Mapping[str, Any]:
    if isinstance(event, str | bytes | bytearray):
        try:
            event = json.loads(event)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ChargebeeEventError(f"event body is not valid JSON: {exc}") from exc
    if not isinstance(event, Mapping):
        raise ChargebeeEventError(
            f"event body must be a JSON object, got {type(event).__name__}"
        )
    return event
