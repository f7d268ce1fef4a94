"""Braintree missed-notification recovery against the fake Braintree gateway over real HTTP.

The app's settings point its gateway at the fake, so the searches, the look-ups through the
persistent cache, the comparison and the upsert are the real ones. States "we hold" come in
through the webhook path (a signed notification stored and processed), as in production.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing import tasks
from billing.models import Cursor, Subscription, SubscriptionChange, WebhookEvent
from billing.providers.base import ProviderError
from billing.providers.braintree import api as braintree_api
from billing.providers.braintree.parse import dedupe_key
from billing.services import braintree_recovery, intake, processing
from billing.services.braintree_recovery import reconcile_braintree_subscriptions
from emulator.braintree.notifications import signed_subscription_notification
from emulator.braintree.subscriptions import Keys, subscription_fields
from tests.support.braintree_app import configure, form_body

KEYS = Keys()
T0 = datetime(2024, 3, 10, 12, 30, tzinfo=UTC)
LONG_AGO = T0 - timedelta(days=60)  # created outside any creation window of these tests
NOW = T0 + timedelta(days=2)

# Webhook events stored by these tests are processed directly; the enqueue is not tested.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_enqueue")]


@pytest.fixture
def server(braintree_server):
    return braintree_server


def fields(sub_id: str, *, status: str = "Active", price: str = "10.00",
           timestamp: datetime = T0, created_at: datetime = LONG_AGO) -> dict:
    return subscription_fields(subscription_id=sub_id, status=status, plan_id="basic",
                               price=price, timestamp=timestamp, created_at=created_at)


def on_braintree(server, sub_id: str, **kwargs) -> None:
    server.add_subscription(fields(sub_id, **kwargs))


def webhook(sub_id: str, *, kind: str = "subscription_charged_successfully",
            status: str = "Active", price: str = "10.00", timestamp: datetime = T0) -> None:
    """A notification that did arrive, stored and processed as the webhook and worker do."""
    form = signed_subscription_notification(
        kind, keys=KEYS, subscription_id=sub_id, status=status, plan_id="basic", price=price,
        timestamp=timestamp, created_at=LONG_AGO)
    stored = intake.store_event(provider="braintree", event_id=dedupe_key(
        payload=form["bt_payload"]), event_type=kind, body=form_body(form),
        occurred_at=timestamp)
    assert processing.process_event(event_id=stored.event.pk) == "processed"


def reconcile_events():
    return WebhookEvent.objects.filter(source=WebhookEvent.Source.RECONCILE)


def fetched_pages(server) -> list[int]:
    """Ids asked for per object fetch (the second request of each page)."""
    return [len(r.search_values("ids")) for r in server.requests
            if r.path.endswith("/advanced_search")]


def test_a_cancellation_whose_notification_was_lost_is_recovered(server):
    webhook("sub_a")  # Active at T0, as told
    cancelled_at = T0 + timedelta(days=1)
    on_braintree(server, "sub_a", status="Canceled", timestamp=cancelled_at)  # never told

    result = reconcile_braintree_subscriptions(now=NOW)

    sub = Subscription.objects.get(external_id="sub_a")
    assert (sub.status, sub.mrr) == ("cancelled", 0)
    assert (result.held_ids, result.fetched, result.differing, result.applied) == (1, 1, 1, 1)
    change = SubscriptionChange.objects.get(subscription=sub, status_after="cancelled")
    assert (change.movement, change.movement_amount) == ("churn", 1000)
    assert change.occurred_at == cancelled_at  # when Braintree changed it, not when we found it
    event = change.event
    assert (event.source, event.status, event.event_type) == (
        "reconcile", "processed", "subscription_reconciled")
    assert "status" in json.loads(event.body)["differences"]


def test_a_subscription_never_heard_of_is_found_by_its_creation_date(server):
    created = NOW - timedelta(hours=3)
    on_braintree(server, "sub_new", timestamp=created, created_at=created)

    result = reconcile_braintree_subscriptions(now=NOW)

    assert (result.new_ids, result.held_ids, result.applied) == (1, 0, 1)
    sub = Subscription.objects.get(external_id="sub_new")
    assert (sub.status, sub.mrr, sub.customer.external_id) == ("active", 1000, "cust_7")
    change = SubscriptionChange.objects.get(subscription=sub)
    assert (change.movement, change.event.source) == ("new", "reconcile")
    assert json.loads(change.event.body)["differences"] == ["missing"]


def creation_searches(server) -> list[dict]:
    """The created_at range of every id search by creation date (not the fetches by id)."""
    from emulator.braintree.server import search_criteria

    return [search_criteria(r.body)["created_at"] for r in server.requests
            if r.path.endswith("/advanced_search_ids")
            and "created_at" in search_criteria(r.body)]


def test_new_subscriptions_beyond_the_search_cap_are_all_found(server, monkeypatch):
    cap = 3
    monkeypatch.setattr(braintree_api, "SEARCH_CAP", cap)  # Braintree's cap, scaled down
    server.search_cap = cap  # the fake answers at most `cap` ids, silently, as Braintree does
    created = [NOW - timedelta(hours=2 * n + 1) for n in range(8)]
    for n, at in enumerate(created):
        on_braintree(server, f"sub_new_{n}", timestamp=at, created_at=at)

    result = reconcile_braintree_subscriptions(now=NOW)

    assert (result.new_ids, result.applied, result.capped) == (8, 8, [])
    assert Subscription.objects.filter(external_id__startswith="sub_new_").count() == 8
    # One search could answer 3 of the 8: the range was split (each split costs one search).
    assert len(creation_searches(server)) > 8 // cap


def test_a_creation_range_that_stays_at_the_cap_is_reported(server, monkeypatch):
    cap = 2
    monkeypatch.setattr(braintree_api, "SEARCH_CAP", cap)
    server.search_cap = cap
    same_second = NOW - timedelta(hours=3)
    for n in range(cap + 1):
        on_braintree(server, f"sub_twin_{n}", timestamp=same_second, created_at=same_second)

    result = reconcile_braintree_subscriptions(now=NOW)

    assert result.new_ids == cap  # what Braintree answered for that second
    assert result.capped and result.capped == Cursor.objects.get(
        provider="braintree", name="reconcile:subscriptions").params["last_run"]["capped"]


def test_an_unchanged_subscription_is_left_alone(server):
    webhook("sub_a")
    on_braintree(server, "sub_a")  # the same state Braintree notified
    before = Subscription.objects.get(external_id="sub_a")
    ledger = SubscriptionChange.objects.count()

    result = reconcile_braintree_subscriptions(now=NOW)

    assert (result.fetched, result.unchanged, result.differing, result.applied) == (1, 1, 0, 0)
    assert SubscriptionChange.objects.count() == ledger
    assert not reconcile_events().exists()
    after = Subscription.objects.get(external_id="sub_a")
    assert (after.updated_at, after.source_version) == (before.updated_at, before.source_version)


def test_a_newer_state_held_here_is_not_overwritten(server):
    # The failed payment arrived by webhook; Braintree's search answers an older state.
    webhook("sub_a", kind="subscription_went_past_due", status="Past Due",
            timestamp=T0 + timedelta(days=1))
    on_braintree(server, "sub_a", status="Active", timestamp=T0)

    result = reconcile_braintree_subscriptions(now=NOW)

    assert (result.newer_here, result.differing, result.applied) == (1, 0, 0)
    assert Subscription.objects.get(external_id="sub_a").status == "past_due"
    assert not reconcile_events().exists()


def test_a_newer_state_stored_during_the_run_wins_and_the_record_says_stale(server,
                                                                             monkeypatch):
    webhook("sub_a", kind="subscription_went_past_due", status="Past Due",
            timestamp=T0 + timedelta(days=1))
    on_braintree(server, "sub_a", status="Active", timestamp=T0)
    # As if the webhook had landed between the comparison and the upsert.
    monkeypatch.setattr(braintree_recovery, "_stored", lambda external_ids: {})

    result = reconcile_braintree_subscriptions(now=NOW)

    assert (result.differing, result.applied) == (1, 0)
    assert Subscription.objects.get(external_id="sub_a").status == "past_due"
    assert list(reconcile_events().values_list("status", flat=True)) == ["stale"]


def test_only_subscriptions_that_can_still_change_are_compared(server):
    webhook("sub_open")
    webhook("sub_gone", kind="subscription_canceled", status="Canceled")
    on_braintree(server, "sub_open")
    on_braintree(server, "sub_gone", status="Canceled")

    result = reconcile_braintree_subscriptions(now=NOW)

    assert result.held_ids == 1
    assert fetched_pages(server) == [1]


def test_held_subscriptions_are_compared_in_pages_a_capped_number_per_run(server):
    ids = [f"sub_{n}" for n in range(7)]
    for sub_id in ids:
        webhook(sub_id)
        on_braintree(server, sub_id)

    server.clear_log()
    first = reconcile_braintree_subscriptions(now=NOW, max_held=5, page_size=3)
    assert (first.held_ids, first.fetched, first.wrapped) == (5, 5, False)
    assert fetched_pages(server) == [3, 2]
    cursor = Cursor.objects.get(provider="braintree", name="reconcile:subscriptions")
    assert cursor.position == "sub_4"

    server.clear_log()
    second = reconcile_braintree_subscriptions(now=NOW + timedelta(minutes=30), max_held=5,
                                               page_size=3)
    assert (second.held_ids, second.wrapped) == (2, True)
    assert [r.search_values("ids") for r in server.requests
            if r.path.endswith("/advanced_search")] == [["sub_5", "sub_6"]]
    cursor.refresh_from_db()
    assert cursor.position == ""  # the next run starts from the first again

    third = reconcile_braintree_subscriptions(now=NOW + timedelta(hours=1), max_held=5,
                                              page_size=3)
    assert third.held_ids == 5


def test_the_creation_window_starts_an_hour_before_the_last_finished_run(server):
    first = reconcile_braintree_subscriptions(now=NOW)
    assert first.created_since == NOW - timedelta(hours=48)
    later = NOW + timedelta(minutes=30)
    second = reconcile_braintree_subscriptions(now=later)
    assert second.created_since == NOW - timedelta(hours=1)
    searched = [r for r in server.requests if r.path.endswith("/advanced_search_ids")][-1]
    sent = braintree_search_min(searched)
    assert sent == (NOW - timedelta(hours=1)).replace(tzinfo=None)


def braintree_search_min(request) -> datetime:
    from emulator.braintree.server import search_criteria

    return search_criteria(request.body)["created_at"]["min"]


def test_a_failed_run_keeps_what_it_applied_and_its_window(server):
    for sub_id in ("sub_0", "sub_1", "sub_2", "sub_3"):
        webhook(sub_id)
        on_braintree(server, sub_id, status="Past Due", timestamp=T0 + timedelta(days=1))
    reconcile_braintree_subscriptions(now=NOW - timedelta(hours=5), max_held=1)  # sub_0
    server.clear_log()
    # Search ids, then page 1 (two requests) go through; page 2 fails.
    server.fail_after(3, status=503)

    with pytest.raises(ProviderError):
        reconcile_braintree_subscriptions(now=NOW, max_held=10, page_size=2)

    statuses = dict(Subscription.objects.values_list("external_id", "status"))
    assert statuses == {"sub_0": "past_due", "sub_1": "past_due", "sub_2": "past_due",
                        "sub_3": "active"}
    cursor = Cursor.objects.get(provider="braintree", name="reconcile:subscriptions")
    assert cursor.position == "sub_2"
    assert cursor.params["last_started_at"] == (NOW - timedelta(hours=5)).isoformat()
    assert cursor.params["last_run"]["finished"] is False
    assert cursor.params["last_run"]["applied"] == 2
    assert cursor.count == 3  # one in the first run, two before the failure


def test_an_unreadable_subscription_is_counted_and_the_rest_applied(server):
    for sub_id in ("sub_0", "sub_1"):
        webhook(sub_id)
    on_braintree(server, "sub_0", status="Past Due", timestamp=T0 + timedelta(days=1))
    broken = fields("sub_1", status="Past Due", timestamp=T0 + timedelta(days=1))
    del broken["price"]  # nothing to compute its MRR from
    server.add_subscription(broken)

    result = reconcile_braintree_subscriptions(now=NOW)

    assert (result.errors, result.error_ids, result.applied) == (1, ["sub_1"], 1)
    assert Subscription.objects.get(external_id="sub_0").status == "past_due"
    assert Subscription.objects.get(external_id="sub_1").status == "active"


def test_the_run_figures_are_kept_on_the_cursor(server):
    webhook("sub_a")
    on_braintree(server, "sub_a", status="Past Due", timestamp=T0 + timedelta(days=1))
    on_braintree(server, "sub_b")  # unchanged
    webhook("sub_b")

    reconcile_braintree_subscriptions(now=NOW)

    cursor = Cursor.objects.get(provider="braintree", name="reconcile:subscriptions")
    run = cursor.params["last_run"]
    assert {name: run[name] for name in ("fetched", "unchanged", "differing", "applied",
                                         "errors", "finished")} == {
        "fetched": 2, "unchanged": 1, "differing": 1, "applied": 1, "errors": 0,
        "finished": True}
    assert cursor.count == 1


def test_without_api_keys_nothing_is_asked(settings):
    configure(settings, keys=Keys(merchant_id="", public_key="", private_key=""))
    assert reconcile_braintree_subscriptions().skipped
    assert tasks.reconcile_braintree_subscriptions()["skipped"] is True
    assert not Cursor.objects.exists()


def test_the_task_logs_a_failure_and_waits_for_the_next_beat(server):
    server.fail_next(1, status=503)
    assert tasks.reconcile_braintree_subscriptions() is None


def test_the_command_runs_it_now(server):
    webhook("sub_a")
    on_braintree(server, "sub_a", status="Canceled", timestamp=T0 + timedelta(days=1))
    out = StringIO()
    call_command("reconcile_braintree", "--all", stdout=out)
    assert "braintree: 1 of 1 differing subscription(s) applied" in out.getvalue()
    assert Subscription.objects.get(external_id="sub_a").status == "cancelled"


def test_the_command_refuses_without_api_keys(settings):
    configure(settings, keys=Keys(merchant_id="", public_key="", private_key=""))
    with pytest.raises(CommandError, match="BRAINTREE_MERCHANT_ID"):
        call_command("reconcile_braintree", stdout=StringIO())


def test_all_compares_every_held_subscription_from_the_first(server):
    for sub_id in ("sub_0", "sub_1", "sub_2"):
        webhook(sub_id)
        on_braintree(server, sub_id)
    reconcile_braintree_subscriptions(now=NOW, max_held=2)  # the rotation stops at sub_1

    result = reconcile_braintree_subscriptions(now=NOW + timedelta(minutes=5), max_held=None)

    assert (result.held_ids, result.unchanged, result.wrapped) == (3, 3, True)
