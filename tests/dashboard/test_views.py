"""The dashboard's views: what they show, how they refuse bad input, what their buttons do."""

from __future__ import annotations

import csv
import io
import logging

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import Customer, Subscription, WebhookEvent
from billing.selectors.renewals import RenewalFilters, renewal_rows
from crm.models import ContractSync
from dashboard.views.common import utc_today

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("name", "query", "parameter"), [
    ("renewals", "?min_mrr=lots", "min_mrr"),
    ("renewals", "?window=forever", "window"),
    ("renewals", "?from=2027-02-01&to=2027-01-01", "to"),
    ("renewals-csv", "?currency=EURO", "currency"),
    ("churn", "?from=last-year", "from"),
    ("subscriptions", "?ordering=astrology", "ordering"),
    ("subscriptions", "?page=0", "page"),
    ("events", "?from=31/01/2026", "from"),
    ("events", "?status=lost", "status"),
    ("sync", "?page=abc", "page"),
    ("sync", "?page_size=201", "page_size"),
    ("sync", "?state=broken", "state"),
])
def test_filters_that_cannot_be_read_get_a_400_naming_them(login, viewer, name, query,
                                                           parameter):
    response = login(viewer).get(reverse(f"dashboard:{name}") + query)
    assert response.status_code == 400
    assert f"<code>{parameter}</code>".encode() in response.content
    assert b"without filters" in response.content


def test_the_csv_holds_every_row_the_filters_match_in_the_pages_order(login, viewer,
                                                                       subscription):
    other = Customer.objects.create(provider="braintree", external_id="c2", company="Beta")
    Subscription.objects.create(
        provider="braintree", external_id="bt_1", customer=other, status="non_renewing",
        plan_id="basic", currency="USD", mrr=900,
        current_term_end=subscription.current_term_end)
    client = login(viewer)
    everything = list(csv.DictReader(io.StringIO(
        b"".join(client.get(reverse("dashboard:renewals-csv")).streaming_content).decode())))
    assert [row["subscription_id"] for row in everything] == ["sub_1", "bt_1"]
    assert everything[0]["mrr"] == "120.00"
    assert everything[0]["customer"] == "Acme Ltd"
    expected = [row.external_id for row in renewal_rows(
        filters=RenewalFilters.from_query({}, today=utc_today()), today=utc_today())]
    assert [row["subscription_id"] for row in everything] == expected
    response = client.get(reverse("dashboard:renewals-csv") + "?provider=braintree")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(row["subscription_id"], row["status"]) for row in rows] == [
        ("bt_1", "non_renewing")]


def test_the_renewals_page_flags_subscriptions_that_end(login, viewer, subscription):
    subscription.status = "non_renewing"
    subscription.save()
    page = login(viewer).get(reverse("dashboard:renewals")).content.decode()
    assert "Acme Ltd" in page
    assert '<span class="badge warn">ending</span>' in page
    assert "$120.00" in page


def test_replaying_a_failed_event_hands_it_back_and_logs_who(
        login, operator, failed_event, caplog, sent, django_capture_on_commit_callbacks):
    caplog.set_level(logging.INFO, logger="subsync.audit")
    with django_capture_on_commit_callbacks(execute=True):
        response = login(operator).post(
            reverse("dashboard:event-replay", args=[failed_event.pk]), follow=True)
    failed_event.refresh_from_db()
    assert failed_event.status == WebhookEvent.State.RECEIVED
    assert failed_event.attempts == 0
    assert sent == [failed_event.pk]
    assert "handed to the worker again" in response.content.decode()
    assert any("replay_event by operator" in record.getMessage()
               for record in caplog.records)


def test_an_event_already_waiting_is_left_alone(login, operator, failed_event, sent):
    WebhookEvent.objects.filter(pk=failed_event.pk).update(status=WebhookEvent.State.RECEIVED)
    response = login(operator).post(reverse("dashboard:event-replay", args=[failed_event.pk]),
                                    follow=True)
    assert "already waiting" in response.content.decode()
    assert sent == []


def test_push_now_makes_the_subscription_due(login, operator, subscription):
    ContractSync.objects.create(subscription=subscription, state=ContractSync.State.SYNCED,
                                version=3, synced_version=3)
    response = login(operator).post(
        reverse("dashboard:subscription-push", args=[subscription.pk]))
    assert response.status_code == 302
    sync = ContractSync.objects.get(subscription=subscription)
    assert sync.state == ContractSync.State.PENDING
    assert sync.dirty


def test_park_and_unpark_from_the_sync_page(login, operator, failed_sync):
    client = login(operator)
    back = reverse("dashboard:sync") + "?state=failed"
    response = client.post(reverse("dashboard:sync-park", args=[failed_sync.pk]),
                           {"next": back, "reason": "waiting for the region field"})
    assert response.url == back
    failed_sync.refresh_from_db()
    assert failed_sync.state == ContractSync.State.PARKED
    client.post(reverse("dashboard:sync-unpark", args=[failed_sync.pk]),
                {"next": "https://elsewhere.example/"})
    failed_sync.refresh_from_db()
    assert failed_sync.state == ContractSync.State.PENDING


def test_an_outside_next_address_is_not_followed(login, operator, failed_sync):
    response = login(operator).post(reverse("dashboard:sync-retry", args=[failed_sync.pk]),
                                    {"next": "https://elsewhere.example/"})
    assert response.url == reverse("dashboard:sync")


def test_the_sync_page_says_what_salesforce_said_and_what_to_do(login, viewer, failed_sync):
    page = login(viewer).get(reverse("dashboard:sync")).content.decode()
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in page
    assert "Contracts need a region" in page
    assert "validation rule" in page.lower()
    assert "needs the change permission" in page  # a viewer sees no buttons


def test_the_banner_says_when_the_built_in_emulator_is_used(login, viewer, settings):
    settings.SUBSYNC_SALESFORCE_EMULATOR = True
    page = login(viewer).get(reverse("dashboard:events")).content.decode()
    assert "Salesforce: built-in emulator." in page
    settings.SUBSYNC_SALESFORCE_EMULATOR = False
    settings.SALESFORCE_CLIENT_ID = ""
    settings.SALESFORCE_USERNAME = ""
    page = login(viewer).get(reverse("dashboard:events")).content.decode()
    assert "Salesforce is not configured." in page


def test_dates_follow_the_browsers_time_zone(login, viewer):
    client = login(viewer)
    client.cookies["tz"] = "Europe%2FBerlin"
    assert "Times in Europe/Berlin" in client.get(reverse("dashboard:events")).content.decode()
    client.cookies["tz"] = "Mars/Olympus_Mons"
    assert "Times in UTC" in client.get(reverse("dashboard:events")).content.decode()


def test_the_overview_shows_the_figures_of_the_selectors(login, viewer, subscription):
    page = login(viewer).get(reverse("dashboard:overview")).content.decode()
    # One subscription of $120.00 a month: MRR $120, ARR $1,440.
    assert "$120" in page
    assert "$1,440" in page
    assert page.count('data-source="') == 3


def test_the_overview_says_when_its_cached_figures_were_computed(login, viewer, subscription):
    from billing.selectors import overview_cache

    client = login(viewer)
    client.get(reverse("dashboard:overview"))
    stored = overview_cache.cached_dashboard(today=timezone.now().date())
    page = client.get(reverse("dashboard:overview")).content.decode()
    assert f"Figures as of {stored.computed_at:%H:%M} UTC." in page


def test_the_overview_tells_a_new_user_what_to_do(login, viewer):
    page = login(viewer).get(reverse("dashboard:overview")).content.decode()
    assert "seed_demo" in page
    assert "backfill" in page


def test_the_definitions_page_shows_the_metrics_document(login, viewer):
    page = login(viewer).get(reverse("dashboard:definitions")).content.decode()
    assert 'id="net-revenue-retention' in page or "Net revenue retention" in page
    assert "<table>" in page


def test_the_movements_page_lists_the_rows_behind_a_figure(login, viewer, subscription):
    from billing.models import SubscriptionChange

    SubscriptionChange.objects.create(
        subscription=subscription, customer=subscription.customer,
        occurred_at=subscription.current_term_start, status_before="", status_after="active",
        mrr_before=0, mrr_after=12_000, currency="USD", movement="new", movement_amount=12_000)
    page = login(viewer).get(reverse("dashboard:movements") + "?movement=new").content.decode()
    assert "Acme Ltd" in page
    assert "+$120.00" in page
    assert '<span class="badge good">new</span>' in page


def test_every_link_into_the_definitions_lands_on_a_heading(login, viewer):
    import re
    from pathlib import Path

    from django.conf import settings

    page = login(viewer).get(reverse("dashboard:definitions")).content.decode()
    headings = set(re.findall(r'<h[1-6] id="([^"]+)"', page))
    templates = Path(settings.BASE_DIR, "templates").rglob("*.html")
    anchors = {anchor for path in templates
               for anchor in re.findall(r"definitions' %}#([a-z0-9-]+)|defs }}#([a-z0-9-]+)",
                                        path.read_text())
               for anchor in anchor if anchor}
    assert anchors  # the pages do link to definitions
    assert anchors <= headings, anchors - headings
