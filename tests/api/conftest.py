"""API callers: anonymous, a non-staff token, read-only staff, an operator; and a little data."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from api.tokens import create_token

# The dashboard's callers and data, so that both are tested with the same users and rows.
from tests.dashboard.conftest import (  # noqa: F401
    failed_event,
    failed_sync,
    operator,
    outsider,
    subscription,
    viewer,
)


@pytest.fixture(autouse=True)
def _fresh_throttle():
    """Request counts live in the shared cache, keyed by user id, which the next test reuses."""

    def forget():
        cache.delete_many([f"throttle_user_{pk}" for pk in range(1, 200)])

    forget()
    yield
    forget()


@pytest.fixture
def token_client():
    """An API client sending `Authorization: Token <key>` for a user."""

    def for_user(user, *, scheme: str = "Token") -> APIClient:
        _, key = create_token(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
        return client

    return for_user


@pytest.fixture
def as_viewer(request, token_client):
    return token_client(request.getfixturevalue("viewer"))


@pytest.fixture
def as_operator(request, token_client):
    return token_client(request.getfixturevalue("operator"))
