"""Chargebee webhook intake: HTTP Basic auth and the minimal shape check before storing.

Chargebee does not sign webhooks; it sends the credentials configured on the webhook URL as
HTTP Basic auth. Both parts are compared in constant time. The envelope check
(billing.providers.chargebee.parse.read_envelope) decides whether to store; the deep parse
happens later in the worker.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json


def credentials_configured(*, username: str, password: str) -> bool:
    return bool(username and password)


def basic_auth_matches(header: str, *, username: str, password: str) -> bool:
    """True when `header` is `Basic base64(username:password)` for the configured pair."""
    if not credentials_configured(username=username, password=password):
        return False
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    user, sep, secret = decoded.partition(b":")
    if not sep:
        return False
    # Evaluate both comparisons so timing does not reveal which part was wrong.
    user_ok = hmac.compare_digest(user, username.encode())
    secret_ok = hmac.compare_digest(secret, password.encode())
    return user_ok and secret_ok


def _best_effort_str(body: bytes, key: str) -> str:
    """`key` of an unusable body when it is a JSON object holding a string there, else ''."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return ""
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) else ""


def best_effort_type(body: bytes) -> str:
    """The event_type of an unusable body, when it has one, for the rejected row."""
    return _best_effort_str(body, "event_type")[:128]


def best_effort_id(body: bytes) -> str:
    """Chargebee's own event id of an unusable body (another api_version, a missing field),
    when it has one: the rejected row is kept under it, so ops find it by the id Chargebee
    shows them, and a usable delivery of the same event takes the row over."""
    return _best_effort_str(body, "id").strip()
