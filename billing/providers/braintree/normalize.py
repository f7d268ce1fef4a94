"""Turn one Braintree subscription (an SDK object) into a NormalizedSubscription.

Pure apart from the injected Resolver, which is asked only for what the subscription itself
cannot tell (currency, customer, billing frequency). The same function serves webhooks and
backfills: the caller says at what moment the state was observed (`as_of`, which decides
whether a trial is still running) and which ordering version it carries.

Braintree facts this relies on (SDK 4.x and the API reference):
- statuses are "Active", "Past Due", "Pending", "Canceled", "Expired";
- dates (first_billing_date, billing_period_*, next_billing_date, paid_through_date) are
  calendar dates in UTC and the billing period end date is inclusive (a monthly period
  2024-01-15..2024-02-14 is followed by next_billing_date 2024-02-15), so the term ends at
  midnight after it;
- `price` is the per-cycle price of this subscription (it may differ from the plan's), add-ons
  and discounts carry their own amount, quantity and cycle counters;
- plans bill every `billing_frequency` months.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from billing import minimise
from billing.mrr import effective_mrr, items_mrr
from billing.normalized import (
    ItemKind,
    NormalizedCustomer,
    NormalizedItem,
    NormalizedSubscription,
    PeriodUnit,
    Provider,
    Status,
)
from subsync.money import to_minor_units

from .api import PlanInfo
from .errors import BraintreeEventError
from .resolver import Resolver, customer_from_sdk

_STATUSES = {
    "Active": Status.ACTIVE,
    "Past Due": Status.PAST_DUE,
    "Pending": Status.FUTURE,
    "Canceled": Status.CANCELLED,
    "Expired": Status.EXPIRED,
}
# Statuses whose next billing date is a renewal that will actually be attempted.
_RENEWING = frozenset({Status.ACTIVE, Status.TRIAL, Status.PAST_DUE, Status.FUTURE})
_AVG_DAYS_PER_MONTH = 365.25 / 12


def as_utc(value: datetime | date | None) -> datetime | None:
    """An aware UTC datetime: the SDK returns naive UTC datetimes, and bare dates for days."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.combine(value, time.min, tzinfo=UTC)


def to_ms(value: datetime | None) -> int | None:
    """Milliseconds since the epoch, the unit of every source_version in subsync."""
    aware = as_utc(value)
    return None if aware is None else int(aware.timestamp() * 1000)


def source_version_for(subscription, *, timestamp: datetime | None = None) -> int | None:
    """The ordering version of a subscription state: max(timestamp, updated_at) in ms.

    A notification's `timestamp` says when Braintree sent it and `updated_at` when the
    subscription last changed; normally updated_at <= timestamp, and the max guards against
    the odd case where it is not (clock skew, a re-fetched newer state). A backfilled
    subscription has no notification, so its version is updated_at alone: a webhook for a
    later change then still wins, and a webhook for the same change carries the same state.
    """
    candidates = [v for v in (to_ms(timestamp), to_ms(getattr(subscription, "updated_at", None)))
                  if v is not None]
    return max(candidates) if candidates else None


def normalize_subscription(
    subscription,
    *,
    resolver: Resolver,
    as_of: datetime,
    source_version: int | None,
) -> NormalizedSubscription:
    """The NormalizedSubscription for `subscription` as observed at `as_of`.

    Raises BraintreeEventError when the subscription lacks what cannot be resolved (status,
    price, the customer); resolver errors (BraintreeApiError) propagate unchanged so the
    caller can retry transient ones.
    """
    sub_id = _required(subscription, "id")
    provider_status = _required(subscription, "status")
    if provider_status not in _STATUSES:
        raise BraintreeEventError(f"subscription {sub_id}: unknown status {provider_status!r}")
    if getattr(subscription, "price", None) is None:
        raise BraintreeEventError(f"subscription {sub_id}: no price")
    as_of = as_utc(as_of)
    plan_id = getattr(subscription, "plan_id", None) or ""
    plan = resolver.plan(plan_id) if plan_id else None
    currency = _currency(subscription, resolver=resolver, plan=plan)
    status = _status(subscription, as_of=as_of)
    frequency = _billing_frequency(subscription, plan=plan)
    items = _items(subscription, plan_id=plan_id, currency=currency)
    mrr = effective_mrr(status, items_mrr(items, period=frequency, unit=PeriodUnit.MONTH))
    term_start, term_end = _term(subscription)
    return NormalizedSubscription(
        provider=Provider.BRAINTREE,
        external_id=sub_id,
        customer=_customer(subscription, resolver=resolver, source_version=source_version),
        status=status,
        provider_status=provider_status,
        currency=currency,
        mrr=mrr,
        source_version=source_version,
        plan_id=plan_id,
        billing_period=frequency,
        billing_period_unit=PeriodUnit.MONTH,
        started_at=_started_at(subscription),
        trial_end=as_utc(subscription.first_billing_date) if _has_trial(subscription) else None,
        current_term_start=term_start,
        current_term_end=term_end,
        next_renewal_at=_next_renewal(subscription, status=status),
        cancelled_at=_cancelled_at(subscription, as_of=as_of) if status == Status.CANCELLED
        else None,
        cancel_reason=_cancel_source(subscription) if status == Status.CANCELLED else "",
        items=items,
        raw=minimise.braintree_subscription(jsonable(subscription)),
    )


def _required(subscription, name: str) -> str:
    value = getattr(subscription, name, None)
    if value in (None, ""):
        sub_id = getattr(subscription, "id", None) or "?"
        raise BraintreeEventError(f"subscription {sub_id}: missing {name}")
    return str(value)


# -- status -----------------------------------------------------------------------------------


def _has_trial(subscription) -> bool:
    return bool(getattr(subscription, "trial_period", False)) and bool(
        getattr(subscription, "first_billing_date", None)
    )


def _in_trial(subscription, *, as_of: datetime) -> bool:
    """Braintree keeps a trialing subscription "Active"; the trial runs until first billing."""
    return _has_trial(subscription) and as_of.date() < _as_date(subscription.first_billing_date)


def _in_final_cycle(subscription) -> bool:
    """A subscription with a fixed number of cycles, in its last one, will not renew."""
    if getattr(subscription, "never_expires", True) is not False:
        return False
    total = getattr(subscription, "number_of_billing_cycles", None)
    current = getattr(subscription, "current_billing_cycle", None)
    return bool(total) and current is not None and int(current) >= int(total)


def _status(subscription, *, as_of: datetime) -> Status:
    status = _STATUSES[subscription.status]
    if status == Status.ACTIVE and _in_trial(subscription, as_of=as_of):
        return Status.TRIAL
    if status == Status.ACTIVE and _in_final_cycle(subscription):
        return Status.NON_RENEWING
    return status


# -- money ------------------------------------------------------------------------------------


def _latest_first(records: list) -> list:
    """Newest first by created_at; records without one keep Braintree's order (newest first)."""
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(records, key=lambda r: as_utc(getattr(r, "created_at", None)) or oldest,
                  reverse=True)


def _currency(subscription, *, resolver: Resolver, plan: PlanInfo | None) -> str:
    """Currency from the notification if it says (transactions, status history), else lookups."""
    for record in _latest_first(list(getattr(subscription, "transactions", None) or [])):
        if getattr(record, "currency_iso_code", None):
            return record.currency_iso_code.upper()
    history = list(getattr(subscription, "status_history", None) or [])
    for event in sorted(history, key=lambda e: as_utc(getattr(e, "timestamp", None))
                        or datetime.min.replace(tzinfo=UTC), reverse=True):
        if getattr(event, "currency_iso_code", None):
            return event.currency_iso_code.upper()
    account_id = getattr(subscription, "merchant_account_id", None)
    if account_id:
        return resolver.currency_for_merchant_account(account_id).upper()
    if plan is not None and plan.currency:
        return plan.currency.upper()
    raise BraintreeEventError(f"subscription {subscription.id}: cannot tell its currency")


def _billing_frequency(subscription, *, plan: PlanInfo | None) -> int:
    """Months per cycle: the plan's, else guessed from the current period's length, else 1."""
    if plan is not None and plan.billing_frequency >= 1:
        return plan.billing_frequency
    start = getattr(subscription, "billing_period_start_date", None)
    end = getattr(subscription, "billing_period_end_date", None)
    if start and end:
        days = (_as_date(end) - _as_date(start)).days + 1
        return max(1, round(days / _AVG_DAYS_PER_MONTH))
    return 1


def _modification_exhausted(modification) -> bool:
    """An add-on/discount limited to N cycles that has been applied N times bills no more."""
    if getattr(modification, "never_expires", True) is not False:
        return False
    total = getattr(modification, "number_of_billing_cycles", None)
    applied = getattr(modification, "current_billing_cycle", None)
    return total is not None and applied is not None and int(applied) >= int(total)


def _modification_items(modifications, *, kind: ItemKind, currency: str) -> list[NormalizedItem]:
    items = []
    for modification in modifications or []:
        if _modification_exhausted(modification):
            continue
        quantity = int(getattr(modification, "quantity", None) or 1)
        unit = to_minor_units(modification.amount, currency=currency)
        items.append(NormalizedItem(kind=kind, item_id=str(modification.id), quantity=quantity,
                                    unit_amount=unit, amount=unit * quantity))
    return items


def _items(subscription, *, plan_id: str, currency: str) -> tuple[NormalizedItem, ...]:
    price = to_minor_units(subscription.price, currency=currency)
    plan_item = NormalizedItem(kind=ItemKind.PLAN, item_id=plan_id, quantity=1,
                               unit_amount=price, amount=price)
    return (
        plan_item,
        *_modification_items(getattr(subscription, "add_ons", None), kind=ItemKind.ADDON,
                             currency=currency),
        *_modification_items(getattr(subscription, "discounts", None), kind=ItemKind.DISCOUNT,
                             currency=currency),
    )


# -- customer ---------------------------------------------------------------------------------


def _customer(subscription, *, resolver: Resolver, source_version: int | None
              ) -> NormalizedCustomer:
    """The payer from the newest transaction's customer details, else via the payment method."""
    for transaction in _latest_first(list(getattr(subscription, "transactions", None) or [])):
        details = getattr(transaction, "customer_details", None)
        if details is not None and getattr(details, "id", None):
            return customer_from_sdk(details, source_version=source_version)
    token = getattr(subscription, "payment_method_token", None)
    if not token:
        raise BraintreeEventError(
            f"subscription {subscription.id}: no transaction customer and no payment method"
        )
    return resolver.customer_for_payment_method(token)


# -- dates ------------------------------------------------------------------------------------


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _day_after(value: date | None) -> datetime | None:
    return None if value is None else as_utc(_as_date(value) + timedelta(days=1))


def _started_at(subscription) -> datetime | None:
    """When it began: creation for a trial (the trial is the start), else the first bill."""
    created = as_utc(getattr(subscription, "created_at", None))
    if _has_trial(subscription):
        return created
    return as_utc(getattr(subscription, "first_billing_date", None)) or created


def _term(subscription) -> tuple[datetime | None, datetime | None]:
    """The current billing period as [start, end): the inclusive end date + 1 day."""
    start = getattr(subscription, "billing_period_start_date", None)
    end = getattr(subscription, "billing_period_end_date", None)
    if start and end:
        return as_utc(start), _day_after(end)
    if _has_trial(subscription):
        return (as_utc(getattr(subscription, "created_at", None)),
                as_utc(subscription.first_billing_date))
    return None, None


def _next_renewal(subscription, *, status: Status) -> datetime | None:
    """The next attempted bill; none once it will not renew (cancelled, expired, last cycle)."""
    if status not in _RENEWING:
        return None
    return as_utc(getattr(subscription, "next_billing_date", None)
                  or getattr(subscription, "first_billing_date", None))


def _last_cancel_event(subscription):
    events = [e for e in getattr(subscription, "status_history", None) or []
              if getattr(e, "status", None) == "Canceled" and getattr(e, "timestamp", None)]
    return max(events, key=lambda e: as_utc(e.timestamp)) if events else None


def _cancelled_at(subscription, *, as_of: datetime) -> datetime:
    """When it was cancelled: the status history says; else its last update; else `as_of`."""
    event = _last_cancel_event(subscription)
    if event is not None:
        return as_utc(event.timestamp)
    return as_utc(getattr(subscription, "updated_at", None)) or as_of


def _cancel_source(subscription) -> str:
    """Braintree records no reason, only who cancelled: api, control_panel or recurring."""
    event = _last_cancel_event(subscription)
    return str(getattr(event, "subscription_source", None) or "") if event else ""


# -- raw --------------------------------------------------------------------------------------


def jsonable(value):
    """A JSON-safe copy of an SDK object (for NormalizedSubscription.raw and debugging)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return as_utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    attrs = getattr(value, "_setattrs", None)
    if attrs is not None:
        return {name: jsonable(getattr(value, name, None)) for name in attrs
                if name != "gateway"}
    return str(value)
