"""Nothing anonymous; reading needs staff; acting needs the dashboard button's permission."""

from __future__ import annotations

import pytest
from django.urls import reverse

from api import urls

READS = [p.name for p in urls.v1 if "get" in p.callback.view_class.http_method_names
         and hasattr(p.callback.view_class, "get")]
ACTIONS = [p.name for p in urls.v1 if hasattr(p.callback.view_class, "post")]


def url_of(name: str, pk: int = 1) -> str:
    pattern = next(p for p in urls.v1 if p.name == name)
    kwargs = {"pk": pk} if "<int:pk>" in str(pattern.pattern) else {}
    return reverse(f"api:{name}", kwargs=kwargs)


def call(client, name: str, pk: int = 1):
    method = client.post if name in ACTIONS else client.get
    return method(url_of(name, pk), format="json")


def test_the_lists_cover_every_endpoint():
    assert len(READS) + len(ACTIONS) == len(urls.v1)
    assert set(ACTIONS) == {"subscription-push", "sync-retry-failed", "sync-retry", "sync-park",
                            "sync-unpark", "event-replay"}


@pytest.mark.django_db
@pytest.mark.parametrize("name", READS + ACTIONS)
def test_anonymous_requests_are_refused_with_401(client, name):
    response = call(client, name)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
@pytest.mark.parametrize("name", READS + ACTIONS)
def test_non_staff_tokens_are_refused_with_403(outsider, token_client, name):
    response = call(token_client(outsider), name)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.django_db
@pytest.mark.parametrize("name", ACTIONS)
def test_read_only_staff_may_not_act(as_viewer, failed_sync, failed_event, name):
    response = call(as_viewer, name)

    assert response.status_code == 403
    assert "permission" in response.json()["error"]["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", READS)
def test_staff_may_read(as_viewer, failed_sync, failed_event, subscription, name):
    pk = {"customer": subscription.customer_id, "subscription": subscription.pk,
          "event": failed_event.pk}.get(name, 1)

    response = call(as_viewer, name, pk)

    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("name", ACTIONS)
def test_operators_may_act(as_operator, failed_sync, failed_event, name):
    pk = {"subscription-push": failed_sync.subscription_id,
          "event-replay": failed_event.pk}.get(name, failed_sync.pk)

    response = call(as_operator, name, pk)

    assert response.status_code == 200


@pytest.mark.django_db
def test_the_dashboard_session_works_and_writes_need_csrf(viewer, operator, failed_sync):
    from rest_framework.test import APIClient

    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(viewer)
    assert browser.get(reverse("api:sync-summary")).status_code == 200

    browser.force_login(operator)
    response = browser.post(reverse("api:sync-retry", kwargs={"pk": failed_sync.pk}))
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_inactive_staff_are_refused(viewer, token_client):
    client = token_client(viewer)
    viewer.is_active = False
    viewer.save()

    response = client.get(reverse("api:sync-summary"))

    assert response.status_code == 401
