"""How long a dashboard login lasts: an idle timeout, a lifetime, and a password change."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from subsync.sessions import LOGIN_AT, SEEN_AT

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user("ops", "ops@example.com", "a-password-1234",
                                                 is_staff=True)
    client.force_login(user)
    assert client.get("/").status_code == 200
    client.user = user
    return client


def _age(client, *, login_ago: float, seen_ago: float) -> None:
    session = client.session
    now = time.time()
    session[LOGIN_AT] = now - login_ago
    session[SEEN_AT] = now - seen_ago
    session.save()


def _sent_to_login(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/login/")


def test_limits():
    assert settings.SESSION_COOKIE_AGE == 12 * 3600
    assert settings.SUBSYNC_SESSION_IDLE_SECONDS == 2 * 3600


def test_a_session_in_use_goes_on(staff_client):
    _age(staff_client, login_ago=11 * 3600, seen_ago=30 * 60)
    assert staff_client.get("/").status_code == 200


def test_an_idle_session_ends(staff_client):
    _age(staff_client, login_ago=3 * 3600, seen_ago=2 * 3600 + 60)
    assert _sent_to_login(staff_client.get("/"))
    assert "_auth_user_id" not in staff_client.session


def test_a_session_ends_after_its_lifetime_even_in_use(staff_client):
    _age(staff_client, login_ago=12 * 3600 + 60, seen_ago=10)
    assert _sent_to_login(staff_client.get("/"))


def test_requests_keep_the_session_alive(staff_client):
    _age(staff_client, login_ago=3600, seen_ago=90 * 60)
    assert staff_client.get("/").status_code == 200
    assert time.time() - staff_client.session[SEEN_AT] < 60


def test_a_password_change_ends_the_other_sessions(staff_client):
    user = staff_client.user
    user.set_password("a-new-password-5678")
    user.save()
    assert _sent_to_login(staff_client.get("/"))
