"""Turning request values into stored field values, the way Salesforce's parsers do.

JSON bodies (REST, collections) and CSV cells (Bulk API 2.0) fail differently in a real
org: a JSON value of the wrong type breaks deserialisation of the whole request
(``JSON_PARSER_ERROR``), while a bad CSV cell fails only its row
(``INVALID_TYPE_ON_FIELD_IN_RECORD``). Both paths share the checks below.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .describe import STRING_TYPES, Field

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$"
)
_JAVA_TYPES = {
    "date": "date",
    "datetime": "datetime",
    "double": "double",
    "currency": "double",
    "percent": "double",
    "int": "int",
    "boolean": "boolean",
}


class BadValue(ValueError):
    """A value that does not fit its field's type."""


def json_token(value: object) -> str:
    """The Jackson token name Salesforce quotes in its JSON_PARSER_ERROR messages."""
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, int):
        return "VALUE_NUMBER_INT"
    if isinstance(value, float):
        return "VALUE_NUMBER_FLOAT"
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    return "VALUE_STRING"


def parser_message(field: Field, value: object) -> str:
    kind = _JAVA_TYPES.get(field.type, "string")
    shown = "{" if isinstance(value, dict) else "[" if isinstance(value, list) else value
    return (
        f"Cannot deserialize instance of {kind} from {json_token(value)} value {shown} "
        "or request may be missing a required field at [line:1, column:1]"
    )


def format_datetime(moment: dt.datetime) -> str:
    """Salesforce's datetime format: ``2024-05-01T12:00:00.000+0000`` (always UTC)."""
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_date(text: str) -> dt.date:
    if not _DATE.match(text):
        raise BadValue(text)
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise BadValue(text) from exc


def parse_datetime(text: str) -> dt.datetime:
    match = _DATETIME.match(text)
    if not match:
        raise BadValue(text)
    day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = dt.datetime.fromisoformat(
            f"{day}T{hour}:{minute}:{second or '00'}{(fraction or '')[:7]}"
        )
    except ValueError as exc:
        raise BadValue(text) from exc
    if zone in (None, "Z"):
        return moment.replace(tzinfo=dt.UTC)
    zone = zone.replace(":", "")
    offset = dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
    return moment.replace(tzinfo=dt.timezone(offset if zone[0] == "+" else -offset))


def _number(field: Field, value: object) -> float | int:
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        raise BadValue(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise BadValue(value)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise BadValue(value) from exc
    if not number.is_finite():
        raise BadValue(value)
    if field.type == "int":
        if number != number.to_integral_value():
            raise BadValue(value)
        return int(number)
    if field.scale:
        number = number.quantize(Decimal(1).scaleb(-field.scale), rounding=ROUND_HALF_UP)
    else:
        number = number.to_integral_value(rounding=ROUND_HALF_UP)
    return float(number)


def within_range(field: Field, value: float | int) -> bool:
    """Whether a number fits the field's digits (int) or precision minus scale (others)."""
    allowed = (field.digits or 9) if field.type == "int" else (field.precision or 18) - field.scale
    return abs(int(value)) < 10**allowed


def from_json(field: Field, value: object) -> object:
    """A JSON value as stored for ``field``; raises ``BadValue`` when it cannot be."""
    if value is None:
        return None
    if field.type in STRING_TYPES or field.type in ("id", "reference"):
        if isinstance(value, dict | list):
            raise BadValue(value)
        if isinstance(value, bool):
            value = "true" if value else "false"
        text = value if isinstance(value, str) else str(value)
        return text or None
    if field.type == "date":
        if not isinstance(value, str):
            raise BadValue(value)
        return parse_date(value).isoformat()
    if field.type == "datetime":
        if not isinstance(value, str):
            raise BadValue(value)
        return format_datetime(parse_datetime(value))
    if field.type == "boolean":
        if not isinstance(value, bool):
            raise BadValue(value)
        return value
    return _number(field, value)


def from_csv(field: Field, text: str) -> object:
    """A Bulk API CSV cell as stored for ``field`` (``#N/A`` means null)."""
    if text == "#N/A":
        return None
    if field.type == "boolean":
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise BadValue(text)
    if field.type in ("double", "currency", "percent", "int"):
        return _number(field, text)
    return from_json(field, text)


def add_months(start: dt.date, months: int) -> dt.date:
    """``start`` plus ``months`` calendar months, clamped to the end of a shorter month."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    next_month = dt.date(year + (month == 12), month % 12 + 1, 1)
    last_day = (next_month - dt.timedelta(days=1)).day
    return dt.date(year, month, min(start.day, last_day))


def contract_end_date(start: str | None, term: int | None) -> str | None:
    """EndDate as Salesforce computes it: StartDate + ContractTerm months, minus one day."""
    if not start or not term:
        return None
    return (add_months(dt.date.fromisoformat(start), term) - dt.timedelta(days=1)).isoformat()
