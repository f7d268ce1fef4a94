"""What Salesforce is told about plans and add-ons: pure functions, no I/O.

Each billing plan and add-on (of either provider) is one Product2, keyed by the external id
`<provider>:<item id>` like Accounts and Contracts, with one PricebookEntry per currency in
the org's standard price book. A subscription's priced lines are its recurring plan and
add-on items with its discounts spread over them, so that the line items of a renewal
Opportunity add up to what billing will actually charge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from crm.mapping import digest

__all__ = ["digest"]

PRODUCT = "Product2"
PRICE_BOOK = "Pricebook2"
ENTRY = "PricebookEntry"
PRODUCT_EXTERNAL_ID = "Subsync_Product_Id__c"
PRODUCT_KINDS = ("plan", "addon")
DISCOUNT_KIND = "discount"
# The describe types each Product2 field must have (checked by salesforce_check, and held to
# crm/salesforce/metadata by a test).
PRODUCT_FIELD_TYPES: dict[str, frozenset[str]] = {
    PRODUCT_EXTERNAL_ID: frozenset({"string"}),
    "Name": frozenset({"string"}),
    "ProductCode": frozenset({"string"}),
    "IsActive": frozenset({"boolean"}),
    "CanUseRevenueSchedule": frozenset({"boolean"}),
}


@dataclass(frozen=True)
class PricedLine:
    """One recurring plan or add-on line of a subscription, discounts applied.

    `period_amount` is what billing charges for it per billing period, in minor units.
    """

    product_ref: str
    item_id: str
    kind: str
    quantity: int
    unit_amount: int
    period_amount: int


def product_ref(provider: str, item_id: str) -> str:
    return f"{provider}:{item_id}"


def product_record(*, ref: str, item_id: str, name: str) -> dict[str, Any]:
    """The Product2 to upsert: active, revenue schedules allowed (no default schedule, so
    Salesforce does not add its own schedule rows beside the ones subsync writes)."""
    return {
        PRODUCT_EXTERNAL_ID: ref,
        "Name": (name or item_id)[:255],
        "ProductCode": item_id[:255],
        "IsActive": True,
        "CanUseRevenueSchedule": True,
    }


def entry_record(*, pricebook_id: str, product_id: str, unit_price: int | float,
                 currency: str) -> dict[str, Any]:
    """A standard price book entry; `currency` empty in an org without multi-currency."""
    record: dict[str, Any] = {"Pricebook2Id": pricebook_id, "Product2Id": product_id,
                              "UnitPrice": unit_price, "IsActive": True}
    if currency:
        record["CurrencyIsoCode"] = currency
    return record


def priced_lines(*, provider: str, items: Iterable[Any]) -> list[PricedLine]:
    """Recurring plan and add-on items with recurring discounts spread over them in
    proportion to their amounts (largest remainder, so the lines sum to billing's total)."""
    items = list(items)
    lines = [i for i in items if i.kind in PRODUCT_KINDS and i.recurring and i.quantity > 0]
    discount = sum(max(0, i.amount) for i in items if i.kind == DISCOUNT_KIND and i.recurring)
    gross = sum(max(0, i.amount) for i in lines)
    discount = min(discount, gross)
    shares = _spread(discount, [max(0, i.amount) for i in lines])
    return [
        PricedLine(product_ref=product_ref(provider, i.item_id), item_id=i.item_id, kind=i.kind,
                   quantity=int(i.quantity), unit_amount=int(i.unit_amount),
                   period_amount=max(0, i.amount) - share)
        for i, share in zip(lines, shares, strict=True)
    ]


def _spread(total: int, weights: list[int]) -> list[int]:
    """`total` split in proportion to `weights` in whole units, summing to `total`."""
    whole = sum(weights)
    if not total or not whole:
        return [0] * len(weights)
    exact = [total * w for w in weights]
    parts = [e // whole for e in exact]
    left = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] % whole), i))
    for i in order[:left]:
        parts[i] += 1
    return parts
