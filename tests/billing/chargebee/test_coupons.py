"""Chargebee Catalog 1.0 coupons a subscription only names are valued from the coupon's own
terms, looked up once and cached, when Chargebee sends no `mrr` (issue 15, gap 8)."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache

from billing.models import Subscription
from billing.providers.chargebee.api import ChargebeeApiError
from billing.providers.chargebee.coupons import CachedCoupons, CouponTerms, terms_of
from billing.providers.chargebee.parse import parse_subscription
from billing.services import intake, processing
from emulator.chargebee.events import make_event, make_subscription

PLAN = 5_000  # minor units a month


def coupon(coupon_id: str, **terms) -> dict:
    return {"id": coupon_id, "name": coupon_id, "status": "active",
            "duration_type": "forever", "apply_on": "invoice_amount", **terms}


TEN_PERCENT = coupon("TEN", discount_type="percentage", discount_percentage=10.0)
TWELVE_OFF = coupon("TWELVE", discount_type="fixed_amount", discount_amount=1_200,
                    currency_code="USD")
WELCOME = coupon("WELCOME", discount_type="fixed_amount", discount_amount=2_000,
                 currency_code="USD", duration_type="one_time")
EURO_OFF = coupon("EURO", discount_type="fixed_amount", discount_amount=500,
                  currency_code="EUR")
SEATS_HALF = coupon("SEATS", discount_type="percentage", discount_percentage=50,
                    apply_on="each_specified_item", addon_ids=["seats"])


def lookup_of(*coupons: dict):
    known = {c["id"]: terms_of(c) for c in coupons}
    asked: list[str] = []

    def lookup(coupon_id: str) -> CouponTerms | None:
        asked.append(coupon_id)
        return known.get(coupon_id)

    lookup.asked = asked
    return lookup


def mrr_of(names: tuple[str, ...], *, lookup, **fields) -> int:
    sub = make_subscription(catalog=1, plan_unit_price=PLAN, coupons=names, **fields)
    return parse_subscription(subscription=sub, coupons=lookup).mrr


@pytest.mark.parametrize(("names", "expected"), [
    ((), PLAN),
    (("TEN",), PLAN - 500),  # 10% of 50.00
    (("TWELVE",), PLAN - 1_200),
    (("TEN", "TWELVE"), PLAN - 500 - 1_200),
    (("WELCOME",), PLAN),  # one-time: not recurring revenue
    (("EURO",), PLAN),  # another currency than the subscription's: cannot be valued
    (("UNKNOWN",), PLAN),  # Chargebee does not know it: 0, as before
], ids=["none", "percent", "fixed", "both", "one-time", "other-currency", "unknown"])
def test_named_coupons_are_valued_from_their_terms(names, expected):
    lookup = lookup_of(TEN_PERCENT, TWELVE_OFF, WELCOME, EURO_OFF)
    assert mrr_of(names, lookup=lookup) == expected


def test_a_coupon_on_specific_items_takes_off_only_those():
    lookup = lookup_of(SEATS_HALF)
    seats = [{"id": "seats", "quantity": 4, "unit_price": 1_000, "amount": 4_000}]
    # 50% of the 40.00 of seats, nothing off the plan's 50.00.
    assert mrr_of(("SEATS",), lookup=lookup, addons=seats) == PLAN + 4_000 - 2_000


def test_a_discount_never_exceeds_what_it_applies_to():
    big = coupon("BIG", discount_type="fixed_amount", discount_amount=99_999,
                 currency_code="USD")
    assert mrr_of(("BIG",), lookup=lookup_of(big)) == 0


def test_chargebee_s_own_mrr_wins_and_nothing_is_looked_up():
    lookup = lookup_of(TEN_PERCENT)
    assert mrr_of(("TEN",), lookup=lookup, mrr=4_321) == 4_321
    assert lookup.asked == []


# -- through the API and the cache ---------------------------------------------------------


@pytest.fixture
def chargebee(chargebee_server):
    chargebee_server.add_coupon(TEN_PERCENT)
    for key in ("TEN", "GONE"):
        cache.delete(f"chargebee:coupon:{key}")
    return chargebee_server


def coupon_requests(server) -> list[str]:
    return [r.path for r in server.requests if "/coupons/" in r.path]


def test_a_coupon_is_asked_for_once_then_read_from_the_cache(chargebee):
    from billing.providers.chargebee.client import api_from_settings

    first = CachedCoupons(api=api_from_settings)("TEN")
    again = CachedCoupons(api=api_from_settings)("TEN")  # another worker, say
    assert first == again and first.percentage == 10
    assert len(coupon_requests(chargebee)) == 1
    # Unknown to Chargebee: None, and remembered too.
    assert CachedCoupons(api=api_from_settings)("GONE") is None
    assert CachedCoupons(api=api_from_settings)("GONE") is None
    assert len(coupon_requests(chargebee)) == 2


def test_a_failing_look_up_raises_so_the_event_is_retried(chargebee):
    from billing.providers.chargebee.client import api_from_settings

    chargebee.rate_limit(times=5, retry_after=0)
    with pytest.raises(ChargebeeApiError) as caught:
        CachedCoupons(api=api_from_settings)("TEN")
    assert not caught.value.permanent


@pytest.mark.django_db
def test_a_webhook_event_of_a_catalog_1_site_without_mrr_stores_the_discounted_mrr(chargebee):
    event = make_event("subscription_created", catalog=1, plan_unit_price=PLAN,
                       subscription_id="sub_c1", coupons=["TEN"])
    assert "mrr" not in event["content"]["subscription"]
    stored = intake.store_event(provider="chargebee", event_id=event["id"],
                                event_type=event["event_type"], body=json.dumps(event))

    assert processing.process_event(event_id=stored.pk) == "processed"
    assert Subscription.objects.get(external_id="sub_c1").mrr == PLAN - 500
