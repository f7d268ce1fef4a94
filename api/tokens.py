"""Creating, checking and revoking API tokens (services: the writes; `authenticate_key` reads).

A key is `sst_` and 40 random URL-safe characters (240 bits). The database keeps its SHA-256
(a fast hash is right here: the key is random, not a password anyone could guess) and its first
12 characters to recognise it in the admin. A presented key is found by its hash, then the
hashes are compared in constant time; the key itself is never stored nor logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from django.utils import timezone

from api.models import ApiToken

KEY_PREFIX = "sst_"
SHOWN_PREFIX_LENGTH = 12
# last_used_at is written at most this often per token: not one UPDATE per request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(30)  # 30 bytes: 40 characters


def create_token(*, user, name: str = "") -> tuple[ApiToken, str]:
    """A new token for `user`: the row, and the key, which is never available again."""
    key = new_key()
    token = ApiToken.objects.create(user=user, name=name[:100], key_hash=hash_key(key),
                                    prefix=key[:SHOWN_PREFIX_LENGTH])
    return token, key


def revoke_tokens(*, tokens) -> int:
    """Revoke the given tokens (a queryset); already revoked ones keep their date."""
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


def authenticate_key(key: str) -> ApiToken | None:
    """The active token whose key this is (with its user loaded), or None."""
    if not key or len(key) > 200:
        return None
    digest = hash_key(key)
    token = (ApiToken.objects.select_related("user")
             .filter(key_hash=digest, revoked_at__isnull=True).first())
    if token is None or not hmac.compare_digest(token.key_hash, digest):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
