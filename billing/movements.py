"""Classify a change of one subscription as an MRR movement of its customer (metrics.md).

Movements are per customer: what matters is whether the customer paid anything before and
after the change and in which direction this subscription moved. Whether the customer paid
anything does not depend on currency, so no conversion is needed to classify.
"""

from __future__ import annotations

from billing.models import Movement


def classify_movement(
    *, customer_paying_before: bool, customer_paying_after: bool, delta: int,
    customer_paid_ever: bool,
) -> tuple[Movement, int]:
    """Return (movement, amount >= 0) for a change of `delta` minor units of monthly MRR."""
    if delta == 0:
        return Movement.NONE, 0
    amount = abs(delta)
    if not customer_paying_before and customer_paying_after:
        return (Movement.REACTIVATION if customer_paid_ever else Movement.NEW), amount
    if customer_paying_before and not customer_paying_after:
        return Movement.CHURN, amount
    if customer_paying_before and customer_paying_after:
        return (Movement.EXPANSION if delta > 0 else Movement.CONTRACTION), amount
    # Not paying before nor after yet delta != 0 cannot happen; refuse to invent a movement.
    raise ValueError("a change with MRR delta must leave the customer paying before or after")
