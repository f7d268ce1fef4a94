"""The dashboard as an ops person uses it, in a real browser: log in, open every page, read
the charts, filter renewals and download the CSV, replay an event, retry a failed sync.

Screenshots of every page (laptop and phone) are kept under var/screenshots/.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.utils import timezone

from billing.demo.seed import seed_demo
from billing.models import WebhookEvent
from crm.models import ContractSync
from tests.dashboard.browser.conftest import screenshot

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PAGES = (  # nav label, heading, screenshot name
    ("Overview", "Overview", "overview"),
    ("Renewals", "Renewals", "renewals"),
    ("Churn", "Churn", "churn"),
    ("Subscriptions", "Subscriptions", "subscriptions"),
    ("Sync health", "Sync health", "sync"),
    ("Webhook events", "Webhook events", "events"),
)


@pytest.fixture
def demo(db):
    """A small realistic history sent through the real pipeline, plus one failed event and
    one failed sync for the buttons."""
    seed_demo(subscriptions=40, seed=7)
    event = WebhookEvent.objects.create(
        provider="chargebee", event_id="ev_browser_failed", event_type="subscription_changed",
        body='{"id": "ev_browser_failed", "api_version": "v2"}', attempts=8,
        status=WebhookEvent.State.FAILED, error="a parser bug, since fixed")
    sync = ContractSync.objects.filter(state=ContractSync.State.PENDING).order_by("pk").first()
    ContractSync.objects.filter(pk=sync.pk).update(
        state=ContractSync.State.FAILED, attempts=6, version=2, synced_version=1,
        last_error_code="FIELD_CUSTOM_VALIDATION_EXCEPTION",
        last_error="Contract chargebee:x: Region is required",
        next_attempt_at=timezone.now() + timezone.timedelta(hours=6))
    return {"event": event, "sync": ContractSync.objects.get(pk=sync.pk)}


def test_every_page_opens_from_the_navigation_with_its_data(page, demo):
    for label, heading, name in PAGES:
        page.get_by_role("navigation", name="Main").get_by_role("link", name=label).click()
        page.wait_for_load_state("load")
        assert page.locator("h1").first.inner_text() == heading
        assert page.title().startswith(heading)
        if name == "overview":
            charts = page.locator("canvas[data-source]")
            assert charts.count() == 3
            for index in range(3):
                chart = charts.nth(index)
                chart.wait_for(state="visible")
                page.wait_for_function("c => c.dataset.rendered === 'true'",
                                       arg=chart.element_handle())
                assert chart.get_attribute("data-points") == "12"
            mrr = page.get_by_test_id("kpis").locator(".tile").first.locator(".value")
            # The demo's MRR, not figures stored before it (seed_demo computes them).
            assert re.fullmatch(r"\$[1-9][0-9,]*", mrr.inner_text())
            assert not page.get_by_test_id("figures-stale").count()
        screenshot(page, f"desktop-{name}")
    assert page.errors == []


def test_pages_fit_a_phone(browser, page, demo):
    phone = browser.new_context(viewport={"width": 390, "height": 844},
                                storage_state=page.context.storage_state())
    mobile = phone.new_page()
    for path, name in (("/", "overview"), ("/renewals/", "renewals"), ("/sync/", "sync")):
        mobile.goto(page.base + path)
        nav = mobile.get_by_role("navigation", name="Main")
        assert nav.is_visible()
        width = mobile.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways on a phone ({width}px)"
        screenshot(mobile, f"phone-{name}", full_page=False)
    phone.close()


def test_filter_renewals_and_download_exactly_what_is_shown(page, demo):
    page.goto(page.base + "/renewals/?window=next_quarter")
    page.locator("select[name=provider]").select_option("chargebee")
    page.wait_for_url(re.compile(r"provider=chargebee"))
    page.wait_for_function("() => !document.querySelector('.htmx-request')")
    table = page.get_by_test_id("renewals-table")
    providers = table.locator("td[data-label=Provider]").all_inner_texts()
    assert providers and set(providers) == {"chargebee"}
    shown = table.locator("td[data-label=Subscription]").all_inner_texts()
    with page.expect_download() as download:
        page.get_by_test_id("csv-link").click()
    text = download.value.path().read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {row["provider"] for row in rows} == {"chargebee"}
    # Every subscription on the page is in the file, in the same order (one page here).
    assert [row["subscription_id"] for row in rows][:len(shown)] == shown
    screenshot(page, "desktop-renewals-filtered")


def test_replay_a_failed_event_with_its_button(page, demo):
    event = demo["event"]
    page.goto(f"{page.base}/events/?status=failed")
    page.get_by_role("link", name=event.event_id).click()
    assert "a parser bug" in page.inner_text("main")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Replay event").click()
    page.wait_for_load_state("load")
    assert "handed to the worker again" in page.inner_text(".messages")
    event.refresh_from_db()
    assert event.status == WebhookEvent.State.RECEIVED
    assert event.attempts == 0
    screenshot(page, "desktop-event-replayed")


def test_retry_a_failed_sync_with_its_button(page, demo):
    sync = demo["sync"]
    page.goto(f"{page.base}/sync/?state=failed")
    row = page.get_by_test_id("failures-table").locator("tbody tr")
    assert row.count() == 1
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in row.inner_text()
    assert "validation rule" in row.inner_text().lower()
    page.get_by_test_id(f"retry-{sync.pk}").click()
    page.wait_for_load_state("load")
    assert page.locator(".messages li").count() == 1
    sync.refresh_from_db()
    assert sync.state == ContractSync.State.PENDING
    assert sync.next_attempt_at is None or sync.next_attempt_at <= timezone.now()
    screenshot(page, "desktop-sync-retried")
