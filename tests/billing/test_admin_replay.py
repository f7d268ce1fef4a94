"""The event log's admin action: process the ticked events again (billing.admin)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from billing.models import WebhookEvent
from tests.billing.test_replay_events import failed, processed, rejected, store

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:billing_webhookevent_changelist")


def run_action(client, events: list[WebhookEvent]):
    return client.post(CHANGELIST, {
        "action": "replay_selected", "_selected_action": [e.pk for e in events],
    }, follow=True)


def state(event: WebhookEvent) -> tuple[str, int]:
    event.refresh_from_db()
    return event.status, event.attempts


def test_ticked_events_are_reset_and_handed_to_the_worker(
        admin_client, sent, monkeypatch, django_capture_on_commit_callbacks):
    bad = failed("ev_failed", monkeypatch)
    done = processed("ev_done")
    refused = rejected("ev_rejected")
    waiting = store("ev_waiting")
    untouched = failed("ev_not_ticked", monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(admin_client, [bad, done, refused, waiting])

    assert response.status_code == 200
    text = response.content.decode()
    assert "3 event(s) handed to the worker" in text
    assert "1 event(s) left alone" in text
    assert sorted(sent) == sorted([bad.pk, done.pk, refused.pk])
    for event in (bad, done, refused):
        assert state(event) == ("received", 0)
    assert state(waiting) == ("received", 0)  # it was waiting already: nothing sent for it
    assert state(untouched)[0] == "failed"


def test_the_action_needs_the_change_permission(client, sent, monkeypatch):
    bad = failed("ev_failed", monkeypatch)
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_webhookevent"))
    client.force_login(viewer)
    page = client.get(CHANGELIST)
    assert page.status_code == 200 and "replay_selected" not in page.content.decode()

    response = run_action(client, [bad])
    assert response.status_code == 200
    assert state(bad)[0] == "failed" and sent == []

    viewer.user_permissions.add(Permission.objects.get(codename="change_webhookevent"))
    viewer = User.objects.get(pk=viewer.pk)  # permissions are cached on the instance
    client.force_login(viewer)
    assert "replay_selected" in client.get(CHANGELIST).content.decode()
    run_action(client, [bad])
    assert state(bad) == ("received", 0)
