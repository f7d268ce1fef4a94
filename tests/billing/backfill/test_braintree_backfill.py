"""`manage.py backfill braintree` against the fake Braintree gateway over real HTTP.

Settings point the app's gateway at the fake, so the whole path is exercised: the plan cache
refresh, the id-ordered search in pages, look-ups through the persistent cache, pages applied
through the webhook upsert, the Cursor checkpoint, and what the operator reads when a run stops.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.backfill import BackfillOptions
from billing.backfill import braintree as braintree_backfill
from billing.models import BraintreePlan, Cursor, Customer, Subscription, SubscriptionChange
from billing.providers.braintree.parse import dedupe_key
from billing.services import intake, processing
from emulator.braintree.notifications import signed_subscription_notification
from emulator.braintree.server import FakeBraintreeServer
from emulator.braintree.subscriptions import (
    Customer as BtCustomer,
)
from emulator.braintree.subscriptions import (
    Keys,
    Transaction,
    subscription_fields,
)
from tests.support.braintree_app import CUSTOMER, configure, form_body, seed

KEYS = Keys()
T0 = datetime(2024, 3, 10, 12, 30, tzinfo=UTC)
STATUSES = ["Active", "Past Due", "Pending", "Canceled", "Expired"]
EXPECTED = {"Active": "active", "Past Due": "past_due", "Pending": "future",
            "Canceled": "cancelled", "Expired": "expired"}

pytestmark = pytest.mark.django_db


@pytest.fixture
def server(settings):
    with FakeBraintreeServer(keys=KEYS) as fake:
        seed(fake)
        configure(settings, keys=KEYS, gateway_url=fake.url)
        yield fake


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    # Webhook events stored by these tests are processed directly; the enqueue is not tested.
    monkeypatch.setattr(processing.app, "send_task", lambda name, args: None)


class Bar:
    """Stands in for the tqdm bar: records what the backfill reported."""

    def __init__(self):
        self.updates: list[int] = []

    def update(self, n: int = 1) -> None:
        self.updates.append(n)


def add_subscriptions(server, count, *, with_transactions=False, **fields):
    """`count` subscriptions cycling through every status; ids sorted, as the backfill walks."""
    ids = [f"sub_{n:04d}" for n in range(count)]
    for n, sub_id in enumerate(reversed(ids)):  # the fake answers in insertion order
        extra = dict(fields)
        if with_transactions:
            # Currency and payer in the subscription itself: no look-up requests at all.
            extra["transactions"] = [Transaction(f"tx_{sub_id}", "10.00",
                                                 customer=BtCustomer(f"payer_{sub_id}"))]
        server.add_subscription(subscription_fields(
            subscription_id=sub_id, status=STATUSES[n % len(STATUSES)], plan_id="basic",
            price="10.00", timestamp=T0 - timedelta(days=n), **extra))
    return ids


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("backfill", "braintree", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def cursor() -> Cursor:
    return Cursor.objects.get(provider="braintree", name="backfill:subscriptions")


def fetched_pages(server) -> list[int]:
    return [len(r.search_values("ids")) for r in server.requests
            if r.path.endswith("/advanced_search")]


def test_imports_every_subscription_in_every_status_with_its_customer(server):
    ids = add_subscriptions(server, 120)
    assert "braintree: 120 subscriptions imported" in run_command()

    subs = Subscription.objects.filter(provider="braintree")
    assert sorted(subs.values_list("external_id", flat=True)) == ids
    for sub in subs:
        assert sub.status == EXPECTED[sub.provider_status]
        assert (sub.currency, sub.plan_id, sub.customer.external_id) == ("USD", "basic",
                                                                           CUSTOMER.id)
    assert subs.get(external_id=ids[-1]).mrr == 1000  # the newest one is Active
    customer = Customer.objects.get(provider="braintree")
    assert (customer.email, customer.company) == (CUSTOMER.email, CUSTOMER.company)
    assert set(BraintreePlan.objects.values_list("plan_id", flat=True)) == {"basic", "annual"}
    saved = cursor()
    assert (saved.position, saved.count, saved.done) == (ids[-1], 120, True)
    assert fetched_pages(server) == [50, 50, 20]
    # The payer was looked up once for all 120, through the persistent cache.
    assert server.paths("GET").count(
        "/merchants/subsync_merchant/payment_methods/any/card_token_1") == 1


def test_progress_is_reported_per_page(server):
    add_subscriptions(server, 120, with_transactions=True)
    bar = Bar()
    imported = braintree_backfill.run(options=BackfillOptions(), progress=bar)
    assert imported == 120
    assert bar.updates == [50, 50, 20]


def test_the_same_path_as_webhooks_writes_one_ledger_row_each(server):
    add_subscriptions(server, 5, with_transactions=True)  # one payer each
    run_command()
    changes = SubscriptionChange.objects.all()
    assert changes.count() == 5
    active = changes.get(subscription__external_id="sub_0004")
    assert (active.movement, active.mrr_after, active.event) == ("new", 1000, None)
    assert active.occurred_at == T0  # when Braintree last changed it


def test_status_filter(server):
    ids = add_subscriptions(server, 10)
    assert "braintree: 4 subscriptions imported" in run_command("--status", "past_due",
                                                                "--status", "Canceled")
    assert set(Subscription.objects.values_list("status", flat=True)) == {"past_due",
                                                                         "cancelled"}
    assert cursor().position == ids[-1]  # the walk still went through every id
    assert cursor().params["filters"]["statuses"] == ["Canceled", "Past Due"]


def test_unknown_status_is_refused(server):
    with pytest.raises(CommandError, match="unknown Braintree status 'Sleeping'"):
        run_command("--status", "Sleeping")
    assert server.requests == []


def test_since_filter(server):
    add_subscriptions(server, 10)
    assert "braintree: 3 subscriptions imported" in run_command(
        "--since", (T0 - timedelta(days=2)).date().isoformat())
    assert sorted(Subscription.objects.values_list("external_id", flat=True)) == [
        "sub_0007", "sub_0008", "sub_0009"]


def test_an_interrupted_run_resumes_after_the_last_committed_page(server):
    ids = add_subscriptions(server, 120, with_transactions=True)
    # plans, the search for every id, page 1 (id search + fetch), page 2's id search; then 503.
    server.fail_after(5, status=503)
    with pytest.raises(CommandError, match="run it again to resume"):
        run_command()
    saved = cursor()
    assert (saved.position, saved.count, saved.done) == (ids[49], 50, False)
    assert sorted(Subscription.objects.values_list("external_id", flat=True)) == ids[:50]

    server.recover()
    server.clear_log()
    assert "braintree: 70 subscriptions imported" in run_command()
    assert fetched_pages(server) == [50, 20]  # page 1 was not read again
    assert Subscription.objects.count() == 120
    assert SubscriptionChange.objects.count() == 120  # none applied twice
    assert (cursor().count, cursor().done) == (120, True)


def test_restart_starts_over(server):
    ids = add_subscriptions(server, 120, with_transactions=True)
    server.fail_after(5, status=503)
    with pytest.raises(CommandError):
        run_command()
    server.recover()
    server.clear_log()
    assert "braintree: 120 subscriptions imported" in run_command("--restart")
    assert fetched_pages(server) == [50, 50, 20]
    assert (cursor().position, cursor().count) == (ids[-1], 120)
    assert SubscriptionChange.objects.count() == 120  # equal versions change nothing


def test_other_filters_or_a_finished_run_start_over(server):
    add_subscriptions(server, 10)
    server.fail_after(3, status=503)  # plans, search, page's id search: the fetch fails
    with pytest.raises(CommandError):
        run_command("--status", "Active")
    server.recover()
    assert "braintree: 10 subscriptions imported" in run_command()  # other filters
    assert "braintree: 10 subscriptions imported" in run_command()  # the last one finished


def test_a_backfill_never_overwrites_a_newer_webhook(server):
    add_subscriptions(server, 1)  # sub_0000: Active, updated at T0
    form = signed_subscription_notification(
        "subscription_canceled", keys=KEYS, subscription_id="sub_0000", status="Canceled",
        plan_id="basic", price="10.00", timestamp=T0 + timedelta(days=1),
        merchant_account_id="usd_account")
    stored = intake.store_event(provider="braintree", event_id=dedupe_key(
        payload=form["bt_payload"]), event_type="subscription_canceled", body=form_body(form),
        occurred_at=T0 + timedelta(days=1))
    assert processing.process_event(event_id=stored.event.pk) == "processed"

    assert "braintree: 1 subscriptions imported" in run_command()
    sub = Subscription.objects.get(external_id="sub_0000")
    assert (sub.status, sub.mrr) == ("cancelled", 0)
    assert SubscriptionChange.objects.count() == 1


def test_a_newer_backfilled_state_replaces_an_older_webhook(server):
    form = signed_subscription_notification(
        "subscription_went_past_due", keys=KEYS, subscription_id="sub_0000",
        status="Past Due", plan_id="basic", price="10.00", timestamp=T0 - timedelta(days=1),
        merchant_account_id="usd_account")
    stored = intake.store_event(provider="braintree", event_id=dedupe_key(
        payload=form["bt_payload"]), event_type="subscription_went_past_due",
        body=form_body(form), occurred_at=T0 - timedelta(days=1))
    processing.process_event(event_id=stored.event.pk)
    add_subscriptions(server, 1)  # Active, updated at T0

    run_command()
    assert Subscription.objects.get(external_id="sub_0000").status == "active"


def test_an_unreadable_subscription_is_skipped_and_kept_on_the_cursor(server):
    add_subscriptions(server, 3)
    server.subscriptions["sub_0001"]["payment_method_token"] = "deleted_token"
    assert "braintree: 2 subscriptions imported" in run_command()
    assert sorted(Subscription.objects.values_list("external_id", flat=True)) == [
        "sub_0000", "sub_0002"]
    assert cursor().params["skipped"] == ["sub_0001"]
    assert cursor().done


def test_wrong_keys_stop_the_run_and_say_so(server, settings):
    settings.BRAINTREE_PRIVATE_KEY = "wrong"
    with pytest.raises(CommandError, match="braintree backfill stopped"):
        run_command()


def test_missing_keys_name_the_settings(settings):
    configure(settings, keys=Keys(merchant_id=""))
    with pytest.raises(CommandError, match="BRAINTREE_MERCHANT_ID"):
        run_command()
