"""Brute-force protection (django-axes) on the dashboard's login page and the admin's.

After AXES_FAILURE_LIMIT failed logins for one username, or from one address, further logins
for that username or from that address are refused with a page that says so, even with the
right password, until an admin removes the lockout.
"""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import override_settings

from subsync.sessions import client_ip

pytestmark = pytest.mark.django_db

PASSWORD = "the-right-password-1"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("ops", "ops@example.com", PASSWORD,
                                                 is_staff=True, is_superuser=True)


def _login(client, username, password, *, address="10.0.0.1", path="/login/"):
    return client.post(path, {"username": username, "password": password},
                       REMOTE_ADDR=address)


def _fail(client, times, *, username="ops", address="10.0.0.1", path="/login/"):
    for _ in range(times):
        response = _login(client, username, "wrong", address=address, path=path)
        # The form again with its error; the attempt that reaches the limit gets the lockout.
        assert response.status_code in (200, 429)


def test_the_limit_is_five_attempts():
    assert settings.AXES_FAILURE_LIMIT == 5


def test_a_username_is_locked_after_repeated_failures_with_a_clear_message(client, staff):
    _fail(client, 5)
    response = _login(client, "ops", PASSWORD)
    assert response.status_code == 429
    assert b"Login locked" in response.content
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session


def test_fewer_failures_do_not_lock_and_a_success_resets_the_count(client, staff):
    _fail(client, 4)
    assert _login(client, "ops", PASSWORD).status_code == 302
    client.logout()
    _fail(client, 4)
    assert _login(client, "ops", PASSWORD).status_code == 302


def test_the_username_stays_locked_from_another_address(client, staff):
    for index in range(5):
        _login(client, "ops", "wrong", address=f"10.0.1.{index}")
    assert _login(client, "ops", PASSWORD, address="10.9.9.9").status_code == 429


def test_an_address_is_locked_whatever_username_it_tries_next(client, staff):
    for index in range(5):
        _login(client, f"guess{index}", "wrong", address="10.0.0.7")
    assert _login(client, "ops", PASSWORD, address="10.0.0.7").status_code == 429
    assert _login(client, "ops", PASSWORD, address="10.0.0.8").status_code == 302


def test_the_admin_login_is_protected_too(client, staff):
    for _ in range(5):
        _login(client, "ops", "wrong", path="/admin/login/")
    response = _login(client, "ops", PASSWORD, path="/admin/login/")
    assert response.status_code == 429
    # One count for both pages: the dashboard's login is locked as well.
    assert _login(client, "ops", PASSWORD).status_code == 429


def test_an_admin_removes_the_lockout_in_the_admin(client, staff, admin_client):
    _fail(client, 5)
    assert _login(client, "ops", PASSWORD).status_code == 429
    attempts = list(AccessAttempt.objects.values_list("pk", flat=True))
    assert attempts
    listing = admin_client.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    response = admin_client.post("/admin/axes/accessattempt/", {
        "action": "delete_selected", "_selected_action": attempts, "post": "yes"})
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert _login(client, "ops", PASSWORD).status_code == 302


class _Request:
    def __init__(self, **meta):
        self.META = meta


def test_forwarded_addresses_are_ignored_unless_behind_a_proxy():
    request = _Request(REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="1.2.3.4")
    with override_settings(SUBSYNC_BEHIND_PROXY=False):
        assert client_ip(request) == "203.0.113.5"
    # Behind a proxy, the address the proxy appended (the last one) counts, not what the
    # client wrote before it.
    request = _Request(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.9")
    with override_settings(SUBSYNC_BEHIND_PROXY=True):
        assert client_ip(request) == "198.51.100.9"


def test_a_client_cannot_escape_the_address_lockout_by_inventing_forwarded_addresses(
        client, staff):
    for index in range(5):
        client.post("/login/", {"username": f"guess{index}", "password": "wrong"},
                    REMOTE_ADDR="10.0.0.7", HTTP_X_FORWARDED_FOR=f"192.0.2.{index}")
    response = client.post("/login/", {"username": "ops", "password": PASSWORD},
                           REMOTE_ADDR="10.0.0.7", HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert response.status_code == 429
