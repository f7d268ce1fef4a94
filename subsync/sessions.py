"""How long a login lasts, and which address a login attempt comes from.

Django's session cookie has one lifetime (SESSION_COOKIE_AGE, counted from the last save), so
on its own a session either never idles out or, saved on every request, never ends while in
use. The middleware keeps both limits: a session ends after SUBSYNC_SESSION_IDLE_SECONDS
without a request, and at the latest SESSION_COOKIE_AGE after the login. A password change
ends every other session of that user by itself (Django checks the session's password hash on
every request); the dashboard has no other way to change a password than the admin.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import logout

LOGIN_AT = "subsync_login_at"
SEEN_AT = "subsync_seen_at"
# The last-seen time is written at most this often, so that pages do not save the session
# (one database write) on every request.
SEEN_RESOLUTION_SECONDS = 60


class SessionTimeoutMiddleware:
    """Log out a session that has been idle too long or is older than its lifetime.

    Placed after AuthenticationMiddleware and before LoginRequiredMiddleware: the request that
    finds its session expired is then sent to the login page like any anonymous one.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            self._check(request, now=time.time())
        return self.get_response(request)

    def _check(self, request, *, now: float) -> None:
        session = request.session
        login_at = session.get(LOGIN_AT)
        seen_at = session.get(SEEN_AT)
        if login_at is None or seen_at is None:
            session[LOGIN_AT] = session[SEEN_AT] = now
            return
        if (now - seen_at > settings.SUBSYNC_SESSION_IDLE_SECONDS
                or now - login_at > settings.SESSION_COOKIE_AGE):
            logout(request)
            return
        if now - seen_at >= SEEN_RESOLUTION_SECONDS:
            session[SEEN_AT] = now


def client_ip(request) -> str | None:
    """The address a login attempt comes from, for django-axes' per-address lockout.

    Behind a proxy (SUBSYNC_BEHIND_PROXY) it is the last X-Forwarded-For entry, the one our
    proxy appended; the entries before it are whatever the client sent. Otherwise it is the
    connection's own address, and X-Forwarded-For is ignored.
    """
    if settings.SUBSYNC_BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR")
