"""POST /webhooks/braintree/: signatures checked for real, stored once, processed by the task
with look-ups answered by a fake Braintree gateway over real HTTP."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client

from billing.models import Subscription, SubscriptionChange, WebhookEvent
from billing.providers.braintree.parse import SUBSCRIPTION_KINDS, dedupe_key
from billing.services import processing
from billing.tasks import process_webhook_event
from emulator.braintree.notifications import (
    ALL_KINDS,
    notification_xml,
    raw_signed,
    sample_notification,
    signed_subscription_notification,
)
from emulator.braintree.server import FakeBraintreeServer
from emulator.braintree.subscriptions import Keys, Transaction, subscription_fields
from tests.support.braintree_app import CUSTOMER, URL, configure, form_body, post, seed
from tests.support.concurrency import at_once
from wireformats.braintree_xml import to_xml

KEYS = Keys()
T0 = datetime(2024, 3, 10, 12, 30, tzinfo=UTC)
# Nothing listens here: a test that forgets the fake gateway fails instead of calling Braintree.
NOWHERE = "http://127.0.0.1:9"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def braintree_settings(settings):
    configure(settings, keys=KEYS, gateway_url=NOWHERE)


@pytest.fixture
def gateway(settings):
    """The fake Braintree the worker's look-ups reach, seeded with plans and a customer."""
    with FakeBraintreeServer(keys=KEYS) as server:
        seed(server)
        configure(settings, keys=KEYS, gateway_url=server.url)
        yield server


@pytest.fixture
def deliver(client, sent, django_capture_on_commit_callbacks):
    """POST a form as Braintree would, running the on-commit enqueue."""
    def deliver(form, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return post(client, form, **extra)
    return deliver


def notification(kind="subscription_charged_successfully", *, keys=KEYS, **fields):
    """A signed notification carrying a full subscription (annual EUR plan, vault customer)."""
    fields = {"subscription_id": "sub_1", "status": "Active", "plan_id": "annual",
              "price": "240.00", "billing_frequency": 12, "timestamp": T0,
              "merchant_account_id": "eur_account", "payment_method_token": "card_token_1",
              **fields}
    return signed_subscription_notification(kind, keys=keys, **fields)


def process(form) -> WebhookEvent:
    """Run the worker's task on the stored event of `form`, as Celery would."""
    row = WebhookEvent.objects.get(provider="braintree",
                                   event_id=dedupe_key(payload=form["bt_payload"]))
    process_webhook_event(row.pk)
    row.refresh_from_db()
    return row


# -- intake -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_kind_of_sample_notification_is_verified_stored_and_enqueued(deliver, sent, kind):
    form = sample_notification(kind, keys=KEYS, subject_id="sample_sub")
    response = deliver(form)
    assert response.status_code == 200
    event_id = dedupe_key(payload=form["bt_payload"])
    assert response.json() == {"status": "accepted", "event": event_id}
    row = WebhookEvent.objects.get()
    assert (row.provider, row.event_id, row.event_type, row.status, row.source) == (
        "braintree", event_id, kind, "received", "webhook")
    assert row.occurred_at is not None
    assert row.body == form_body(form)
    assert sent == [row.pk]


def test_intake_makes_no_request_to_braintree(deliver, gateway):
    assert deliver(notification()).status_code == 200
    assert gateway.requests == []


def test_full_subscription_is_processed_into_subscription_customer_and_ledger(deliver, gateway):
    form = notification()
    assert deliver(form).status_code == 200
    row = process(form)
    assert (row.status, row.error, row.attempts) == ("processed", "", 1)

    sub = Subscription.objects.get(provider="braintree", external_id="sub_1")
    assert (sub.status, sub.provider_status, sub.mrr, sub.currency) == (
        "active", "Active", 2000, "EUR")  # 240.00 a year
    assert (sub.plan_id, sub.billing_period, sub.billing_period_unit) == ("annual", 12, "month")
    assert sub.source_version == int(T0.timestamp() * 1000)
    customer = sub.customer
    assert (customer.provider, customer.external_id, customer.email, customer.company) == (
        "braintree", CUSTOMER.id, CUSTOMER.email, CUSTOMER.company)

    change = SubscriptionChange.objects.get()
    assert (change.subscription, change.customer, change.event) == (sub, customer, row)
    assert (change.status_before, change.status_after, change.movement) == ("", "active", "new")
    assert (change.mrr_before, change.mrr_after, change.movement_amount, change.currency) == (
        0, 2000, 2000, "EUR")
    assert change.occurred_at == T0


def test_currency_and_customer_from_the_transactions_need_only_the_plan(deliver, gateway):
    payer = CUSTOMER.__class__("cust_tx", email="tx@example.com")
    form = notification(plan_id="basic", price="12.50", billing_frequency=1,
                        transactions=[Transaction("tx_1", "12.50", currency_iso_code="GBP",
                                                  customer=payer)])
    deliver(form)
    assert process(form).status == "processed"
    sub = Subscription.objects.get(external_id="sub_1")
    assert (sub.mrr, sub.currency, sub.customer.external_id, sub.customer.email) == (
        1250, "GBP", "cust_tx", "tx@example.com")
    assert gateway.paths() == ["/merchants/subsync_merchant/plans/"]


@pytest.mark.parametrize("kind", sorted(SUBSCRIPTION_KINDS))
def test_sample_subscription_kinds_are_completed_through_the_gateway(deliver, gateway, kind):
    gateway.add_subscription(subscription_fields(
        subscription_id="sample_sub", status="Past Due", plan_id="basic", price="10.00",
        timestamp=T0, merchant_account_id="usd_account"))
    form = sample_notification(kind, keys=KEYS, subject_id="sample_sub")
    deliver(form)
    assert process(form).status == "processed"
    sub = Subscription.objects.get(external_id="sample_sub")
    assert (sub.status, sub.mrr, sub.currency, sub.customer.external_id) == (
        "past_due", 1000, "USD", CUSTOMER.id)
    assert "/merchants/subsync_merchant/subscriptions/sample_sub" in gateway.paths("GET")


def test_sample_notification_for_a_subscription_braintree_does_not_know_is_ignored(
    deliver, gateway
):
    form = sample_notification("subscription_went_active", keys=KEYS, subject_id="nobody")
    deliver(form)
    row = process(form)
    assert row.status == "ignored" and "does not know" in row.error
    assert not Subscription.objects.exists()


def test_check_notification_is_200_and_ends_ignored(deliver, sent):
    form = sample_notification("check", keys=KEYS)
    response = deliver(form)
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    row = process(form)
    assert row.event_type == "check"
    assert row.status == "ignored" and row.error.startswith("check")


def test_replayed_delivery_is_200_stored_once_and_processed_once(deliver, sent, gateway):
    form = notification()
    first, second = deliver(form), deliver(form)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["status"] == "duplicate"
    assert WebhookEvent.objects.count() == 1 and len(sent) == 1

    assert process(form).status == "processed"
    third = deliver(form)  # Braintree retries a delivery it thinks failed
    assert third.json()["status"] == "duplicate"
    assert WebhookEvent.objects.count() == 1 and len(sent) == 1
    assert SubscriptionChange.objects.count() == 1


def test_redelivery_of_a_failed_event_is_requeued(deliver, sent, gateway):
    form = notification()
    deliver(form)
    gateway.fail_next(1, status=503)
    with pytest.raises(processing.EventProcessingError):
        process(form)
    assert deliver(form).json()["status"] == "requeued"
    assert len(sent) == 2
    assert process(form).status == "processed"


def _tampered(form):
    xml = base64.b64decode(form["bt_payload"]).replace(b"<price>240.00", b"<price>0.01")
    return {**form, "bt_payload": base64.encodebytes(xml).decode()}


@pytest.mark.parametrize(
    "form",
    [
        notification(keys=Keys(public_key="someone_else", private_key="theirs")),
        notification(keys=Keys(private_key="not_ours")),
        _tampered(notification()),
        {"bt_payload": notification()["bt_payload"]},
        {**notification(), "bt_signature": ""},
        {**notification(), "bt_signature": "garbage-without-pipe"},
        {**notification(), "bt_payload": notification()["bt_payload"] + "!"},
        {**notification(), "bt_payload": "é" + notification()["bt_payload"]},
    ],
    ids=["wrong-keys", "wrong-private-key", "tampered", "no-signature", "empty-signature",
         "garbage-signature", "illegal-character", "non-ascii"],
)
def test_bad_or_missing_signature_is_403_and_nothing_is_stored(deliver, sent, form):
    response = deliver(form)
    assert response.status_code == 403
    assert "signature" in response.json()["error"]
    assert not WebhookEvent.objects.exists()
    assert sent == []


@pytest.mark.parametrize(
    "body",
    [{"bt_signature": notification()["bt_signature"]}, {"bt_payload": ""}, b"", b"x=1"],
    ids=["no-payload", "empty-payload", "empty-body", "other-fields"],
)
def test_missing_payload_is_400_and_nothing_is_stored(deliver, sent, body):
    response = deliver(body)
    assert response.status_code == 400
    assert response.json()["error"] == "empty body" if body == b"" else (
        "bt_payload" in response.json()["error"])
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"this is not xml", "malformed"),
        (to_xml("notification", {"kind": "check", "subject": {"check": True}}), "timestamp"),
        (to_xml("notification", {"timestamp": T0, "subject": {"check": True}}), "kind"),
        (notification_xml("subscription_went_active",
                          subject={"subscription": {"status": "Active"}}, timestamp=T0),
         "subscription id"),
    ],
    ids=["not-xml", "no-timestamp", "no-kind", "no-subscription-id"],
)
def test_authentic_but_malformed_payload_is_400_and_kept_as_rejected(
    deliver, sent, document, message
):
    form = raw_signed(document, keys=KEYS)
    response = deliver(form)
    assert response.status_code == 400
    assert message in response.json()["error"]
    row = WebhookEvent.objects.get()
    assert row.status == "rejected" and message in row.error
    assert row.event_id == "rejected:" + dedupe_key(payload=form["bt_payload"])
    assert row.body == form_body(form)
    assert sent == []
    assert deliver(form).status_code == 400  # a redelivery adds nothing
    assert WebhookEvent.objects.count() == 1


@pytest.mark.parametrize("setting",
                         ["BRAINTREE_MERCHANT_ID", "BRAINTREE_PUBLIC_KEY", "BRAINTREE_PRIVATE_KEY"])
def test_missing_keys_refuse_everything_and_say_what_to_set(deliver, settings, setting):
    setattr(settings, setting, "")
    response = deliver(notification())
    assert response.status_code == 403
    assert response.json()["error"] == f"Braintree webhooks are refused: set {setting}"
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(("setting", "value"), [("BRAINTREE_ENVIRONMENT", "moon"),
                                                ("BRAINTREE_GATEWAY_URL", "ftp://example")])
def test_invalid_environment_is_refused_without_echoing_the_value(deliver, settings, setting,
                                                                  value):
    settings.BRAINTREE_GATEWAY_URL = ""
    setattr(settings, setting, value)
    response = deliver(notification())
    assert response.status_code == 403
    assert setting in response.json()["error"]
    assert value not in response.content.decode()
    assert not WebhookEvent.objects.exists()


def test_body_over_one_mebibyte_is_413_and_nothing_is_stored(deliver):
    body = form_body(notification()) + "&padding=" + "x" * (1024 * 1024)
    assert deliver(body).status_code == 413
    assert not WebhookEvent.objects.exists()


def test_get_is_not_allowed(client):
    assert client.get(URL).status_code == 405


def test_no_csrf_token_or_login_is_needed(sent):
    response = Client(enforce_csrf_checks=True).post(
        URL, data=form_body(notification()), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_deliveries_store_one_row(sent):
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent connections: runs on PostgreSQL (CI)")
    body = form_body(notification())

    def deliver_once():
        response = Client().post(URL, data=body,
                                 content_type="application/x-www-form-urlencoded")
        return response.status_code, response.json()["status"]

    statuses = at_once(deliver_once)
    assert WebhookEvent.objects.count() == 1
    assert sorted(statuses) == [(200, "accepted")] + [(200, "duplicate")] * 7
    assert len(sent) == 1


def test_gateway_is_rebuilt_when_the_keys_change(deliver, settings):
    other = Keys(merchant_id="other_merchant", public_key="other_pub", private_key="other_priv")
    assert deliver(notification()).status_code == 200
    configure(settings, keys=other, gateway_url=NOWHERE)
    assert deliver(notification(timestamp=T0 + timedelta(1))).status_code == 403
    assert deliver(notification(keys=other, timestamp=T0 + timedelta(2))).status_code == 200


# -- ordering -----------------------------------------------------------------------------------


def test_an_older_notification_arriving_later_ends_stale(deliver, gateway):
    newer = notification("subscription_canceled", status="Canceled",
                         timestamp=T0 + timedelta(days=1))
    older = notification("subscription_went_active", status="Active", timestamp=T0)
    deliver(newer)
    deliver(older)
    assert process(newer).status == "processed"
    assert process(older).status == "stale"
    sub = Subscription.objects.get(external_id="sub_1")
    assert (sub.status, sub.mrr) == ("cancelled", 0)
    assert sub.source_version == int((T0 + timedelta(days=1)).timestamp() * 1000)
    assert [c.status_after for c in SubscriptionChange.objects.all()] == ["cancelled"]


def test_in_order_notifications_each_write_a_ledger_row(deliver, gateway):
    first = notification("subscription_went_active", timestamp=T0)
    second = notification("subscription_canceled", status="Canceled",
                          timestamp=T0 + timedelta(days=1))
    for form in (first, second):
        deliver(form)
        assert process(form).status == "processed"
    ledger = [(c.status_before, c.status_after, c.movement, c.movement_amount)
              for c in SubscriptionChange.objects.order_by("id")]
    assert ledger == [("", "active", "new", 2000), ("active", "cancelled", "churn", 2000)]


# -- look-ups: persistent cache and errors ------------------------------------------------------


def test_a_second_event_needs_no_look_up_request(deliver, gateway):
    first = notification(subscription_id="sub_1")
    deliver(first)
    assert process(first).status == "processed"
    assert sorted(gateway.paths()) == sorted([
        "/merchants/subsync_merchant/plans/",
        "/merchants/subsync_merchant/merchant_accounts/eur_account",
        "/merchants/subsync_merchant/payment_methods/any/card_token_1",
        f"/merchants/subsync_merchant/customers/{CUSTOMER.id}",
    ])
    gateway.clear_log()

    second = notification(subscription_id="sub_2", timestamp=T0 + timedelta(hours=1))
    deliver(second)
    assert process(second).status == "processed"
    assert gateway.requests == []
    sub = Subscription.objects.get(external_id="sub_2")
    assert (sub.currency, sub.mrr, sub.customer.external_id, sub.customer.email) == (
        "EUR", 2000, CUSTOMER.id, CUSTOMER.email)


def test_transient_api_failure_is_retried(deliver, gateway):
    form = notification()
    deliver(form)
    gateway.fail_next(1, status=503)
    with pytest.raises(processing.EventProcessingError) as caught:
        process(form)  # the task asks Celery to retry; called directly, that re-raises
    assert not caught.value.permanent
    row = WebhookEvent.objects.get()
    assert row.status == "failed" and "ServiceUnavailable" in row.error
    assert process(form).status == "processed"
    assert process(form).attempts == 2


def test_unknown_payment_method_is_a_permanent_failure(deliver, gateway):
    form = notification(payment_method_token="gone_token")
    deliver(form)
    row = process(form)  # the task gives up quietly: no retry for a permanent error
    assert row.status == "failed" and "gone_token" in row.error
    assert not Subscription.objects.exists()


def test_keys_removed_after_intake_fail_transiently_and_say_what_to_set(deliver, settings):
    form = notification()
    deliver(form)
    settings.BRAINTREE_PRIVATE_KEY = ""
    with pytest.raises(processing.EventProcessingError) as caught:
        process(form)
    assert not caught.value.permanent
    assert "BRAINTREE_PRIVATE_KEY" in WebhookEvent.objects.get().error
