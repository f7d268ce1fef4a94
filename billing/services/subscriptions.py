"""Apply a normalised subscription: ordering, state, items, the MRR ledger, the sync flag.

Everything here runs inside the caller's transaction. Rows are locked customer first, then
subscription, so that two changes of one customer serialise and classify movements against
each other's result instead of both seeing the same "before".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from billing.models import Customer, Movement, Subscription, SubscriptionChange, WebhookEvent
from billing.movements import classify_movement
from billing.normalized import NormalizedSubscription, Status
from billing.services.customers import apply_customer, is_stale
from crm.services.sync_state import note_subscription_changed

# Fields copied as they are from the normalised shape onto the row.
_COPIED = (
    "status", "provider_status", "plan_id", "price_id", "currency", "mrr", "billing_period",
    "billing_period_unit", "started_at", "trial_end", "current_term_start", "current_term_end",
    "next_renewal_at", "cancelled_at", "cancel_reason", "contract_term_start",
    "contract_term_end", "source_version", "raw",
)
# A change of any of these is worth a ledger row.
_MATERIAL = ("status", "mrr", "plan_id", "price_id", "currency")


@dataclass(frozen=True)
class ApplyResult:
    subscription: Subscription
    applied: bool
    change: SubscriptionChange | None = None


def _customer_mrr(customer: Customer) -> tuple[dict[str, int], bool]:
    """Per-currency MRR totals of a customer, and whether they pay anything at all."""
    rows = (
        Subscription.objects.filter(customer=customer, mrr__gt=0)
        .values("currency")
        .annotate(total=Sum("mrr"))
    )
    totals = {row["currency"]: row["total"] for row in rows}
    return totals, any(totals.values())


def _values_for(sub: NormalizedSubscription) -> dict:
    values = {name: getattr(sub, name) for name in _COPIED}
    values["status"] = Status(sub.status).value
    values["billing_period_unit"] = str(sub.billing_period_unit)
    values["currency"] = (sub.currency or "").upper()
    if sub.deleted:
        # A deleted subscription is gone from billing: it no longer counts.
        values["mrr"] = 0
    return values


def _replace_items(subscription: Subscription, sub: NormalizedSubscription) -> None:
    subscription.items.all().delete()
    subscription.items.bulk_create(
        [
            subscription.items.model(
                subscription=subscription, kind=str(item.kind), item_id=item.item_id,
                quantity=item.quantity, unit_amount=item.unit_amount, amount=item.amount,
                recurring=item.recurring,
            )
            for item in sub.items
        ]
    )


def _lock_subscription(sub: NormalizedSubscription) -> Subscription | None:
    return (
        Subscription.objects.select_for_update()
        .filter(provider=sub.provider.value, external_id=sub.external_id)
        .first()
    )


def apply_subscription(
    *, subscription: NormalizedSubscription, occurred_at: datetime | None = None,
    event: WebhookEvent | None = None,
) -> ApplyResult:
    """Store `subscription` unless an equal-or-newer version is already stored.

    Writes a SubscriptionChange when status, MRR, plan or currency changed, and marks the
    Salesforce sync dirty. An older version changes nothing (applied=False: the event is stale).
    """
    occurred_at = occurred_at or timezone.now()
    # apply_customer returns the customer row locked (even when its own data was stale):
    # movements of one customer serialise on it.
    customer, _ = apply_customer(customer=subscription.customer)
    row = _lock_subscription(subscription)
    if row is not None and is_stale(
        incoming=subscription.source_version, stored=row.source_version
    ):
        return ApplyResult(subscription=row, applied=False)

    values = _values_for(subscription)
    totals_before, paying_before = _customer_mrr(customer)
    if row is None:
        before_status, before_mrr, before_currency = "", 0, values["currency"]
        try:
            with transaction.atomic():
                row = Subscription.objects.create(
                    provider=subscription.provider.value, external_id=subscription.external_id,
                    customer=customer, **values,
                )
        except IntegrityError:
            # Created concurrently by another delivery: apply on top of it like an update.
            return apply_subscription(
                subscription=subscription, occurred_at=occurred_at, event=event
            )
        material = True
    else:
        before_status, before_mrr, before_currency = row.status, row.mrr, row.currency
        material = any(getattr(row, name) != values[name] for name in _MATERIAL)
        material = material or row.customer_id != customer.pk
        row.customer = customer
        for name, value in values.items():
            setattr(row, name, value)
        if subscription.deleted and row.deleted_at is None:
            row.deleted_at = occurred_at
        row.save()
    _replace_items(row, subscription)

    change = None
    if material:
        change = _record_change(
            row, customer=customer, event=event, occurred_at=occurred_at,
            before_status=before_status, before_mrr=before_mrr, before_currency=before_currency,
            totals_before=totals_before, paying_before=paying_before,
        )
    note_subscription_changed(subscription=row)
    return ApplyResult(subscription=row, applied=True, change=change)


def _totals_after(totals_before: dict[str, int], *, before_currency: str, before_mrr: int,
                  currency: str, mrr: int) -> dict[str, int]:
    """The customer's per-currency MRR after this subscription moved, without a query: only
    this subscription changed under the customer's lock."""
    totals = dict(totals_before)
    if before_mrr:
        totals[before_currency] = totals.get(before_currency, 0) - before_mrr
    totals[currency] = totals.get(currency, 0) + mrr
    return {code: total for code, total in totals.items() if total}


def _record_change(
    row: Subscription, *, customer: Customer, event: WebhookEvent | None, occurred_at: datetime,
    before_status: str, before_mrr: int, before_currency: str, totals_before: dict[str, int],
    paying_before: bool,
) -> SubscriptionChange:
    totals_after = _totals_after(totals_before, before_currency=before_currency,
                                 before_mrr=before_mrr, currency=row.currency, mrr=row.mrr)
    paying_after = any(totals_after.values())
    movement, amount = classify_movement(
        customer_paying_before=paying_before, customer_paying_after=paying_after,
        delta=row.mrr - before_mrr, customer_paid_ever=customer.first_paid_at is not None,
    )
    if movement in (Movement.NEW, Movement.REACTIVATION) and customer.first_paid_at is None:
        customer.first_paid_at = occurred_at
        customer.save(update_fields=["first_paid_at", "updated_at"])
    return SubscriptionChange.objects.create(
        subscription=row, customer=customer, event=event, occurred_at=occurred_at,
        source_version=row.source_version, status_before=before_status,
        status_after=row.status, mrr_before=before_mrr, mrr_after=row.mrr,
        customer_mrr_before=totals_before.get(row.currency, 0),
        customer_mrr_after=totals_after.get(row.currency, 0),
        currency=row.currency, movement=movement, movement_amount=amount,
    )
