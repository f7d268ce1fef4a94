"""Braintree webhook verification and normalisation, with notifications signed for real."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from billing.normalized import ItemKind, PeriodUnit, Provider, Status
from billing.providers.braintree.client import build_gateway
from billing.providers.braintree.normalize import normalize_subscription, source_version_for
from billing.providers.braintree.parse import (
    SUBSCRIPTION_KINDS,
    BraintreeEventError,
    BraintreeSignatureError,
    decode_payload,
    dedupe_key,
    normalize_notification,
    verify_and_parse,
)
from emulator.braintree.notifications import (
    ALL_KINDS,
    raw_signed,
    sample_notification,
    sign,
    signed_notification,
    signed_subscription_notification,
)
from emulator.braintree.subscriptions import (
    Customer,
    Keys,
    Modification,
    StatusEvent,
    Transaction,
    sdk_subscription,
    subscription_fields,
)

from .conftest import T0, FakeResolver


def parse(gateway, form):
    return verify_and_parse(gateway, signature=form["bt_signature"], payload=form["bt_payload"])


def normalized(gateway, resolver, kind="subscription_charged_successfully", **fields):
    """Sign a full-subscription notification, verify it, and normalise its subscription."""
    fields.setdefault("subscription_id", "sub_1")
    fields.setdefault("status", "Active")
    fields.setdefault("plan_id", "basic")
    fields.setdefault("price", "10.00")
    fields.setdefault("timestamp", T0)
    keys = fields.pop("keys", Keys())
    event = normalize_notification(
        parse(gateway, signed_subscription_notification(kind, keys=keys, **fields)),
        resolver=resolver,
    )
    assert event.event_type == kind
    assert not event.ignored_reason
    (subscription,) = event.subscriptions
    return subscription


# -- every kind, through the SDK's own sample notifications ---------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_sample_kind_verifies_and_parses(gateway, keys, resolver, kind):
    form = sample_notification(kind, keys=keys, subject_id="sample_sub")
    notification = parse(gateway, form)
    assert notification.kind == kind
    assert notification.occurred_at.tzinfo is UTC
    assert notification.source_version == int(notification.occurred_at.timestamp() * 1000)
    assert notification.dedupe_key == dedupe_key(payload=form["bt_payload"])

    event = normalize_notification(notification, resolver=resolver)
    assert event.event_type == kind
    if kind in SUBSCRIPTION_KINDS:
        # The sample subscription has only an id; Braintree does not know it: ignored.
        assert notification.subscription_id == "sample_sub"
        assert event.subscriptions == ()
        assert "sample_sub" in event.ignored_reason
        assert resolver.asked("subscription") == ["sample_sub"]
    else:
        assert event.subscriptions == ()
        assert event.ignored_reason
        assert resolver.calls == []


def test_sample_subscription_is_completed_through_the_resolver(gateway, keys):
    full = sdk_subscription(subscription_fields(
        subscription_id="sample_sub", status="Canceled", plan_id="basic", price="10.00",
        timestamp=T0 - timedelta(days=3), updated_at=T0 - timedelta(days=1)))
    resolver = FakeResolver(subscriptions={"sample_sub": full})
    form = sample_notification("subscription_canceled", keys=keys, subject_id="sample_sub")
    notification = parse(gateway, form)

    event = normalize_notification(notification, resolver=resolver)

    (subscription,) = event.subscriptions
    assert subscription.external_id == "sample_sub"
    assert subscription.status == Status.CANCELLED
    assert subscription.source_version == notification.source_version  # now > updated_at


def test_check_kind_is_ignored(gateway, keys, resolver):
    event = normalize_notification(parse(gateway, sample_notification("check", keys=keys)),
                                   resolver=resolver)
    assert event.ignored_reason.startswith("check")
    assert event.subscriptions == event.customers == ()


# -- signatures and malformed payloads -------------------------------------------------------


def test_wrong_keys_are_rejected(gateway):
    form = signed_subscription_notification(
        "subscription_went_active", keys=Keys(public_key="someone_else", private_key="x"),
        subscription_id="s", status="Active", plan_id="basic", price="1.00", timestamp=T0)
    with pytest.raises(BraintreeSignatureError, match="no matching public key"):
        parse(gateway, form)


def test_right_public_key_wrong_private_key_is_rejected(gateway, keys):
    form = signed_subscription_notification(
        "subscription_went_active", keys=Keys(private_key="not_ours"), subscription_id="s",
        status="Active", plan_id="basic", price="1.00", timestamp=T0)
    with pytest.raises(BraintreeSignatureError, match="modified"):
        parse(gateway, form)


def test_tampered_payload_is_rejected(gateway, keys):
    form = signed_subscription_notification(
        "subscription_went_active", keys=keys, subscription_id="s", status="Active",
        plan_id="basic", price="1.00", timestamp=T0)
    xml = base64.b64decode(form["bt_payload"]).replace(b"<price>1.00", b"<price>0.01")
    tampered = base64.encodebytes(xml).decode()
    with pytest.raises(BraintreeSignatureError):
        verify_and_parse(gateway, signature=form["bt_signature"], payload=tampered)


@pytest.mark.parametrize("signature", [None, "", "garbage-without-pipe"])
def test_missing_or_garbled_signature_is_rejected(gateway, keys, signature):
    form = sample_notification("check", keys=keys)
    with pytest.raises(BraintreeSignatureError):
        verify_and_parse(gateway, signature=signature, payload=form["bt_payload"])


def test_missing_payload_is_malformed(gateway, keys):
    form = sample_notification("check", keys=keys)
    with pytest.raises(BraintreeEventError):
        verify_and_parse(gateway, signature=form["bt_signature"], payload="")


def test_rotated_keys_signature_pairs_are_accepted(gateway, keys):
    form = sample_notification("check", keys=keys)
    old = sign(form["bt_payload"], keys=Keys(public_key="old_key", private_key="old_secret"))
    both = f"{old}&{form['bt_signature']}"
    assert verify_and_parse(gateway, signature=both, payload=form["bt_payload"]).kind == "check"


@pytest.mark.parametrize("document", [
    b"this is not xml",
    b"<?xml version='1.0'?><other><kind>check</kind></other>",
    b"<notification><kind>check</kind><subject><check type='boolean'>true</check></subject>"
    b"</notification>",  # no timestamp
    b"<notification><timestamp type='datetime'>2024-01-01T00:00:00Z</timestamp>"
    b"<subject><check type='boolean'>true</check></subject></notification>",  # no kind
    b"<notification><timestamp type='datetime'>2024-01-01T00:00:00Z</timestamp>"
    b"<kind>check</kind></notification>",  # no subject
    b"<notification><timestamp type='datetime'>2024-01-01T00:00:00Z</timestamp>"
    b"<kind>subscription_went_active</kind><subject><subscription><price>abc</price>"
    b"</subscription></subject></notification>",  # bad price
    b"<notification><timestamp type='datetime'>2024-01-01T00:00:00Z</timestamp>"
    b"<kind>subscription_went_active</kind><subject><check type='boolean'>true</check>"
    b"</subject></notification>",  # subscription kind, no subscription
])
def test_authentic_but_malformed_payloads_raise_event_errors(gateway, keys, document):
    form = raw_signed(document, keys=keys)
    with pytest.raises(BraintreeEventError):
        parse(gateway, form)
    with pytest.raises(BraintreeEventError):
        decode_payload(payload=form["bt_payload"])


def test_event_error_is_a_value_error():
    assert issubclass(BraintreeEventError, ValueError)


# -- dedupe key and versions ------------------------------------------------------------------


def test_dedupe_key_is_stable_for_a_redelivery(gateway, keys):
    form = signed_subscription_notification(
        "subscription_charged_successfully", keys=keys, subscription_id="s", status="Active",
        plan_id="basic", price="10.00", timestamp=T0)
    first = parse(gateway, form)
    again = parse(gateway, dict(form))
    assert first.dedupe_key == again.dedupe_key
    expected = hashlib.sha256("".join(form["bt_payload"].split()).encode()).hexdigest()
    assert first.dedupe_key == expected
    # Line endings changed in transit do not make it a new event.
    assert dedupe_key(payload=form["bt_payload"].replace("\n", "\r\n")) == first.dedupe_key
    assert dedupe_key(payload=form["bt_payload"].encode()) == first.dedupe_key


def test_different_notifications_have_different_keys(gateway, keys):
    common = dict(keys=keys, subscription_id="s", status="Active", plan_id="basic",
                  price="10.00")
    one = parse(gateway, signed_subscription_notification(
        "subscription_charged_successfully", timestamp=T0, **common))
    later = parse(gateway, signed_subscription_notification(
        "subscription_charged_successfully", timestamp=T0 + timedelta(seconds=1), **common))
    other_kind = parse(gateway, signed_subscription_notification(
        "subscription_went_past_due", timestamp=T0, **common))
    assert len({one.dedupe_key, later.dedupe_key, other_kind.dedupe_key}) == 3
    assert later.source_version - one.source_version == 1000


def test_timestamp_gives_occurred_at_and_source_version(gateway, keys, resolver):
    form = signed_subscription_notification(
        "subscription_went_active", keys=keys, subscription_id="s", status="Active",
        plan_id="basic", price="10.00", timestamp=T0, updated_at=T0 - timedelta(minutes=5))
    notification = parse(gateway, form)
    assert notification.occurred_at == T0
    assert notification.source_version == 1710073800000
    assert notification.subscription_id == "s"
    (sub,) = normalize_notification(notification, resolver=resolver).subscriptions
    assert sub.source_version == 1710073800000


def test_source_version_is_max_of_timestamp_and_updated_at(gateway, resolver):
    sub = normalized(gateway, resolver, updated_at=T0 + timedelta(seconds=7))
    assert sub.source_version == int((T0 + timedelta(seconds=7)).timestamp() * 1000)
    backfilled = sdk_subscription(subscription_fields(
        subscription_id="b", status="Active", plan_id="basic", price="1.00", timestamp=T0))
    assert source_version_for(backfilled) == int(T0.timestamp() * 1000)


def test_decode_payload_matches_verified_parse(gateway, keys):
    form = signed_subscription_notification(
        "subscription_expired", keys=keys, subscription_id="s", status="Expired",
        plan_id="basic", price="10.00", timestamp=T0)
    verified = parse(gateway, form)
    stored = decode_payload(payload=form["bt_payload"])
    assert (stored.kind, stored.occurred_at, stored.dedupe_key, stored.subscription_id) == (
        verified.kind, verified.occurred_at, verified.dedupe_key, verified.subscription_id)


# -- statuses -------------------------------------------------------------------------------


@pytest.mark.parametrize(("provider_status", "expected", "counts"), [
    ("Active", Status.ACTIVE, True),
    ("Past Due", Status.PAST_DUE, True),
    ("Pending", Status.FUTURE, False),
    ("Canceled", Status.CANCELLED, False),
    ("Expired", Status.EXPIRED, False),
])
def test_status_mapping_and_mrr(gateway, resolver, provider_status, expected, counts):
    sub = normalized(gateway, resolver, status=provider_status, price="25.00")
    assert sub.status == expected
    assert sub.provider_status == provider_status
    assert sub.mrr == (2500 if counts else 0)
    assert sub.provider == Provider.BRAINTREE


def test_trial_while_before_first_billing_date(gateway, resolver):
    sub = normalized(
        gateway, resolver, kind="subscription_went_active", trial_period=True,
        trial_duration=14, trial_duration_unit="day",
        first_billing_date=T0.date() + timedelta(days=14), billing_period_start_date=None,
        billing_period_end_date=None, next_billing_date=T0.date() + timedelta(days=14),
        current_billing_cycle=0, created_at=T0)
    assert sub.status == Status.TRIAL
    assert sub.mrr == 0
    first_bill = datetime.combine(T0.date() + timedelta(days=14), datetime.min.time(), UTC)
    assert sub.trial_end == first_bill
    assert sub.next_renewal_at == first_bill
    assert sub.started_at == T0
    assert (sub.current_term_start, sub.current_term_end) == (T0, first_bill)


def test_trial_ended_is_active_and_counts(gateway, resolver):
    first_bill = T0.date() - timedelta(days=1)
    sub = normalized(
        gateway, resolver, kind="subscription_trial_ended", trial_period=True,
        first_billing_date=first_bill, billing_period_start_date=first_bill,
        created_at=T0 - timedelta(days=15))
    assert sub.status == Status.ACTIVE
    assert sub.mrr == 1000
    assert sub.trial_end == datetime.combine(first_bill, datetime.min.time(), UTC)


def test_last_billing_cycle_is_non_renewing(gateway, resolver):
    sub = normalized(gateway, resolver, never_expires=False, number_of_billing_cycles=12,
                     current_billing_cycle=12)
    assert sub.status == Status.NON_RENEWING
    assert sub.mrr == 1000
    assert sub.next_renewal_at is None
    assert sub.current_term_end is not None


def test_unknown_status_is_an_event_error(gateway, resolver):
    with pytest.raises(BraintreeEventError, match="unknown status"):
        normalized(gateway, resolver, status="Paused")


@pytest.mark.parametrize("missing", ["status", "price"])
def test_missing_required_fields(gateway, keys, missing):
    resolver = FakeResolver()
    form = signed_subscription_notification(
        "subscription_went_active", keys=keys, subscription_id="s", status="Active",
        plan_id="basic", price="10.00", timestamp=T0, omit=(missing,))
    notification = parse(gateway, form)
    if missing == "status":
        # No status: treated like a sample and looked up; unknown to Braintree: ignored.
        event = normalize_notification(notification, resolver=resolver)
        assert event.subscriptions == ()
        assert "no status" in event.ignored_reason
    else:
        with pytest.raises(BraintreeEventError, match="no price"):
            normalize_notification(notification, resolver=resolver)


def test_no_customer_anywhere_is_an_event_error(gateway, resolver):
    with pytest.raises(BraintreeEventError, match="customer"):
        normalized(gateway, resolver, payment_method_token=None)


# -- MRR --------------------------------------------------------------------------------------


def test_mrr_with_add_ons_discounts_and_quantities(gateway, resolver):
    sub = normalized(
        gateway, resolver, price="10.00",
        add_ons=[Modification("seats", "5.00", quantity=3),
                 Modification("support", "2.50")],
        discounts=[Modification("loyalty", "1.00", quantity=2)],
    )
    # 10 + 3 * 5 + 2.50 - 2 * 1 = 25.50
    assert sub.mrr == 2550
    assert [(i.kind, i.item_id, i.quantity, i.unit_amount, i.amount) for i in sub.items] == [
        (ItemKind.PLAN, "basic", 1, 1000, 1000),
        (ItemKind.ADDON, "seats", 3, 500, 1500),
        (ItemKind.ADDON, "support", 1, 250, 250),
        (ItemKind.DISCOUNT, "loyalty", 2, 100, 200),
    ]


def test_exhausted_modifications_do_not_count(gateway, resolver):
    sub = normalized(
        gateway, resolver, price="10.00",
        add_ons=[Modification("setup", "50.00", never_expires=False,
                              number_of_billing_cycles=1, current_billing_cycle=1),
                 Modification("extra", "4.00", never_expires=False,
                              number_of_billing_cycles=3, current_billing_cycle=2)],
        discounts=[Modification("intro", "5.00", never_expires=False,
                                number_of_billing_cycles=3, current_billing_cycle=3)],
    )
    assert sub.mrr == 1400
    assert [i.item_id for i in sub.items] == ["basic", "extra"]


@pytest.mark.parametrize(("plan_id", "price", "period", "mrr"), [
    ("basic", "10.00", 1, 1000),
    ("quarterly", "30.00", 3, 1000),
    ("annual", "120.00", 12, 1000),
    ("annual", "100.00", 12, 833),  # 8.333... rounds half up once at the end
])
def test_multi_month_plans_are_normalised_per_month(gateway, resolver, plan_id, price, period,
                                                    mrr):
    sub = normalized(gateway, resolver, plan_id=plan_id, price=price,
                     billing_frequency=period)
    assert (sub.billing_period, sub.billing_period_unit) == (period, PeriodUnit.MONTH)
    assert sub.mrr == mrr


def test_annual_plan_with_add_on_and_discount(gateway, resolver):
    sub = normalized(gateway, resolver, plan_id="annual", price="1200.00",
                     billing_frequency=12,
                     add_ons=[Modification("seats", "60.00", quantity=10)],
                     discounts=[Modification("nonprofit", "300.00")])
    assert sub.mrr == (120000 + 60000 - 30000) // 12


def test_unknown_plan_falls_back_to_the_billing_period_length(gateway, resolver):
    sub = normalized(gateway, resolver, plan_id="deleted_plan", price="60.00",
                     billing_frequency=6)
    assert resolver.asked("plan") == ["deleted_plan"]
    assert sub.billing_period == 6
    assert sub.mrr == 1000


def test_discounts_larger_than_price_floor_at_zero(gateway, resolver):
    sub = normalized(gateway, resolver, price="10.00",
                     discounts=[Modification("free", "15.00")])
    assert sub.mrr == 0


def test_zero_decimal_currency(gateway, resolver):
    sub = normalized(gateway, resolver, price="1200", merchant_account_id="jpy_account",
                     transactions=[Transaction("t1", "1200", currency_iso_code="JPY",
                                               customer=Customer("c1"))])
    assert sub.currency == "JPY"
    assert sub.mrr == 1200


# -- currency and customer: the notification first, then the resolver ----------------------


def test_currency_and_customer_from_transactions(gateway, resolver):
    newest = Customer("cust_42", email="ana@example.com", company="Acme",
                      first_name="Ana", last_name="Lima")
    sub = normalized(
        gateway, resolver, merchant_account_id="usd_account",
        transactions=[
            Transaction("old", "10.00", currency_iso_code="GBP",
                        created_at=T0 - timedelta(days=31), customer=Customer("cust_old")),
            Transaction("new", "10.00", currency_iso_code="EUR",
                        created_at=T0 - timedelta(minutes=1), customer=newest),
        ])
    assert sub.currency == "EUR"
    assert sub.customer.external_id == "cust_42"
    assert (sub.customer.email, sub.customer.company, sub.customer.first_name,
            sub.customer.last_name) == ("ana@example.com", "Acme", "Ana", "Lima")
    assert sub.customer.provider == Provider.BRAINTREE
    assert sub.customer.source_version == sub.source_version
    assert resolver.asked("currency") == []
    assert resolver.asked("customer") == []


def test_currency_and_customer_from_resolver_without_transactions(gateway, resolver):
    sub = normalized(gateway, resolver, merchant_account_id="eur_account",
                     payment_method_token="card_token_1")
    assert sub.currency == "EUR"
    assert sub.customer.external_id == "vault_customer_1"
    assert resolver.asked("currency") == ["eur_account"]
    assert resolver.asked("customer") == ["card_token_1"]


def test_currency_from_status_history_before_resolver(gateway, resolver):
    sub = normalized(gateway, resolver, merchant_account_id="eur_account", status_history=[
        StatusEvent("Active", T0 - timedelta(days=30), currency_iso_code="CAD")])
    assert sub.currency == "CAD"
    assert resolver.asked("currency") == []


def test_transaction_without_customer_id_falls_back_to_resolver(gateway, resolver):
    sub = normalized(gateway, resolver, transactions=[
        Transaction("t", "10.00", currency_iso_code="USD", customer=Customer(""))])
    assert sub.customer.external_id == "vault_customer_1"
    assert resolver.asked("currency") == []


def test_plan_currency_when_no_merchant_account(gateway, resolver):
    sub = normalized(gateway, resolver, merchant_account_id=None)
    assert sub.currency == "USD"
    assert resolver.asked("currency") == []


# -- dates ------------------------------------------------------------------------------------


def _midnight(day):
    return datetime.combine(day, datetime.min.time(), UTC)


def test_active_dates(gateway, resolver):
    start = T0.date()
    sub = normalized(gateway, resolver, billing_period_start_date=start,
                     billing_period_end_date=start + timedelta(days=30),
                     next_billing_date=start + timedelta(days=31),
                     first_billing_date=start - timedelta(days=60),
                     created_at=T0 - timedelta(days=60, hours=3))
    assert sub.current_term_start == _midnight(start)
    # The period end date is inclusive: the term ends at the following midnight.
    assert sub.current_term_end == _midnight(start + timedelta(days=31))
    assert sub.next_renewal_at == _midnight(start + timedelta(days=31))
    assert sub.started_at == _midnight(start - timedelta(days=60))
    assert sub.trial_end is None
    assert sub.cancelled_at is None


def test_past_due_still_renews(gateway, resolver):
    sub = normalized(gateway, resolver, status="Past Due", days_past_due=3, failure_count=1,
                     next_billing_date=T0.date() + timedelta(days=2))
    assert sub.next_renewal_at == _midnight(T0.date() + timedelta(days=2))


def test_pending_starts_in_the_future(gateway, resolver):
    start = T0.date() + timedelta(days=10)
    sub = normalized(gateway, resolver, status="Pending", first_billing_date=start,
                     billing_period_start_date=None, billing_period_end_date=None,
                     next_billing_date=start)
    assert sub.status == Status.FUTURE
    assert sub.started_at == _midnight(start)
    assert sub.next_renewal_at == _midnight(start)
    assert sub.mrr == 0


def test_cancelled_at_from_status_history(gateway, resolver):
    cancelled = T0 - timedelta(minutes=2)
    sub = normalized(gateway, resolver, kind="subscription_canceled", status="Canceled",
                     updated_at=T0 - timedelta(minutes=1), status_history=[
                         StatusEvent("Canceled", cancelled, subscription_source="control_panel"),
                         StatusEvent("Active", T0 - timedelta(days=40)),
                     ])
    assert sub.status == Status.CANCELLED
    assert sub.cancelled_at == cancelled
    assert sub.cancel_reason == "control_panel"
    assert sub.next_renewal_at is None
    assert sub.mrr == 0


def test_cancelled_at_falls_back_to_updated_at_then_timestamp(gateway, resolver):
    updated = T0 - timedelta(seconds=30)
    sub = normalized(gateway, resolver, kind="subscription_canceled", status="Canceled",
                     updated_at=updated)
    assert sub.cancelled_at == updated
    sub = normalized(gateway, resolver, kind="subscription_canceled", status="Canceled",
                     updated_at=None)
    assert sub.cancelled_at == T0


def test_expired_does_not_renew(gateway, resolver):
    sub = normalized(gateway, resolver, kind="subscription_expired", status="Expired")
    assert (sub.status, sub.next_renewal_at, sub.cancelled_at) == (Status.EXPIRED, None, None)


def test_raw_is_json_serialisable(gateway, resolver):
    sub = normalized(gateway, resolver,
                     add_ons=[Modification("seats", "5.00", quantity=2)],
                     transactions=[Transaction("t", "20.00", customer=Customer("c"))],
                     status_history=[StatusEvent("Active", T0)])
    decoded = json.loads(json.dumps(sub.raw))
    assert decoded["id"] == "sub_1"
    assert decoded["price"] == "10.00"
    assert decoded["add_ons"][0]["quantity"] == 2
    # Transactions (card details, cardholder names, addresses) are not kept (billing.minimise).
    assert "transactions" not in decoded


def test_normalize_subscription_directly_for_backfills(resolver):
    sub = sdk_subscription(subscription_fields(
        subscription_id="bf", status="Active", plan_id="annual", price="240.00",
        timestamp=T0, billing_frequency=12))
    result = normalize_subscription(sub, resolver=resolver, as_of=datetime.now(UTC),
                                    source_version=source_version_for(sub))
    assert (result.external_id, result.mrr, result.billing_period) == ("bf", 2000, 12)
    assert result.source_version == int(T0.timestamp() * 1000)


def test_signed_notification_helper_other_subjects(gateway, keys, resolver):
    form = signed_notification("transaction_settled", keys=keys, timestamp=T0, subject={
        "transaction": Transaction("tx", "5.00").fields()})
    event = normalize_notification(parse(gateway, form), resolver=resolver)
    assert "not a subscription" in event.ignored_reason


def test_gateway_needs_all_keys():
    with pytest.raises(ValueError, match="private_key"):
        build_gateway(merchant_id="m", public_key="p", private_key="")
    with pytest.raises(ValueError, match="BRAINTREE_ENVIRONMENT"):
        build_gateway(merchant_id="m", public_key="p", private_key="k", environment="moon")
    with pytest.raises(ValueError, match="BRAINTREE_GATEWAY_URL"):
        build_gateway(merchant_id="m", public_key="p", private_key="k",
                      gateway_url="ftp://example.com")
