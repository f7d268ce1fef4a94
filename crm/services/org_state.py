"""Writes to the one shared SalesforceOrgState row: API usage seen, the instance URL of the
last login, the flush debounce window.

All are read and written by many processes (web, several workers, beat), so each write is a
single conditional UPDATE that the database serialises; the row is created on first use.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from crm.models import SalesforceOrgState
from crm.salesforce.usage import ApiUsage

DEFAULT_KEY = "default"


def _state():
    return SalesforceOrgState.objects.filter(key=DEFAULT_KEY)


def _ensure_row() -> None:
    if _state().exists():
        return
    try:
        with transaction.atomic():
            SalesforceOrgState.objects.create(key=DEFAULT_KEY)
    except IntegrityError:
        pass  # created concurrently


def record_api_usage(*, usage: ApiUsage, now: datetime | None = None) -> None:
    """Remember the latest daily API usage Salesforce reported (one UPDATE per response)."""
    fields = {
        "api_usage_used": usage.used,
        "api_usage_limit": usage.limit,
        "api_usage_observed_at": now or usage.observed_at or timezone.now(),
    }
    if not _state().update(**fields):
        _ensure_row()
        _state().update(**fields)


def expire_api_usage() -> None:
    """Make the next budget decision ask Salesforce first (one `limits` call) instead of
    trusting the last figure: what a forced sync does, since an operator forcing one after
    the daily limit would otherwise be deferred again on the figure from before usage fell.
    The figures stay (the dashboard still shows them); only their age is forgotten."""
    _state().update(api_usage_observed_at=None)


def record_instance_url(*, instance_url: str) -> None:
    """Remember where the org's records live (the instance URL a login answered with).

    Written only when it changed: the logins of many workers cost an UPDATE matching nothing.
    """
    instance_url = instance_url.rstrip("/")
    if not instance_url:
        return
    changed = _state().exclude(instance_url=instance_url).update(instance_url=instance_url)
    if not changed and not _state().exists():
        _ensure_row()
        _state().update(instance_url=instance_url)


def open_flush_window(*, seconds: float, now: datetime | None = None) -> bool:
    """True for the first caller of a debounce window of `seconds`, False for the rest.

    The first change of a burst opens the window and enqueues a flush that runs when the
    window closes; changes committed inside the window are picked up by that flush.
    """
    now = now or timezone.now()
    expired = Q(flush_requested_until__isnull=True) | Q(flush_requested_until__lte=now)
    until = now + timedelta(seconds=seconds)
    won = _state().filter(expired).update(flush_requested_until=until)
    if not won and not _state().exists():
        _ensure_row()
        won = _state().filter(expired).update(flush_requested_until=until)
    return bool(won)
