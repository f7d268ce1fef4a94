"""Show dates in the viewer's time zone.

The browser tells us its zone once (static/js/dashboard.js sets the `tz` cookie from
Intl.DateTimeFormat); anything that is not a known IANA zone is ignored and UTC is used, so a
forged cookie can do no more than choose another valid zone.
"""

from __future__ import annotations

import zoneinfo
from functools import lru_cache
from urllib.parse import unquote

from django.utils import timezone

COOKIE = "tz"


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def viewer_zone(value: str | None) -> zoneinfo.ZoneInfo | None:
    """The zone named by `value`, or None when it is not a known IANA zone name."""
    value = unquote(value or "")
    if not value or len(value) > 64 or value not in _known_zones():
        return None
    return zoneinfo.ZoneInfo(value)


class ViewerTimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = viewer_zone(request.COOKIES.get(COOKIE))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
