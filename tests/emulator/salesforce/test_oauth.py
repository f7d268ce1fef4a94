"""The token endpoint: client credentials, password and JWT bearer flows."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.salesforce import Credentials

from .conftest import Api, https_session, make_sf


def _token(emu, **form):
    return https_session(emu).post(emu.token_url, data=form, timeout=10)


def test_client_credentials_grants_a_working_token(emu):
    response = _token(
        emu, grant_type="client_credentials", client_id="emulator", client_secret="emulator"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["instance_url"] == emu.url
    assert body["token_type"] == "Bearer"
    assert body["issued_at"].isdigit()
    assert body["id"].startswith(f"{emu.url}/id/00D")
    assert body["signature"]
    sf = make_sf(emu, body["access_token"])
    assert sf.limits()["DailyApiRequests"]["Max"] == 15000


def test_client_credentials_accepts_http_basic(emu):
    response = https_session(emu).post(
        emu.token_url,
        data={"grant_type": "client_credentials"},
        auth=("emulator", "emulator"),
        timeout=10,
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("client_id", "secret", "error"),
    [("emulator", "wrong", "invalid_client"), ("nobody", "emulator", "invalid_client_id")],
)
def test_wrong_client_is_refused(emu, client_id, secret, error):
    response = _token(
        emu, grant_type="client_credentials", client_id=client_id, client_secret=secret
    )
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert emu.call_count == 0  # the token endpoint is not a REST call


def test_password_flow(emu):
    good = {
        "grant_type": "password",
        "client_id": "emulator",
        "client_secret": "emulator",
        "username": "emulator@subsync.local",
        "password": "emulator",
    }
    assert _token(emu, **good).status_code == 200
    bad = _token(emu, **{**good, "password": "nope"})
    assert bad.status_code == 400
    assert bad.json() == {"error": "invalid_grant", "error_description": "authentication failure"}


def test_unsupported_grant(emu):
    response = _token(emu, grant_type="authorization_code", code="x")
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


@pytest.fixture(scope="module")
def key_pair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


def _assertion(private_key, **overrides) -> str:
    claims = {
        "iss": "emulator",
        "sub": "emulator@subsync.local",
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 180,
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, private_key, algorithm="RS256")


def test_jwt_bearer_flow(start_emulator, key_pair):
    private, public = key_pair
    emu = start_emulator(credentials=Credentials(jwt_public_key=public))

    def exchange(assertion):
        return _token(
            emu, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer", assertion=assertion
        )

    ok = exchange(_assertion(private))
    assert ok.status_code == 200, ok.text
    assert Api(emu, ok.json()["access_token"]).get("/limits").status_code == 200
    assert exchange(_assertion(private, aud=emu.url)).status_code == 200

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases = {
        "expired": _assertion(private, exp=int(time.time()) - 600),
        "wrong audience": _assertion(private, aud="https://example.com"),
        "wrong issuer": _assertion(private, iss="someone-else"),
        "unknown user": _assertion(private, sub="mallory@example.com"),
        "missing exp": _assertion(private, exp=None),
        "bad signature": _assertion(other_key),
        "HS256": jwt.encode(
            {
                "iss": "emulator",
                "sub": "emulator@subsync.local",
                "aud": "https://login.salesforce.com",
                "exp": int(time.time()) + 60,
            },
            "k" * 32,
            algorithm="HS256",
        ),
        "not a jwt": "garbage",
    }
    for name, assertion in cases.items():
        response = exchange(assertion)
        assert response.status_code == 400, name
        assert response.json()["error"].startswith("invalid_"), name


def test_jwt_signature_is_optional_without_a_configured_key(emu):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = _token(
        emu,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=_assertion(key),
    )
    assert response.status_code == 200


def test_token_endpoint_faults_need_an_explicit_path(emu, api):
    emu.inject("server_error")  # aimed at REST calls: a login does not consume it
    form = {
        "grant_type": "client_credentials",
        "client_id": "emulator",
        "client_secret": "emulator",
    }
    assert _token(emu, **form).status_code == 200
    assert api.get("/limits").status_code == 503
    emu.inject("server_error", path="/services/oauth2/token")
    assert _token(emu, **form).status_code == 503
    assert _token(emu, **form).status_code == 200
