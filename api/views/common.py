"""What the API views share: today's date, the `months` and `provider` parameters, the audit
line."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from billing.normalized import Provider
from billing.selectors.metrics import MAX_MONTHS
from billing.selectors.params import read_integer
from dashboard.access import audit  # one audit line per action, whichever way it came
from dashboard.views.common import utc_today  # windows and months are UTC days on both

__all__ = ["utc_today"]


def read_months(query) -> int:
    """The `months` parameter of the metrics series (MONTHS_PARAMETER), 12 when absent."""
    return read_integer(query, "months", default=12, minimum=1, maximum=MAX_MONTHS)


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


PROVIDER_PARAMETER = text_parameter("provider", "Billing provider.",
                                    enum=[p.value for p in Provider])


def date_parameter(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.DATE, description=description)
