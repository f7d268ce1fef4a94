"""No page breaks its Content-Security-Policy in a real browser.

Chromium reports every blocked inline style, inline script or foreign file on the console
("... violates the following Content Security Policy directive ..."). Every dashboard page,
a subscription's and an event's page, the login page and the lockout page, and the admin,
are loaded, and htmx's live filters are used once, with the console watched.
"""

from __future__ import annotations

import pytest

from billing.demo.seed import seed_demo
from billing.models import Subscription, WebhookEvent

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CSP = "Content Security Policy"


def _violations(page) -> list[str]:
    return [message for message in page.errors if CSP in message]


@pytest.fixture
def demo(db):
    seed_demo(subscriptions=12, seed=3)
    return {"subscription": Subscription.objects.order_by("pk").first(),
            "event": WebhookEvent.objects.order_by("pk").first()}


def test_the_console_reports_a_violation_when_there_is_one(page):
    """The check below can fail: an inline style added to the page is reported."""
    page.goto(page.base + "/")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', "
                  "'<p style=\"color: red\">inline</p>')")
    page.wait_for_timeout(200)
    assert _violations(page)


def test_no_page_violates_the_policy(page, demo):
    paths = ["/", "/renewals/", "/renewals/?window=next_quarter", "/churn/", "/subscriptions/",
             f"/subscriptions/{demo['subscription'].pk}/", "/sync/", "/events/",
             f"/events/{demo['event'].pk}/", "/definitions/", "/admin/",
             "/admin/billing/subscription/", "/api/docs/"]
    for path in paths:
        page.goto(page.base + path)
        page.wait_for_load_state("networkidle")
        assert not _violations(page), (path, _violations(page))
    # htmx at work: the subscription search swaps the results in place.
    page.goto(page.base + "/subscriptions/")
    page.fill("input[name=q]", "a")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(600)
    page.wait_for_load_state("networkidle")
    assert not _violations(page)


def test_login_and_lockout_pages_keep_the_policy(browser, live_server):
    context = browser.new_context()
    anonymous = context.new_page()
    errors: list[str] = []
    anonymous.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    anonymous.goto(f"{live_server.url}/login/")
    for _ in range(5):
        anonymous.fill("#id_username", "nobody")
        anonymous.fill("#id_password", "wrong-password")
        anonymous.click("button[type=submit]")
        anonymous.wait_for_load_state("load")
    assert anonymous.locator("[data-testid=locked-out]").is_visible()
    context.close()
    assert not [message for message in errors if CSP in message]
