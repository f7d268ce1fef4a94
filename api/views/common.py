"""What the API views share: today's date, the `months` parameter, the audit line."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from billing.selectors.metrics import MAX_MONTHS
from billing.selectors.params import Reader
from dashboard.access import audit  # one audit line per action, whichever way it came
from dashboard.views.common import utc_today  # windows and months are UTC days on both

__all__ = ["utc_today"]


def read_months(query, *, default: int = 12) -> int:
    reader = Reader(query)
    months = reader.integer("months", minimum=1, maximum=MAX_MONTHS)
    reader.done()
    return months or default


def int_parameter(name: str, description: str, *, minimum: int,
                  maximum: int) -> OpenApiParameter:
    return OpenApiParameter(name, {"type": "integer", "minimum": minimum, "maximum": maximum},
                            description=description)


MONTHS_PARAMETER = int_parameter(
    "months", f"How many months, 1 to {MAX_MONTHS} (default 12); the last one is the current "
              "month to date.", minimum=1, maximum=MAX_MONTHS)


def audit_action(request, name: str, **details) -> None:
    """Who did what through the API, on which ids (never a token)."""
    user = request.user.get_username()
    audit.info("api action %s by %s", name, user,
               extra={"action": name, "user": user, "via": "api", **details})


def text_parameter(name: str, description: str, *, enum=None,
                   max_length: int = 255) -> OpenApiParameter:
    schema = {"type": "string"} if enum else {"type": "string", "maxLength": max_length}
    return OpenApiParameter(name, schema, description=description, enum=enum)


def date_parameter(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.DATE, description=description)
