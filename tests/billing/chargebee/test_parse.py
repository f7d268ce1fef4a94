"""Chargebee v2 events -> ParsedEvent: every handled type, both catalogs, and the rules of
docs/metrics.md (status, past_due, MRR, renewal dates). No database."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from billing.normalized import ItemKind, PeriodUnit, Provider, Status
from billing.providers.chargebee.parse import (
    SUBSCRIPTION_EVENTS,
    ChargebeeEventError,
    parse_event,
    parse_subscription,
    read_envelope,
)
from emulator.chargebee.events import (
    DAY,
    DEFAULT_OCCURRED_AT,
    make_customer,
    make_discount,
    make_event,
    make_subscription,
)

CATALOGS = pytest.mark.parametrize("catalog", [1, 2])


def utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def only_subscription(event: dict):
    parsed = parse_event(event=event)
    assert parsed.ignored_reason == ""
    assert parsed.customers == ()
    assert len(parsed.subscriptions) == 1
    return parsed.subscriptions[0]


# -- every handled subscription event ---------------------------------------------------------

EXPECTED_STATUS = {
    "subscription_cancelled": Status.CANCELLED,
    "subscription_canceled_with_backdating": Status.CANCELLED,
    "subscription_cancellation_scheduled": Status.NON_RENEWING,
    "subscription_paused": Status.PAUSED,
    "subscription_resumption_scheduled": Status.PAUSED,
    "subscription_scheduled_resumption_removed": Status.PAUSED,
    "subscription_trial_extended": Status.TRIAL,
    "subscription_moved_out": Status.CANCELLED,  # `transferred` on the old site
}


@CATALOGS
@pytest.mark.parametrize("event_type", sorted(SUBSCRIPTION_EVENTS))
def test_every_subscription_event_applies_the_subscription(event_type, catalog):
    event = make_event(event_type, catalog=catalog, subscription_id="sub_X", customer_id="cus_Y",
                       resource_version=1_717_200_000_123)

    parsed = parse_event(event=event)

    assert parsed.event_type == event_type
    assert parsed.ignored_reason == ""
    (sub,) = parsed.subscriptions
    assert sub.provider == Provider.CHARGEBEE
    assert sub.external_id == "sub_X"
    assert sub.customer.external_id == "cus_Y"
    assert sub.customer.email == "ops@acme.example"
    assert sub.status == EXPECTED_STATUS.get(event_type, Status.ACTIVE)
    assert sub.source_version == 1_717_200_000_123
    assert sub.deleted is (event_type == "subscription_deleted")
    # Only the kept fields of what Chargebee sent (billing.minimise; tests/billing/test_minimise).
    sent = event["content"]["subscription"]
    assert sub.raw["id"] == "sub_X" and sub.raw["status"] == sent["status"]
    assert set(sub.raw) <= set(sent) and "object" not in sub.raw
    assert sub.customer.raw["email"] == "ops@acme.example"
    assert set(sub.customer.raw) <= set(event["content"]["customer"])
    assert sub.currency == "USD"
    assert sub.items[0].kind == ItemKind.PLAN


def test_the_backdated_cancellation_keeps_chargebees_spelling():
    assert "subscription_canceled_with_backdating" in SUBSCRIPTION_EVENTS
    assert "subscription_cancelled_with_backdating" not in SUBSCRIPTION_EVENTS


def test_unlisted_subscription_event_with_a_subscription_is_applied():
    sub = only_subscription(make_event("subscription_business_entity_changed"))
    assert sub.external_id == "sub_acme_1"


def test_unlisted_subscription_event_without_a_subscription_is_ignored():
    event = make_event("subscription_entitlements_created")
    event["content"] = {"subscription_entitlements_created_detail": {"subscription_id": "s"}}

    parsed = parse_event(event=event)

    assert parsed.subscriptions == ()
    assert "carries no subscription" in parsed.ignored_reason


@pytest.mark.parametrize("event_type", ["subscription_created", "mrr_updated",
                                        "subscription_deleted"])
def test_listed_subscription_event_without_subscription_is_malformed(event_type):
    event = make_event(event_type)
    del event["content"]["subscription"]

    with pytest.raises(ChargebeeEventError, match="has no subscription"):
        parse_event(event=event)


# -- catalogs: items, plan and price ids --------------------------------------------------------

def test_catalog_1_plan_addons_and_coupons():
    event = make_event(
        "subscription_changed", catalog=1, plan_unit_price=2_000, quantity=3,
        addons=[{"id": "extra-storage", "quantity": 2, "unit_price": 500}],
        coupons=["LEGACY10"],
    )

    sub = only_subscription(event)

    assert sub.plan_id == sub.price_id == "pro"
    assert [(i.kind, i.item_id, i.quantity, i.unit_amount, i.amount) for i in sub.items] == [
        (ItemKind.PLAN, "pro", 3, 2_000, 6_000),
        (ItemKind.ADDON, "extra-storage", 2, 500, 1_000),
        # Catalog 1.0 coupons carry no value in the subscription: listed, worth 0 here.
        (ItemKind.DISCOUNT, "LEGACY10", 1, 0, 0),
    ]
    assert sub.mrr == 7_000


def test_catalog_2_plan_addon_and_one_off_charge():
    event = make_event(
        "subscription_created", catalog=2, plan_unit_price=4_000, quantity=2,
        addons=[{"id": "seats", "quantity": 5, "unit_price": 300}],
        charges=[{"id": "onboarding-USD", "unit_price": 25_000}],
    )

    sub = only_subscription(event)

    assert sub.plan_id == sub.price_id == "pro-USD-Monthly"
    assert [(i.kind, i.item_id, i.amount, i.recurring) for i in sub.items] == [
        (ItemKind.PLAN, "pro-USD-Monthly", 8_000, True),
        (ItemKind.ADDON, "seats-USD-Monthly", 1_500, True),
        (ItemKind.CHARGE, "onboarding-USD", 25_000, False),
    ]
    assert sub.mrr == 9_500  # the one-off charge never counts


def test_catalog_2_tiered_line_uses_chargebees_amount():
    subscription = make_subscription(catalog=2, plan_unit_price=1_000, quantity=10)
    line = subscription["subscription_items"][0]
    del line["unit_price"]  # tiered prices report only the line total
    line["amount"] = 7_500
    subscription["item_tiers"] = [
        {"item_price_id": line["item_price_id"], "starting_unit": 1, "ending_unit": 5,
         "price": 1_000, "object": "item_tier"},
        {"item_price_id": line["item_price_id"], "starting_unit": 6, "price": 500,
         "object": "item_tier"},
    ]

    sub = parse_subscription(subscription=subscription)

    assert sub.items[0].amount == 7_500
    assert sub.mrr == 7_500


# -- MRR ----------------------------------------------------------------------------------------

@CATALOGS
def test_mrr_from_chargebees_field_wins_over_items(catalog):
    sub = only_subscription(make_event("mrr_updated", catalog=catalog, plan_unit_price=5_000,
                                       mrr=4_250))
    assert sub.mrr == 4_250


@CATALOGS
@pytest.mark.parametrize(("status", "expected"), [
    ("active", 4_250), ("non_renewing", 4_250), ("in_trial", 0), ("paused", 0),
    ("cancelled", 0), ("future", 0), ("transferred", 0),
])
def test_mrr_field_still_follows_the_status_rules(catalog, status, expected):
    sub = only_subscription(make_event("mrr_updated", catalog=catalog, status=status, mrr=4_250))
    assert sub.mrr == expected


@CATALOGS
@pytest.mark.parametrize(("unit", "period", "price", "expected"), [
    ("month", 1, 5_000, 5_000),
    ("month", 3, 30_000, 10_000),
    ("year", 1, 120_000, 10_000),
    ("year", 1, 100_000, 8_333),       # 8333.33 -> 8333
    ("week", 1, 1_000, 4_333),         # 1000 * 52 / 12 = 4333.33
    ("week", 2, 1_000, 2_167),         # 2166.67 -> 2167
    ("day", 1, 100, 3_042),            # 100 * 365 / 12 = 3041.67
])
def test_mrr_from_items_is_normalised_to_a_month(catalog, unit, period, price, expected):
    event = make_event("subscription_created", catalog=catalog, plan_unit_price=price,
                       billing_period_unit=unit, billing_period=period)

    sub = only_subscription(event)

    assert sub.billing_period == period
    assert sub.billing_period_unit == PeriodUnit(unit)
    assert sub.mrr == expected


@CATALOGS
def test_trial_counts_zero_until_it_converts(catalog):
    trial = only_subscription(make_event("subscription_created", catalog=catalog,
                                         status="in_trial", plan_unit_price=9_900))
    converted = only_subscription(make_event("subscription_activated", catalog=catalog,
                                             plan_unit_price=9_900))
    assert (trial.status, trial.mrr) == (Status.TRIAL, 0)
    assert (converted.status, converted.mrr) == (Status.ACTIVE, 9_900)


@CATALOGS
def test_percentage_discount_on_the_whole_subscription(catalog):
    event = make_event(
        "subscription_changed", catalog=catalog, plan_unit_price=10_000,
        addons=[{"id": "seats", "quantity": 2, "unit_price": 1_000}],
        discounts=[make_discount(percentage=12.5, coupon_id="SPRING")],
    )

    sub = only_subscription(event)

    discount = sub.items[-1]
    assert (discount.kind, discount.item_id, discount.amount) == (
        ItemKind.DISCOUNT, "SPRING", 1_500)
    assert sub.mrr == 12_000 - 1_500


def test_percentage_discount_on_one_item_price():
    event = make_event(
        "subscription_changed", catalog=2, plan_unit_price=10_000,
        addons=[{"id": "seats", "quantity": 2, "unit_price": 1_000}],
        discounts=[make_discount(percentage=50, apply_on="specific_item_price",
                                 item_price_id="seats-USD-Monthly")],
    )
    assert only_subscription(event).mrr == 12_000 - 1_000


def test_fixed_discount_on_an_annual_plan_is_spread_over_the_year():
    event = make_event(
        "subscription_renewed", catalog=2, plan_unit_price=120_000, billing_period_unit="year",
        discounts=[make_discount(amount=24_000, coupon_id=None)],
    )

    sub = only_subscription(event)

    assert sub.items[-1].item_id.startswith("disc_")  # manual discount: its own id
    assert sub.mrr == (120_000 - 24_000) // 12


def test_one_time_discount_does_not_lower_mrr_unless_the_site_counts_it():
    one_time = make_discount(amount=2_000, duration_type="one_time")
    counted = make_discount(amount=2_000, duration_type="one_time", included_in_mrr=True)

    plain = only_subscription(make_event("subscription_created", discounts=[one_time]))
    included = only_subscription(make_event("subscription_created", discounts=[counted]))

    assert plain.items[-1].recurring is False
    assert plain.mrr == 5_000
    assert included.mrr == 3_000


def test_limited_period_discount_counts_while_it_applies():
    event = make_event("subscription_created",
                       discounts=[make_discount(percentage=20, duration_type="limited_period")])
    assert only_subscription(event).mrr == 4_000


def test_discounts_never_make_mrr_negative():
    event = make_event("subscription_created", plan_unit_price=1_000,
                       discounts=[make_discount(amount=5_000)])
    assert only_subscription(event).mrr == 0


# -- statuses and past_due ----------------------------------------------------------------------

@CATALOGS
@pytest.mark.parametrize(("provider_status", "status"), [
    ("future", Status.FUTURE),
    ("in_trial", Status.TRIAL),
    ("active", Status.ACTIVE),
    ("non_renewing", Status.NON_RENEWING),
    ("paused", Status.PAUSED),
    ("cancelled", Status.CANCELLED),
    ("transferred", Status.CANCELLED),
])
def test_status_mapping(catalog, provider_status, status):
    sub = only_subscription(make_event("subscription_changed", catalog=catalog,
                                       status=provider_status))
    assert sub.status == status
    assert sub.provider_status == provider_status


def test_unknown_status_is_an_error_naming_it():
    event = make_event("subscription_changed", status="archived")
    with pytest.raises(ChargebeeEventError, match="'archived'"):
        parse_event(event=event)


@CATALOGS
def test_active_with_due_invoices_is_past_due_and_keeps_its_mrr(catalog):
    sub = only_subscription(make_event("subscription_renewed", catalog=catalog,
                                       due_invoices_count=1))
    assert sub.status == Status.PAST_DUE
    assert sub.provider_status == "active"
    assert sub.mrr == 5_000
    assert sub.next_renewal_at == sub.current_term_end


def test_total_dues_alone_make_it_past_due():
    subscription = make_subscription(total_dues=1_200)
    assert subscription["due_invoices_count"] == 0
    assert parse_subscription(subscription=subscription).status == Status.PAST_DUE


@CATALOGS
def test_payment_failed_marks_the_subscription_past_due(catalog):
    event = make_event("payment_failed", catalog=catalog, due_invoices_count=0)
    assert event["content"]["transaction"]["status"] == "failure"

    sub = only_subscription(event)

    assert sub.status == Status.PAST_DUE


def test_payment_succeeded_without_dues_brings_it_back_to_active():
    sub = only_subscription(make_event("payment_succeeded", due_invoices_count=0))
    assert sub.status == Status.ACTIVE


def test_payment_succeeded_with_other_dues_left_stays_past_due():
    sub = only_subscription(make_event("payment_succeeded", due_invoices_count=1))
    assert sub.status == Status.PAST_DUE


@pytest.mark.parametrize("provider_status", ["non_renewing", "cancelled", "in_trial"])
def test_dues_do_not_turn_other_statuses_into_past_due(provider_status):
    sub = only_subscription(make_event("payment_failed", status=provider_status,
                                       due_invoices_count=2))
    assert sub.status != Status.PAST_DUE


@pytest.mark.parametrize("event_type", ["payment_failed", "payment_succeeded"])
def test_payment_for_an_invoice_without_subscription_is_ignored(event_type):
    event = make_event(event_type, with_subscription=False)
    assert "subscription" not in event["content"]

    parsed = parse_event(event=event)

    assert parsed.subscriptions == () and parsed.customers == ()
    assert parsed.ignored_reason == f"{event_type} is not for a subscription"


# -- dates --------------------------------------------------------------------------------------

def test_times_are_aware_utc_datetimes():
    event = make_event("subscription_created", term_start=DEFAULT_OCCURRED_AT - 5 * DAY)

    sub = only_subscription(event)

    raw = event["content"]["subscription"]
    assert sub.started_at == utc(raw["started_at"])
    assert sub.current_term_start == utc(DEFAULT_OCCURRED_AT - 5 * DAY)
    assert sub.current_term_end == utc(DEFAULT_OCCURRED_AT + 25 * DAY)
    assert sub.next_renewal_at == sub.current_term_end
    assert sub.started_at.tzinfo is UTC
    assert sub.cancelled_at is None and sub.trial_end is None


def test_renewal_falls_back_to_next_billing_at():
    subscription = make_subscription(current_term_end=None)
    sub = parse_subscription(subscription=subscription)
    assert sub.current_term_end is None
    assert sub.next_renewal_at == utc(subscription["next_billing_at"])


def test_trial_renews_at_trial_end():
    trial_end = DEFAULT_OCCURRED_AT + 20 * DAY
    sub = only_subscription(make_event("subscription_trial_extended", trial_end=trial_end))
    assert sub.status == Status.TRIAL
    assert sub.trial_end == sub.next_renewal_at == utc(trial_end)


@pytest.mark.parametrize("provider_status", ["non_renewing", "cancelled", "paused",
                                             "transferred"])
def test_no_renewal_date_when_it_will_not_renew(provider_status):
    sub = only_subscription(make_event("subscription_changed", status=provider_status))
    assert sub.current_term_end is not None
    assert sub.next_renewal_at is None


def test_future_subscription_starts_and_renews_at_its_start_date():
    sub = only_subscription(make_event("subscription_created", status="future"))
    start = utc(DEFAULT_OCCURRED_AT + 10 * DAY)
    assert (sub.status, sub.started_at, sub.next_renewal_at, sub.mrr) == (
        Status.FUTURE, start, start, 0)


def test_scheduled_cancellation_keeps_mrr_and_the_end_date():
    event = make_event("subscription_cancellation_scheduled")
    sub = only_subscription(event)
    assert sub.status == Status.NON_RENEWING
    assert sub.mrr == 5_000
    assert sub.cancelled_at == sub.current_term_end


def test_cancellation_reason_prefers_cancel_reason_then_the_code():
    with_reason = only_subscription(make_event("subscription_cancelled"))
    only_code = only_subscription(make_event("subscription_cancelled",
                                             cancel_reason_code="Switched to competitor"))
    assert with_reason.cancel_reason == "not_paid"
    assert only_code.cancel_reason == "Switched to competitor"
    assert with_reason.cancelled_at is not None


def test_contract_term_dates():
    event = make_event("subscription_created", contract_term=True,
                       term_start=DEFAULT_OCCURRED_AT)
    sub = only_subscription(event)
    assert sub.contract_term_start == utc(DEFAULT_OCCURRED_AT)
    assert sub.contract_term_end == utc(DEFAULT_OCCURRED_AT + 365 * DAY)


def test_currency_is_kept_in_upper_case():
    sub = only_subscription(make_event("subscription_created", currency_code="eur"))
    assert sub.currency == "EUR"


# -- customers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("event_type", ["customer_created", "customer_changed",
                                        "customer_deleted"])
def test_customer_events(event_type):
    event = make_event(event_type, customer_id="cus_42")

    parsed = parse_event(event=event)

    assert parsed.subscriptions == ()
    (customer,) = parsed.customers
    assert customer.provider == Provider.CHARGEBEE
    assert (customer.external_id, customer.email, customer.company) == (
        "cus_42", "ops@acme.example", "Acme Ltd")
    assert (customer.first_name, customer.last_name) == ("Ada", "Lovelace")
    assert customer.source_version == event["content"]["customer"]["resource_version"]
    assert customer.deleted is (event_type == "customer_deleted")
    assert customer.raw["id"] == "cus_42" and customer.raw["company"] == "Acme Ltd"
    assert set(customer.raw) <= set(event["content"]["customer"])


def test_customer_deleted_flag_comes_from_the_event_type():
    event = make_event("customer_deleted")
    event["content"]["customer"]["deleted"] = False
    assert parse_event(event=event).customers[0].deleted is True


def test_customer_event_without_customer_is_malformed():
    event = make_event("customer_changed")
    event["content"] = {}
    with pytest.raises(ChargebeeEventError, match="has no customer"):
        parse_event(event=event)


def test_customer_without_company_has_empty_company():
    event = make_event("customer_created", customer=make_customer(company=None))
    assert parse_event(event=event).customers[0].company == ""


def test_subscription_without_customer_refers_to_it_by_id_only():
    event = make_event("subscription_changed", customer_id="cus_9")
    del event["content"]["customer"]

    sub = only_subscription(event)

    assert sub.customer.external_id == "cus_9"
    assert sub.customer.source_version is None
    assert sub.customer.email == ""


def test_subscription_and_customer_that_disagree_are_malformed():
    event = make_event("subscription_changed", customer_id="cus_A",
                       customer=make_customer(customer_id="cus_B"))
    with pytest.raises(ChargebeeEventError, match="cus_A"):
        parse_event(event=event)


# -- ignored types ------------------------------------------------------------------------------

@pytest.mark.parametrize("event_type", ["invoice_generated", "card_added", "plan_created",
                                        "payment_refunded", "coupon_created"])
def test_other_event_types_are_ignored_with_a_reason(event_type):
    parsed = parse_event(event=make_event(event_type))
    assert parsed.event_type == event_type
    assert parsed.subscriptions == () and parsed.customers == ()
    assert parsed.ignored_reason == f"{event_type} does not change subscriptions or customers"


# -- envelope and malformed bodies --------------------------------------------------------------

def test_envelope_gives_id_type_and_time():
    event = make_event("subscription_created", event_id="ev_1", occurred_at=1_700_000_000)
    envelope = read_envelope(event=event)
    assert (envelope.event_id, envelope.event_type, envelope.api_version, envelope.source) == (
        "ev_1", "subscription_created", "v2", "admin_console")
    assert envelope.occurred_at == utc(1_700_000_000)


@pytest.mark.parametrize("encode", [json.dumps, lambda e: json.dumps(e).encode()])
def test_json_text_bodies_are_accepted(encode):
    event = make_event("subscription_created")
    assert parse_event(event=encode(event)).subscriptions[0].external_id == "sub_acme_1"


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda e: e.pop("id"), "event.id is missing"),
    (lambda e: e.update(id=""), "event.id is missing"),
    (lambda e: e.pop("event_type"), "event.event_type is missing"),
    (lambda e: e.pop("occurred_at"), "event.occurred_at is missing"),
    (lambda e: e.update(occurred_at="yesterday"), "occurred_at must be an integer"),
    (lambda e: e.pop("content"), "has no content object"),
    (lambda e: e.update(content=[]), "has no content object"),
    (lambda e: e.update(api_version="v1"), "api_version is 'v1'"),
    (lambda e: e.pop("api_version"), "api_version is None"),
    (lambda e: e["content"]["subscription"].pop("id"), "subscription.id is missing"),
    (lambda e: e["content"]["subscription"].pop("customer_id"),
     "subscription.customer_id is missing"),
    (lambda e: e["content"]["subscription"].pop("status"), "subscription.status is missing"),
    (lambda e: e["content"]["subscription"].update(current_term_end="soon"),
     "subscription.current_term_end must be an integer"),
    (lambda e: e["content"]["subscription"].update(billing_period_unit="fortnight"),
     "billing_period_unit 'fortnight'"),
    (lambda e: e["content"].update(subscription="sub_1"), "must be a JSON object"),
    (lambda e: e["content"]["subscription"].update(subscription_items={"a": 1}),
     "must be a JSON array of objects"),
])
def test_malformed_bodies_raise_an_actionable_error(mutate, message):
    event = make_event("subscription_created")
    mutate(event)
    with pytest.raises(ChargebeeEventError, match=message.replace("(", r"\(")):
        parse_event(event=event)


def test_v1_error_tells_what_to_change_in_chargebee():
    event = make_event("subscription_created")
    event["api_version"] = "v1"
    with pytest.raises(ChargebeeEventError, match="set the webhook's API version to v2"):
        parse_event(event=event)


def test_ignored_types_are_still_validated():
    event = make_event("invoice_generated")
    del event["id"]
    with pytest.raises(ChargebeeEventError):
        parse_event(event=event)


@pytest.mark.parametrize("body", ["not json", b"\xff\xfe", "[1, 2]", "null"])
def test_bodies_that_are_not_json_objects(body):
    with pytest.raises(ChargebeeEventError, match="JSON"):
        parse_event(event=body)


def test_the_error_is_a_value_error_for_generic_handlers():
    assert issubclass(ChargebeeEventError, ValueError)
