"""Chargebee Catalog 1.0 coupons: their terms, looked up once and cached.

A Catalog 1.0 subscription that predates `discounts[]` only names its coupons
(`coupons[].coupon_id`); what they take off is on the coupon. When the site does not send
Chargebee's own `mrr`, MRR is computed from the items, and valuing those coupons at 0
overstated it. So the terms are looked up (`GET /coupons/{id}`) and kept in the shared cache
for a day: a coupon's terms rarely change, and every event of the same subscriptions names
the same coupons. Like the Braintree look-ups, this runs in the worker while parsing, never
in a web request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from django.core.cache import cache

from billing.providers.chargebee.errors import ChargebeeApiError

log = logging.getLogger(__name__)

CACHE_SECONDS = 24 * 3600
MISSING_CACHE_SECONDS = 3600  # a coupon Chargebee does not know: asked again after this
_KEY = "chargebee:coupon:{}"


@dataclass(frozen=True)
class CouponTerms:
    """What a coupon takes off each billing period. `item_ids` None: the whole invoice;
    otherwise only those plans and add-ons. `recurring` False for a one-time coupon."""

    coupon_id: str
    kind: str  # fixed_amount, percentage, or one we cannot value (offer_quantity, ...)
    amount: int = 0  # minor units, fixed_amount
    percentage: Fraction = Fraction(0)
    currency: str = ""
    recurring: bool = True
    item_ids: frozenset[str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"coupon_id": self.coupon_id, "kind": self.kind, "amount": self.amount,
                "percentage": str(self.percentage), "currency": self.currency,
                "recurring": self.recurring,
                "item_ids": sorted(self.item_ids) if self.item_ids is not None else None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CouponTerms:
        ids = data.get("item_ids")
        return cls(coupon_id=data["coupon_id"], kind=data["kind"], amount=data["amount"],
                   percentage=Fraction(data["percentage"]), currency=data["currency"],
                   recurring=data["recurring"],
                   item_ids=frozenset(ids) if ids is not None else None)


def terms_of(coupon: Mapping[str, Any]) -> CouponTerms:
    """A coupon resource as CouponTerms (pure)."""
    percentage = coupon.get("discount_percentage")
    try:
        percentage = Fraction(str(percentage)) if percentage is not None else Fraction(0)
    except ValueError:
        percentage = Fraction(0)
    amount = coupon.get("discount_amount")
    specific = coupon.get("apply_on") == "each_specified_item"
    item_ids = None
    if specific:
        item_ids = frozenset(str(i) for i in [*(coupon.get("plan_ids") or []),
                                              *(coupon.get("addon_ids") or [])])
    return CouponTerms(
        coupon_id=str(coupon.get("id") or ""),
        kind=str(coupon.get("discount_type") or ""),
        amount=amount if isinstance(amount, int) and not isinstance(amount, bool) else 0,
        percentage=percentage,
        currency=str(coupon.get("currency_code") or "").upper(),
        recurring=coupon.get("duration_type") != "one_time",
        item_ids=item_ids,
    )


CouponLookup = Callable[[str], "CouponTerms | None"]


class CachedCoupons:
    """A CouponLookup over the Chargebee API, through the shared cache.

    `api` builds the client only on a miss, so a fully cached event needs no network. A
    coupon Chargebee answers 404 for is None (valued at 0, as before) and remembered for an
    hour; any other API failure raises, so the event is retried.
    """

    def __init__(self, api: Callable[[], Any]):
        self._api = api
        self._client = None

    def __call__(self, coupon_id: str) -> CouponTerms | None:
        key = _KEY.format(coupon_id)
        cached = cache.get(key)
        if cached is not None:
            return CouponTerms.from_dict(cached) if cached else None
        if self._client is None:
            self._client = self._api()
        try:
            terms = terms_of(self._client.retrieve_coupon(coupon_id=coupon_id))
        except ChargebeeApiError as exc:
            if exc.status != 404:
                raise
            log.warning("chargebee coupon not found; valued at 0",
                        extra={"coupon_id": coupon_id})
            cache.set(key, {}, timeout=MISSING_CACHE_SECONDS)
            return None
        cache.set(key, terms.as_dict(), timeout=CACHE_SECONDS)
        return terms
