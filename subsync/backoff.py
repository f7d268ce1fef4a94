"""Capped exponential backoff with jitter, shared by event processing and the Salesforce push."""

from __future__ import annotations

import random


def backoff_seconds(attempt: int, *, base: float = 30.0, cap: float = 6 * 3600.0) -> float:
    """Delay before retry number `attempt` (1-based): base * 2^(attempt-1), capped, with jitter.

    The jitter keeps the delay in [half, full] of the exponential value so that a burst of
    failures does not come back as a burst.
    """
    attempt = max(1, attempt)
    ceiling = min(cap, base * (2 ** min(attempt - 1, 32)))
    return ceiling / 2 + random.uniform(0, ceiling / 2)
