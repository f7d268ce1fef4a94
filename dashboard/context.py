"""What every dashboard page shows around its content: navigation, the Salesforce target
(the emulator banner) and the zones and currency the figures are in."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

# (url name, label) in the order of the navigation bar.
NAVIGATION = (
    ("dashboard:overview", "Overview"),
    ("dashboard:renewals", "Renewals"),
    ("dashboard:churn", "Churn"),
    ("dashboard:subscriptions", "Subscriptions"),
    ("dashboard:sync", "Sync health"),
    ("dashboard:events", "Webhook events"),
)


def _nav(request) -> list[dict]:
    match = getattr(request, "resolver_match", None)
    here = f"{match.namespace}:{match.url_name}" if match else ""
    items = []
    for name, label in NAVIGATION:
        url = reverse(name)
        current = here == name or (name != "dashboard:overview" and request.path.startswith(url))
        items.append({"url": url, "label": label, "current": current})
    return items


def _salesforce():
    from crm.selectors import salesforce_target

    return salesforce_target()


def dashboard(request) -> dict:
    return {
        "nav": SimpleLazyObject(lambda: _nav(request)),
        "salesforce": SimpleLazyObject(_salesforce),
        "viewer_time_zone": timezone.get_current_timezone_name(),
        "reporting_currency": settings.SUBSYNC_REPORTING_CURRENCY,
    }
