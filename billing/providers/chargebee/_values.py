"""Small, strict readers for values inside Chargebee JSON.

Chargebee sends amounts and counts as JSON integers and times as Unix seconds (UTC). A value of
the wrong type means the body is not what we think it is, and guessing would put wrong money or
dates in Salesforce, so these readers raise `ChargebeeEventError` naming the field instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from billing.providers.chargebee.errors import ChargebeeEventError


def read_int(
    data: Mapping[str, Any], key: str, *, where: str, default: int | None = None
) -> int | None:
    """`data[key]` as an int (JSON integers, integral floats and digit strings are accepted)."""
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        raise ChargebeeEventError(f"{where}.{key} must be a number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ChargebeeEventError(f"{where}.{key} must be an integer, got {value!r}")


def read_time(data: Mapping[str, Any], key: str, *, where: str) -> datetime | None:
    """`data[key]` (Unix seconds, UTC) as an aware UTC datetime, or None when absent."""
    seconds = read_int(data, key, where=where)
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ChargebeeEventError(f"{where}.{key} is not a valid Unix time: {seconds!r}") from exc


def read_str(data: Mapping[str, Any], key: str, *, where: str) -> str:
    """`data[key]` as a string ('' when absent); other JSON types are an error."""
    value = data.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise ChargebeeEventError(f"{where}.{key} must be a string, got {value!r}")


def required_str(data: Mapping[str, Any], key: str, *, where: str) -> str:
    """A non-empty string field that the event cannot be understood without."""
    value = read_str(data, key, where=where).strip()
    if not value:
        raise ChargebeeEventError(f"{where}.{key} is missing or empty")
    return value


def read_mapping(data: Mapping[str, Any], key: str, *, where: str) -> Mapping[str, Any] | None:
    """A nested JSON object, or None when absent or null."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        kind = type(value).__name__
        raise ChargebeeEventError(f"{where}.{key} must be a JSON object, got {kind}")
    return value


def read_list(data: Mapping[str, Any], key: str, *, where: str) -> list[Mapping[str, Any]]:
    """A JSON array of objects ([] when absent or null)."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(entry, Mapping) for entry in value):
        raise ChargebeeEventError(f"{where}.{key} must be a JSON array of objects")
    return value
