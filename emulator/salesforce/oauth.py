"""``POST /services/oauth2/token``: the three grant types subsync can be configured with.

Answers mirror Salesforce's: a JSON object with ``access_token``, ``instance_url`` (this
server), ``id``, ``token_type``, ``issued_at`` (milliseconds, as a string) and
``signature``; failures are HTTP 400 with ``{"error", "error_description"}``. A JWT
assertion is checked the way Salesforce checks it (RS256, issuer = client id, subject = a
known user, audience = the login host, not expired); its signature is verified only when
a public key is configured, because ``make run`` has no certificate to register.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import parse_qs

import jwt

from .messages import Reply, Request
from .org import Org

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
_CLOCK_SKEW = 60


def _refuse(error: str, description: str) -> Reply:
    return Reply(400, {"error": error, "error_description": description})


def handle(org: Org, request: Request) -> Reply:
    if request.method != "POST":
        return Reply(405, {"error": "invalid_request", "error_description": "must use HTTP POST"})
    form = {k: v[0] for k, v in parse_qs(request.text(), keep_blank_values=True).items()}
    form.update({k: v for k, v in request.query.items() if k not in form})
    latency = org.faults.take("latency", request.method, request.path, explicit_path=True)
    if latency is not None:
        time.sleep(latency.seconds)
    failure = org.faults.take("server_error", request.method, request.path, explicit_path=True)
    if failure is not None:
        return Reply(
            failure.status,
            {"error": "server_error", "error_description": "Service temporarily unavailable"},
        )
    with org.lock:
        org.token_requests += 1
        grant = form.get("grant_type")
        if grant == "client_credentials":
            return _client_credentials(org, request, form)
        if grant == "password":
            return _password(org, form)
        if grant == JWT_GRANT:
            return _jwt_bearer(org, form)
        return _refuse("unsupported_grant_type", "grant type not supported")


def _client_pair(request: Request, form: dict) -> tuple[str | None, str | None]:
    header = request.header("authorization") or ""
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except ValueError:
            return None, None
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return form.get("client_id"), form.get("client_secret")


def _check_client(org: Org, client_id: str | None, secret: str | None) -> Reply | None:
    credentials = org.credentials
    if not client_id or not hmac.compare_digest(client_id, credentials.client_id):
        return _refuse("invalid_client_id", "client identifier invalid")
    if secret is None or not hmac.compare_digest(secret, credentials.client_secret):
        return _refuse("invalid_client", "invalid client credentials")
    return None


def _client_credentials(org: Org, request: Request, form: dict) -> Reply:
    refused = _check_client(org, *_client_pair(request, form))
    return refused or _grant(org, org.credentials.username)


def _password(org: Org, form: dict) -> Reply:
    refused = _check_client(org, form.get("client_id"), form.get("client_secret"))
    if refused:
        return refused
    username, password = form.get("username") or "", form.get("password") or ""
    credentials = org.credentials
    if not (
        hmac.compare_digest(username.lower(), credentials.username.lower())
        and hmac.compare_digest(password, credentials.password)
    ):
        return _refuse("invalid_grant", "authentication failure")
    return _grant(org, credentials.username)


def _jwt_bearer(org: Org, form: dict) -> Reply:
    assertion = form.get("assertion")
    if not assertion:
        return _refuse("invalid_request", "assertion is required")
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return _refuse("invalid_grant", "invalid assertion")
    if header.get("alg") != "RS256":
        return _refuse("invalid_grant", "invalid assertion: algorithm must be RS256")
    credentials = org.credentials
    missing = [c for c in ("iss", "sub", "aud", "exp") if c not in claims]
    if missing:
        return _refuse("invalid_grant", f"invalid assertion: missing {', '.join(missing)}")
    if claims["iss"] != credentials.client_id:
        return _refuse("invalid_client_id", "client identifier invalid")
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    allowed = {*AUDIENCES, org.base_url}
    if not any(str(a).rstrip("/") in allowed for a in audiences):
        return _refuse("invalid_grant", "audience is invalid")
    try:
        expires = float(claims["exp"])
    except (TypeError, ValueError):
        return _refuse("invalid_grant", "invalid assertion: exp is not a number")
    if expires < time.time() - _CLOCK_SKEW:
        return _refuse("invalid_grant", "expired authorization code")
    if str(claims["sub"]).lower() != credentials.username.lower():
        return _refuse("invalid_grant", "user hasn't approved this consumer")
    if credentials.jwt_public_key:
        try:
            jwt.decode(
                assertion,
                credentials.jwt_public_key,
                algorithms=["RS256"],
                options={"verify_aud": False, "verify_exp": False},
            )
        except jwt.PyJWTError:
            return _refuse("invalid_grant", "invalid assertion: signature does not verify")
    return _grant(org, credentials.username)


def _grant(org: Org, username: str) -> Reply:
    token, issued = org.open_session(username)
    issued_at = str(int(issued * 1000))
    identity = f"{org.base_url}/id/{org.org_id}/{org.user_id}"
    digest = hmac.new(org.org_id.encode(), (identity + issued_at).encode(), hashlib.sha256)
    return Reply(
        200,
        {
            "access_token": token,
            "instance_url": org.base_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": base64.b64encode(digest.digest()).decode(),
            "scope": "api",
        },
    )
