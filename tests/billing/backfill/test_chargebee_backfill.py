"""`manage.py backfill chargebee` against the fake Chargebee server over real HTTP.

The command builds its client from settings pointed at the fake, so what is checked is the
whole path: query strings on the wire, pages applied through the webhook upsert, the Cursor
checkpoint, and what the operator reads when a run stops.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing import backfill
from billing.backfill import BackfillOptions
from billing.backfill import chargebee as chargebee_backfill
from billing.models import Cursor, Customer, Subscription, SubscriptionChange
from billing.providers.base import ProviderError
from billing.services import intake, processing
from emulator.chargebee.events import DEFAULT_OCCURRED_AT, make_event, make_subscription
from emulator.chargebee.server import FakeChargebee

pytestmark = pytest.mark.django_db


@pytest.fixture
def server(chargebee_server):
    return chargebee_server


@pytest.fixture
def applied(monkeypatch):
    """Every subscription id the backfill hands over to be applied, in order."""
    seen: list[str] = []
    real = chargebee_backfill.apply_changes

    def spy(changes):
        seen.extend(sub.external_id for change in changes for sub in change.subscriptions)
        return real(changes)

    monkeypatch.setattr(chargebee_backfill, "apply_changes", spy)
    return seen


class Bar:
    """Stands in for the tqdm bar: records what the backfill reported."""

    def __init__(self):
        self.updates: list[int] = []

    def update(self, n: int = 1) -> None:
        self.updates.append(n)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("backfill", "chargebee", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def cursor() -> Cursor:
    return Cursor.objects.get(provider="chargebee", name="backfill:subscriptions")


def list_requests(server: FakeChargebee):
    return server.requests_to("/subscriptions")


def test_chargebee_is_a_registered_backfill():
    assert "chargebee" in backfill.providers()


def test_imports_every_subscription_and_customer_page_by_page(server, applied):
    ids = server.seed_subscriptions(count=250)

    output = run_command()

    assert "chargebee: 250 subscriptions imported" in output
    sent = list_requests(server)
    assert [r.param("limit") for r in sent] == ["100", "100", "100"]
    assert sent[0].param("offset") is None
    assert all(r.param("offset") for r in sent[1:])
    assert sorted(applied) == sorted(ids)
    assert Subscription.objects.filter(provider="chargebee").count() == 250
    assert Customer.objects.filter(provider="chargebee").count() == 250
    row = Subscription.objects.get(external_id="sub_0003")
    assert (row.status, row.customer.external_id, row.customer.company) == (
        "cancelled", "cus_0003", "Customer 3")
    assert SubscriptionChange.objects.count() == 250  # one "first seen" ledger row each
    saved = cursor()
    assert (saved.done, saved.position, saved.count) == (True, "", 250)


def test_progress_counts_every_subscription(server):
    server.seed_subscriptions(count=130)
    bar = Bar()

    imported = chargebee_backfill.run(options=BackfillOptions(), progress=bar)

    assert imported == 130
    assert bar.updates == [100, 30]


def test_interrupted_run_resumes_from_the_checkpoint_and_imports_each_once(server, applied):
    ids = server.seed_subscriptions(count=250)
    server.fail_after_pages(pages=2)

    with pytest.raises(CommandError, match="run it again to resume"):
        run_command()

    assert Subscription.objects.count() == 200
    failed = list_requests(server)[-1]
    assert failed.status == 503
    saved = cursor()
    assert saved.done is False and saved.count == 200
    assert saved.position == failed.param("offset")  # the page after the last committed one

    server.clear_faults()
    server.requests.clear()
    output = run_command()

    assert "chargebee: 50 subscriptions imported" in output
    assert [r.param("offset") for r in list_requests(server)] == [saved.position]
    assert Counter(applied) == Counter(ids)  # every subscription applied exactly once
    assert Subscription.objects.count() == 250
    assert (cursor().done, cursor().count) == (True, 250)


def test_finished_run_is_not_resumed_the_next_run_starts_over(server, applied):
    server.seed_subscriptions(count=150)
    run_command()
    server.requests.clear()

    run_command()

    assert [r.param("offset") is None for r in list_requests(server)] == [True, False]
    assert len(applied) == 300
    assert cursor().count == 150
    assert SubscriptionChange.objects.count() == 150  # the second pass changed nothing


def interrupted_after_one_page(server) -> None:
    """250 subscriptions, a backfill that failed after its first page, the fault gone."""
    server.seed_subscriptions(count=250)
    server.fail_after_pages(pages=1)
    with pytest.raises(CommandError):
        run_command()
    server.clear_faults()
    server.requests.clear()


def test_restart_ignores_the_saved_position(server):
    interrupted_after_one_page(server)

    run_command("--restart")

    assert list_requests(server)[0].param("offset") is None
    assert (cursor().done, cursor().count) == (True, 250)


def test_other_filters_do_not_reuse_a_saved_position(server):
    interrupted_after_one_page(server)

    run_command("--status", "active")

    assert list_requests(server)[0].param("offset") is None
    assert cursor().params["filters"] == {"since": None, "statuses": ["active"]}


def test_since_and_status_filters_are_sent_as_chargebee_expects(server):
    server.seed_subscriptions(count=40)  # sub_n updated at DEFAULT_OCCURRED_AT + n minutes
    since = datetime.fromtimestamp(DEFAULT_OCCURRED_AT + 20 * 60, tz=UTC)

    run_command("--since", since.isoformat(), "--status", "active", "--status", "non_renewing")

    (request,) = list_requests(server)
    assert request.param("status[in]") == '["active","non_renewing"]'
    assert request.param("updated_at[after]") == str(DEFAULT_OCCURRED_AT + 20 * 60)
    imported = set(Subscription.objects.values_list("external_id", flat=True))
    # statuses cycle active, non_renewing, in_trial, cancelled; `after` is strict
    assert imported == {f"sub_{n:04d}" for n in range(21, 40) if n % 4 in (0, 1)}


def test_a_date_without_time_zone_is_utc(server):
    server.seed_subscriptions(count=1)

    run_command("--since", "2024-06-01")

    assert list_requests(server)[0].param("updated_at[after]") == str(DEFAULT_OCCURRED_AT)


def test_backfill_never_overwrites_newer_webhook_state(server, monkeypatch):
    monkeypatch.setattr(processing.app, "send_task", lambda name, args: None)
    server.seed_subscriptions(count=5, statuses=("active",))
    listed_version = DEFAULT_OCCURRED_AT * 1000 + 2 * 60_000  # what the list says of sub_0002
    newer = make_event("subscription_cancelled", subscription_id="sub_0002",
                       customer_id="cus_0002", resource_version=listed_version + 1,
                       occurred_at=DEFAULT_OCCURRED_AT + 3600)
    older = make_event("subscription_paused", subscription_id="sub_0003", customer_id="cus_0003",
                       resource_version=1, occurred_at=DEFAULT_OCCURRED_AT - 3600)
    for body in (newer, older):
        stored = intake.store_event(provider="chargebee", event_id=body["id"],
                                    event_type=body["event_type"], body=json.dumps(body))
        processing.process_event(event_id=stored.event.pk)

    run_command()

    kept = Subscription.objects.get(external_id="sub_0002")
    assert (kept.status, kept.source_version) == ("cancelled", listed_version + 1)
    caught_up = Subscription.objects.get(external_id="sub_0003")
    assert (caught_up.status, caught_up.source_version) == (
        "active", DEFAULT_OCCURRED_AT * 1000 + 3 * 60_000)
    assert Subscription.objects.count() == 5


def test_rate_limit_waits_retry_after_and_asks_for_the_page_again(server, applied):
    ids = server.seed_subscriptions(count=120)
    # The client retries two 429s in place; the third reaches the backfill, which waits.
    server.rate_limit(times=4, retry_after="0.01")
    sleeps = Sleeps()

    imported = chargebee_backfill.run(options=BackfillOptions(), progress=Bar(), sleep=sleeps)

    assert imported == 120
    assert sleeps == [0.01]
    assert [r.status for r in list_requests(server)] == [429, 429, 429, 429, 200, 200]
    assert Counter(applied) == Counter(ids)


def test_persistent_rate_limit_stops_with_nothing_half_done(server):
    server.seed_subscriptions(count=10)
    server.rate_limit(times=1000, retry_after="0.01")
    sleeps = Sleeps()

    with pytest.raises(ProviderError) as stopped:
        chargebee_backfill.run(options=BackfillOptions(), progress=Bar(), sleep=sleeps)

    assert stopped.value.permanent is False and stopped.value.retry_after == 0.01
    assert len(sleeps) == chargebee_backfill.RATE_LIMIT_ATTEMPTS - 1
    assert not Subscription.objects.exists()
    assert cursor().position == ""


def test_a_long_retry_after_is_capped(server):
    server.seed_subscriptions(count=1)
    server.rate_limit(times=1, retry_after="3600")
    sleeps = Sleeps()

    chargebee_backfill.run(options=BackfillOptions(), progress=Bar(), sleep=sleeps)

    assert sleeps == [chargebee_backfill.MAX_RETRY_AFTER_SECONDS]
    assert Subscription.objects.count() == 1


def test_an_unreadable_subscription_is_skipped_and_noted(server):
    server.seed_subscriptions(count=3)
    server.add_subscription(make_subscription(subscription_id="sub_odd", customer_id="cus_0000",
                                              status="bogus"))

    output = run_command()

    assert "chargebee: 3 subscriptions imported" in output
    assert not Subscription.objects.filter(external_id="sub_odd").exists()
    assert cursor().params["skipped"] == ["sub_odd"]


def test_bad_api_key_stops_with_the_reason(server, settings):
    settings.CHARGEBEE_API_KEY = "wrong"
    server.seed_subscriptions(count=1)

    with pytest.raises(CommandError, match="401"):
        run_command()


def test_unconfigured_api_is_a_clear_error(settings):
    settings.CHARGEBEE_SITE = ""
    settings.CHARGEBEE_API_KEY = ""

    with pytest.raises(CommandError, match="CHARGEBEE_API_KEY"):
        run_command()
