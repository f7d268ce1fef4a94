"""Getting an access token from `<login URL>/services/oauth2/token`.

We log in ourselves instead of letting simple-salesforce do it because its login helpers
speak SOAP for the password flow and know nothing of client_credentials; a token plus an
instance URL is all `Salesforce(instance_url=..., session_id=...)` needs, and owning the
login is what lets the client log in again when a session expires mid-run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import jwt
import requests

from crm.salesforce.config import SalesforceConfig
from crm.salesforce.endpoints import check_instance_url, check_login_url
from crm.salesforce.errors import AUTH_FAILURE_BACKOFF_SECONDS, SalesforceError

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Salesforce accepts assertions valid for at most 3 minutes.
_JWT_LIFETIME_SECONDS = 180


@dataclass(frozen=True)
class Token:
    access_token: str = field(repr=False)
    instance_url: str


def jwt_audience(login_url: str) -> str:
    """The `aud` claim: the login URL, except that Salesforce's own hosts expect the generic
    login (or test, for sandboxes) host even when a My Domain URL is used to log in."""
    host = (urlsplit(login_url).hostname or "").lower()
    if host.endswith(".salesforce.com") and host not in ("login.salesforce.com",
                                                          "test.salesforce.com"):
        return "https://test.salesforce.com" if "sandbox" in host else "https://login.salesforce.com"
    return login_url.rstrip("/")


def jwt_assertion(config: SalesforceConfig, *, now: float | None = None) -> str:
    key = Path(config.private_key_file).read_text()
    issued = time.time() if now is None else now
    claims = {
        "iss": config.client_id,
        "sub": config.username,
        "aud": jwt_audience(config.login_url),
        "exp": int(issued) + _JWT_LIFETIME_SECONDS,
    }
    return jwt.encode(claims, key, algorithm="RS256")


def _refused(message: str, *, status: int | None = None) -> SalesforceError:
    """A login failure: someone has to fix settings, so back off for a long while."""
    return SalesforceError(message, code="AUTHENTICATION_FAILED", permanent=False,
                           retry_after=AUTH_FAILURE_BACKOFF_SECONDS, status=status)


def _form(config: SalesforceConfig) -> dict[str, str]:
    if config.auth_flow == "client_credentials":
        return {
            "grant_type": "client_credentials",
            "client_id": config.client_id,
            "client_secret": config.client_secret,
        }
    if config.auth_flow == "password":
        return {
            "grant_type": "password",
            "client_id": config.client_id,
            "client_secret": config.client_secret,
            "username": config.username,
            "password": config.password,
        }
    if config.auth_flow == "jwt":
        try:
            assertion = jwt_assertion(config)
        except (OSError, ValueError, jwt.PyJWTError) as exc:
            raise _refused(
                f"cannot sign the JWT assertion with SALESFORCE_PRIVATE_KEY_FILE: {exc}"
            ) from None
        return {"grant_type": JWT_GRANT, "assertion": assertion}
    raise _refused(f"unknown SALESFORCE_AUTH_FLOW {config.auth_flow!r}")


def fetch_token(*, config: SalesforceConfig, session: requests.Session) -> Token:
    """Log in with the configured flow; raises SalesforceError (never with a secret in it)."""
    check_login_url(config.login_url)
    url = f"{config.login_url}/services/oauth2/token"
    try:
        response = session.post(url, data=_form(config), headers={"Accept": "application/json"})
    except requests.Timeout:
        raise SalesforceError(
            f"login to {config.login_url} timed out", code="TIMEOUT", permanent=False
        ) from None
    except requests.RequestException as exc:
        raise SalesforceError(
            f"cannot reach {config.login_url}: {type(exc).__name__}",
            code="CONNECTION_ERROR", permanent=False,
        ) from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 500:
        raise SalesforceError(
            f"login failed with HTTP {response.status_code}",
            code="SERVER_UNAVAILABLE", permanent=False, status=response.status_code,
        )
    if response.status_code != 200 or not body.get("access_token"):
        error = body.get("error") or f"HTTP {response.status_code}"
        description = body.get("error_description") or ""
        raise _refused(
            f"Salesforce refused the {config.auth_flow} login: {error}"
            + (f" ({description})" if description else ""),
            status=response.status_code,
        )
    instance_url = str(body.get("instance_url") or config.login_url).rstrip("/")
    check_instance_url(instance_url, login_url=config.login_url,
                       extra_hosts=config.instance_hosts)
    return Token(access_token=body["access_token"], instance_url=instance_url)
