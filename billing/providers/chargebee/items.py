"""A Chargebee subscription's priced lines, as provider-neutral items.

Chargebee has two product catalogs and a site uses one of them:

* Product Catalog 1.0: the plan is on the subscription itself (`plan_id`, `plan_quantity`,
  `plan_unit_price`, `plan_amount`), recurring add-ons in `addons[]`, coupons in `coupons[]`.
* Product Catalog 2.0: every line is in `subscription_items[]` with an `item_type` of plan, addon
  or charge; tiered prices only report the line's `amount` (tiers are in `item_tiers[]`).

Both report applied discounts in `discounts[]`; older Catalog 1.0 subscriptions only name their
coupons, whose terms are looked up (billing.providers.chargebee.coupons). The items are what
`billing.mrr.items_mrr` needs when the site does not send Chargebee's own `mrr`, and what the
dashboard shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from billing.normalized import ItemKind, NormalizedItem
from billing.providers.chargebee._values import read_int, read_list, read_str
from billing.providers.chargebee.errors import ChargebeeEventError

if TYPE_CHECKING:  # items stay pure: the look-up is handed in
    from billing.providers.chargebee.coupons import CouponLookup, CouponTerms

_ITEM_KINDS = {"plan": ItemKind.PLAN, "addon": ItemKind.ADDON, "charge": ItemKind.CHARGE}


def catalog_version(*, subscription: Mapping[str, Any]) -> int:
    """2 when the subscription uses Product Catalog 2.0 (`subscription_items`), else 1."""
    return 2 if subscription.get("subscription_items") is not None else 1


def plan_price_id(*, subscription: Mapping[str, Any]) -> str:
    """The id of what the customer is on: `plan_id` (1.0) or the plan line's item price (2.0).

    A 2.0 subscription does not carry the plan's item id, only the item price id, so both
    `plan_id` and `price_id` of the normalised subscription use it.
    """
    if catalog_version(subscription=subscription) == 1:
        return read_str(subscription, "plan_id", where="subscription")
    for line in read_list(subscription, "subscription_items", where="subscription"):
        if line.get("item_type") == "plan":
            return read_str(line, "item_price_id", where="subscription.subscription_items[]")
    return ""


def subscription_items(*, subscription: Mapping[str, Any],
                       coupons: CouponLookup | None = None) -> tuple[NormalizedItem, ...]:
    """Plan, add-on, charge and discount lines of a subscription of either catalog.

    `coupons` values the coupons a Catalog 1.0 subscription only names (no `discounts[]`);
    without it they are listed at 0.
    """
    if catalog_version(subscription=subscription) == 2:
        lines = _catalog2_lines(subscription)
    else:
        lines = _catalog1_lines(subscription)
    return (*lines, *_discount_lines(subscription, lines, coupons))


def _line(kind: ItemKind, item_id: str, data: Mapping[str, Any], *, where: str,
          quantity_key: str = "quantity", unit_key: str = "unit_price",
          amount_key: str = "amount", recurring: bool = True) -> NormalizedItem:
    quantity = read_int(data, quantity_key, where=where, default=1)
    unit = read_int(data, unit_key, where=where, default=0)
    # `amount` is what Chargebee bills per period (free quantity and tiers applied); only when it
    # is missing do we fall back to unit price x quantity.
    amount = read_int(data, amount_key, where=where, default=unit * quantity)
    return NormalizedItem(
        kind=kind, item_id=item_id, quantity=quantity, unit_amount=unit, amount=amount,
        recurring=recurring,
    )


def _catalog1_lines(sub: Mapping[str, Any]) -> list[NormalizedItem]:
    lines: list[NormalizedItem] = []
    plan_id = read_str(sub, "plan_id", where="subscription")
    if plan_id:
        lines.append(_line(
            ItemKind.PLAN, plan_id, sub, where="subscription", quantity_key="plan_quantity",
            unit_key="plan_unit_price", amount_key="plan_amount",
        ))
    for addon in read_list(sub, "addons", where="subscription"):
        where = "subscription.addons[]"
        lines.append(_line(ItemKind.ADDON, read_str(addon, "id", where=where), addon, where=where))
    for addon in read_list(sub, "event_based_addons", where="subscription"):
        # Charged once when something happens (activation, a plan change): never recurring.
        where = "subscription.event_based_addons[]"
        lines.append(_line(
            ItemKind.CHARGE, read_str(addon, "id", where=where), addon, where=where,
            recurring=False,
        ))
    return lines


def _catalog2_lines(sub: Mapping[str, Any]) -> list[NormalizedItem]:
    lines: list[NormalizedItem] = []
    where = "subscription.subscription_items[]"
    for line in read_list(sub, "subscription_items", where="subscription"):
        kind = _ITEM_KINDS.get(read_str(line, "item_type", where=where), ItemKind.ADDON)
        lines.append(_line(
            kind, read_str(line, "item_price_id", where=where), line, where=where,
            recurring=kind != ItemKind.CHARGE,
        ))
    return lines


def _discount_lines(sub: Mapping[str, Any], lines: list[NormalizedItem],
                    coupons: CouponLookup | None) -> list[NormalizedItem]:
    discounts = read_list(sub, "discounts", where="subscription")
    if not discounts:
        # Catalog 1.0 sites that predate `discounts[]` only name the coupons; their value is not
        # in the subscription: the coupon's own terms give it (looked up), else 0.
        currency = read_str(sub, "currency_code", where="subscription").upper()
        return [
            _coupon_line(read_str(c, "coupon_id", where="subscription.coupons[]"), lines,
                         coupons=coupons, currency=currency)
            for c in read_list(sub, "coupons", where="subscription")
        ]
    return [_discount_line(discount, lines) for discount in discounts]


def _coupon_line(coupon_id: str, lines: list[NormalizedItem], *,
                 coupons: CouponLookup | None, currency: str) -> NormalizedItem:
    terms = coupons(coupon_id) if coupons is not None and coupon_id else None
    amount = _coupon_amount(terms, lines, currency=currency) if terms is not None else 0
    return NormalizedItem(
        kind=ItemKind.DISCOUNT, item_id=coupon_id, quantity=1,
        unit_amount=amount if terms is not None and terms.kind == "fixed_amount" else 0,
        amount=amount, recurring=terms.recurring if terms is not None else True,
    )


def _coupon_amount(terms: CouponTerms, lines: list[NormalizedItem], *, currency: str) -> int:
    """What the coupon takes off a period of these lines (never more than they cost)."""
    base = _recurring_base(lines, terms.item_ids)
    if terms.kind == "percentage":
        amount = int(base * terms.percentage / 100 + Fraction(1, 2))  # half up
    elif terms.kind == "fixed_amount" and terms.currency in ("", currency):
        # On specific items, the amount comes off each of them.
        times = 1 if terms.item_ids is None else sum(
            1 for line in _recurring(lines) if line.item_id in terms.item_ids)
        amount = terms.amount * times
    else:
        amount = 0  # offer_quantity, another currency: not derivable here
    return max(0, min(amount, base))


def _discount_line(discount: Mapping[str, Any], lines: list[NormalizedItem]) -> NormalizedItem:
    where = "subscription.discounts[]"
    kind = read_str(discount, "type", where=where)
    if kind == "percentage":
        base = _discount_base(discount, lines)
        percentage = _percentage(discount, where=where)
        amount = int(base * percentage / 100 + Fraction(1, 2))  # half up, amounts are >= 0
        unit = 0
    elif kind == "fixed_amount":
        unit = amount = read_int(discount, "amount", where=where, default=0) or 0
    else:
        # offer_quantity (free units) and future types: value not derivable here.
        unit = amount = 0
    # A one-time discount does not lower recurring revenue unless the site chose to count it.
    recurring = (
        discount.get("duration_type") != "one_time" or discount.get("included_in_mrr") is True
    )
    item_id = read_str(discount, "coupon_id", where=where) or read_str(discount, "id", where=where)
    return NormalizedItem(
        kind=ItemKind.DISCOUNT, item_id=item_id, quantity=1, unit_amount=unit, amount=amount,
        recurring=recurring,
    )


def _percentage(discount: Mapping[str, Any], *, where: str) -> Fraction:
    value = discount.get("percentage")
    if value is None:
        return Fraction(0)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ChargebeeEventError(f"{where}.percentage must be a number, got {value!r}")
    try:
        return Fraction(str(value))
    except ValueError as exc:
        raise ChargebeeEventError(f"{where}.percentage must be a number, got {value!r}") from exc


def _discount_base(discount: Mapping[str, Any], lines: list[NormalizedItem]) -> int:
    """What a percentage discount applies to: one item price, or the recurring total."""
    if discount.get("apply_on") == "specific_item_price":
        return _recurring_base(lines, frozenset({discount.get("item_price_id")}))
    return _recurring_base(lines, None)


def _recurring(lines: list[NormalizedItem]) -> list[NormalizedItem]:
    return [line for line in lines if line.recurring and line.kind != ItemKind.CHARGE]


def _recurring_base(lines: list[NormalizedItem], item_ids: frozenset | None) -> int:
    """The recurring total of `item_ids` (all recurring lines when None)."""
    return sum(line.amount for line in _recurring(lines)
               if item_ids is None or line.item_id in item_ids)
