"""Who may open each dashboard page and use each action.

Every URL pattern of the dashboard is listed here with the arguments it needs, and a test
fails when a pattern is added without being listed, so no page escapes these checks.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from billing.models import WebhookEvent
from crm.models import ContractSync
from dashboard import urls as dashboard_urls

PUBLIC = {"login"}
ACTIONS = {"subscription-push", "sync-retry-all", "sync-retry", "sync-park", "sync-unpark",
           "event-replay", "logout"}


@pytest.fixture
def targets(subscription, failed_sync, failed_event):
    """URL name -> kwargs, for every dashboard pattern."""
    return {
        "overview": {}, "login": {}, "logout": {}, "definitions": {}, "renewals": {},
        "renewals-csv": {}, "churn": {}, "movements": {}, "subscriptions": {},
        "subscription": {"pk": subscription.pk}, "subscription-push": {"pk": subscription.pk},
        "sync": {}, "sync-retry-all": {}, "sync-retry": {"pk": failed_sync.pk},
        "sync-park": {"pk": failed_sync.pk}, "sync-unpark": {"pk": failed_sync.pk},
        "events": {}, "event": {"pk": failed_event.pk},
        "event-replay": {"pk": failed_event.pk},
    }


def _url(name, kwargs):
    return reverse(f"dashboard:{name}", kwargs=kwargs)


def test_every_pattern_is_covered(targets):
    names = {pattern.name for pattern in dashboard_urls.urlpatterns}
    assert names == set(targets)


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_the_login_page(client, targets):
    for name, kwargs in targets.items():
        if name in PUBLIC:
            continue
        url = _url(name, kwargs)
        response = client.post(url) if name in ACTIONS else client.get(url)
        assert response.status_code == 302, name
        assert response.url.startswith(reverse("dashboard:login")), name


@pytest.mark.django_db
def test_non_staff_accounts_are_refused(login, outsider, targets):
    client = login(outsider)
    for name, kwargs in targets.items():
        if name in PUBLIC or name == "logout":
            continue
        url = _url(name, kwargs)
        response = client.post(url) if name in ACTIONS else client.get(url)
        assert response.status_code == 403, name


@pytest.mark.django_db
def test_staff_see_every_page(login, viewer, targets):
    client = login(viewer)
    for name, kwargs in targets.items():
        if name in ACTIONS:
            continue
        response = client.get(_url(name, kwargs))
        assert response.status_code == 200, name


@pytest.mark.django_db
def test_actions_need_a_permission_not_just_staff(login, viewer, targets, failed_sync,
                                                  failed_event):
    client = login(viewer)
    for name, kwargs in targets.items():
        if name not in ACTIONS or name == "logout":
            continue
        assert client.post(_url(name, kwargs)).status_code == 403, name
    failed_sync.refresh_from_db()
    failed_event.refresh_from_db()
    assert failed_sync.state == ContractSync.State.FAILED
    assert failed_event.status == WebhookEvent.State.FAILED


@pytest.mark.django_db
def test_actions_refuse_get(login, operator, targets, failed_event):
    client = login(operator)
    for name, kwargs in targets.items():
        if name not in ACTIONS or name == "logout":
            continue
        assert client.get(_url(name, kwargs)).status_code == 405, name
    failed_event.refresh_from_db()
    assert failed_event.status == WebhookEvent.State.FAILED


@pytest.mark.django_db
def test_the_admin_login_keeps_working(client, viewer):
    response = client.post(reverse("admin:login"), {"username": "viewer",
                                                    "password": "a-long-test-password-1",
                                                    "next": "/admin/"})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_the_dashboard_login_page_logs_staff_in(client, viewer):
    page = client.get(reverse("dashboard:login"))
    assert page.status_code == 200
    assert b"Log in to subsync" in page.content
    response = client.post(reverse("dashboard:login"),
                           {"username": "viewer", "password": "a-long-test-password-1"})
    assert response.status_code == 302
    assert response.url == reverse("dashboard:overview")


@pytest.mark.django_db
def test_a_wrong_password_says_so(client, viewer):
    response = client.post(reverse("dashboard:login"),
                           {"username": "viewer", "password": "wrong"})
    assert response.status_code == 200
    assert b"did not match" in response.content
