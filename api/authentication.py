"""How API requests say who they are: `Authorization: Token <key>` or `Bearer <key>` (scripts,
BI tools), or the dashboard's session cookie (the browser, with CSRF on writes)."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from api.tokens import authenticate_key

SCHEMES = ("token", "bearer")


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """An ApiToken's key after `Token` or `Bearer`. A request without such a header is left
    to the next authenticator; a wrong, revoked or malformed key is refused (401)."""

    keyword = "Token"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].decode("latin-1").lower() not in SCHEMES:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: expected 'Token <key>' or 'Bearer <key>'.")
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = authenticate_key(key)
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return token.user, token

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) with this challenge when no credentials were sent.
        return self.keyword
