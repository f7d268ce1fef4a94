"""API tokens: hashed at rest, shown once, accepted as `Token` or `Bearer`, refused once
revoked; `create_api_token` prints the key alone on its last line."""

from __future__ import annotations

import hashlib
import io
import logging

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from rest_framework.test import APIClient

from api.models import ApiToken
from api.tokens import create_token, revoke_tokens

SUMMARY = "/api/v1/sync/summary/"


def with_header(value: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=value)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("scheme", ["Token", "Bearer", "token", "bearer"])
def test_both_schemes_are_accepted(viewer, scheme):
    _, key = create_token(user=viewer)

    assert with_header(f"{scheme} {key}").get(SUMMARY).status_code == 200


@pytest.mark.django_db
def test_only_a_hash_and_a_short_prefix_are_stored(viewer):
    token, key = create_token(user=viewer, name="BI export")
    row = ApiToken.objects.values().get(pk=token.pk)

    assert len(key) >= 40 and key.startswith("sst_")
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(row)
    assert row["prefix"] == key[:12]


@pytest.mark.django_db
@pytest.mark.parametrize("header", [
    "Token sst_not-a-real-key", "Bearer ", "Token a b", "Basic dXNlcjpwYXNz",
])
def test_unknown_or_malformed_credentials_are_refused(viewer, header):
    create_token(user=viewer)

    response = with_header(header).get(SUMMARY)

    assert response.status_code == 401
    assert set(response.json()) == {"error"}


@pytest.mark.django_db
def test_a_revoked_token_is_refused(viewer):
    token, key = create_token(user=viewer)
    client = with_header(f"Token {key}")
    assert client.get(SUMMARY).status_code == 200

    revoke_tokens(tokens=ApiToken.objects.filter(pk=token.pk))

    response = client.get(SUMMARY)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


@pytest.mark.django_db
def test_use_is_recorded_and_the_key_never_logged(viewer, caplog):
    token, key = create_token(user=viewer)
    caplog.set_level(logging.DEBUG)

    with_header(f"Bearer {key}").get(SUMMARY)
    with_header("Token sst_wrong").get(SUMMARY)

    token.refresh_from_db()
    assert token.last_used_at is not None
    assert key not in caplog.text and "sst_wrong" not in caplog.text


@pytest.mark.django_db
def test_the_command_prints_the_key_alone_on_its_last_line(viewer):
    out = io.StringIO()

    call_command("create_api_token", "viewer", "--name", "cron", stdout=out)

    key = out.getvalue().rstrip("\n").splitlines()[-1]
    token = ApiToken.objects.get()
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert token.name == "cron" and token.user == viewer
    assert out.getvalue().count(key) == 1
    assert with_header(f"Token {key}").get(SUMMARY).status_code == 200


@pytest.mark.django_db
def test_the_command_refuses_an_unknown_user():
    with pytest.raises(CommandError):
        call_command("create_api_token", "nobody", stdout=io.StringIO())


@pytest.mark.django_db
def test_the_admin_shows_the_key_once_and_revokes(admin_client, viewer):
    response = admin_client.post(reverse("admin:api_apitoken_add"),
                                 {"user": viewer.pk, "name": "Slack bot"})

    assert response.status_code == 200
    token = ApiToken.objects.get()
    key = response.context["key"]
    assert key in response.content.decode()
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in admin_client.get(
        reverse("admin:api_apitoken_change", args=[token.pk])).content.decode()

    admin_client.post(reverse("admin:api_apitoken_changelist"),
                      {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert with_header(f"Token {key}").get(SUMMARY).status_code == 401
