"""Argument types shared by the billing management commands."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.management.base import CommandError


def utc_date(value: str) -> datetime:
    """`--since` values: an ISO date or datetime; one without a time zone is UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--since must be an ISO date such as 2026-01-31: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
