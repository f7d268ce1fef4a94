"""Subscriptions: the row a normalised subscription becomes, and the reads and writes a batch
needs for many subscriptions at once.

The rules (ordering by version, what counts as a material change, the per-customer MRR
totals a movement is classified against) are small pure functions here; the order in which
they are applied is billing.services.batch, which uses this module (never the reverse):
applying even one subscription is a batch of one (batch.apply_subscription).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Sum

from billing.models import Subscription, SubscriptionChange, SubscriptionItem
from billing.normalized import NormalizedItem, NormalizedSubscription, Status
from billing.services.customers import Key, keys_filter
from billing.services.upsert import insert_rows

# Fields copied as they are from the normalised shape onto the row.
COPIED = (
    "status", "provider_status", "plan_id", "price_id", "currency", "mrr", "billing_period",
    "billing_period_unit", "started_at", "trial_end", "current_term_start", "current_term_end",
    "next_renewal_at", "cancelled_at", "cancel_reason", "contract_term_start",
    "contract_term_end", "source_version", "raw",
)
# A change of any of these is worth a ledger row.
MATERIAL = ("status", "mrr", "plan_id", "price_id", "currency")


@dataclass(frozen=True)
class ApplyResult:
    subscription: Subscription
    applied: bool
    change: SubscriptionChange | None = None


def key_of(sub: NormalizedSubscription) -> Key:
    return sub.provider.value, sub.external_id


def values_for(sub: NormalizedSubscription) -> dict:
    """The row's fields for `sub`."""
    values = {name: getattr(sub, name) for name in COPIED}
    values["status"] = Status(sub.status).value
    values["billing_period_unit"] = str(sub.billing_period_unit)
    values["currency"] = (sub.currency or "").upper()
    if sub.deleted:
        # A deleted subscription is gone from billing: it no longer counts.
        values["mrr"] = 0
    return values


def totals_moved(totals: dict[str, int], *, currency: str, amount: int) -> dict[str, int]:
    """A customer's per-currency MRR totals with `amount` added in `currency` (zeros dropped)."""
    moved = dict(totals)
    moved[currency] = moved.get(currency, 0) + amount
    return {code: total for code, total in moved.items() if total}


def lock_subscriptions(keys: set[Key]) -> dict[Key, Subscription]:
    """The stored subscriptions of `keys`, locked for this transaction in key order.

    Without the provider's snapshot (`raw`): applying a newer version replaces it, and an
    older one writes nothing, so decoding each stored document was wasted work.
    """
    if not keys:
        return {}
    rows = (Subscription.objects.select_for_update().filter(keys_filter(keys))
            .defer("raw").order_by("provider", "external_id"))
    return {(row.provider, row.external_id): row for row in rows}


def customer_totals(customer_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Per-customer, per-currency MRR of what is stored (customers locked by the caller)."""
    totals: dict[int, dict[str, int]] = {pk: {} for pk in customer_ids}
    rows = (Subscription.objects.filter(customer_id__in=list(totals), mrr__gt=0)
            .values("customer_id", "currency").annotate(total=Sum("mrr")))
    for row in rows:
        totals[row["customer_id"]][row["currency"]] = row["total"]
    return totals


def _item_values(kind, item_id, quantity, unit_amount, amount, recurring) -> tuple:
    return (str(kind), item_id, quantity, unit_amount, amount, recurring)


def replace_items(items: dict[Subscription, tuple[NormalizedItem, ...]]) -> None:
    """Make each subscription's stored items exactly `items[subscription]`.

    Items that are already exactly so are left alone: most events (renewals, payments) do
    not change them, and rewriting them cost a DELETE and an INSERT of every row.
    """
    wanted = {row.pk: [_item_values(i.kind, i.item_id, i.quantity, i.unit_amount, i.amount,
                                    i.recurring) for i in row_items]
              for row, row_items in items.items()}
    stored: dict[int, list[tuple]] = {pk: [] for pk in wanted}
    for pk, *values in (SubscriptionItem.objects.filter(subscription__in=list(wanted))
                        .order_by("subscription_id", "pk")
                        .values_list("subscription_id", "kind", "item_id", "quantity",
                                     "unit_amount", "amount", "recurring")):
        stored[pk].append(_item_values(*values))
    changed = {pk for pk in wanted if wanted[pk] != stored[pk]}
    if not changed:
        return
    SubscriptionItem.objects.filter(subscription__in=list(changed)).delete()
    insert_rows(SubscriptionItem, [
        SubscriptionItem(subscription_id=pk, kind=kind, item_id=item_id, quantity=quantity,
                         unit_amount=unit_amount, amount=amount, recurring=recurring)
        for pk in sorted(changed)
        for kind, item_id, quantity, unit_amount, amount, recurring in wanted[pk]
    ])

