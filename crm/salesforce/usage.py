"""The org's daily API budget as Salesforce reports it on every REST response.

`Sforce-Limit-Info: api-usage=1234/15000` (optionally followed by per-app usage) is the
cheapest way to know how much of the rolling 24-hour budget is left: it costs no call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_API_USAGE = re.compile(r"(?:^|[;,\s])api-usage=(\d+)/(\d+)")


@dataclass(frozen=True)
class ApiUsage:
    used: int
    limit: int
    observed_at: datetime | None = None

    @property
    def fraction(self) -> float:
        return self.used / self.limit if self.limit else 1.0

    @property
    def percent(self) -> float:
        return round(100 * self.fraction, 1)

    def over(self, percent: float) -> bool:
        """True when at least `percent` % of the daily budget is spent."""
        return self.limit <= 0 or self.used * 100 >= self.limit * percent


def parse_limit_info(header: str | None) -> ApiUsage | None:
    """The org-wide usage in a `Sforce-Limit-Info` header, or None when absent."""
    if not header:
        return None
    match = _API_USAGE.search(header)
    if match is None:
        return None
    return ApiUsage(used=int(match.group(1)), limit=int(match.group(2)))
