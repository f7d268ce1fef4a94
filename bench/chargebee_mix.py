"""Chargebee deliveries for the webhook benchmark: the lives of many subscriptions.

Bodies come from emulator.chargebee.events, the factories the test suite checks against
Chargebee's documented v2 shapes, so the app parses what production sends: both product
catalogs, several currencies, customers shared by two subscriptions, payments that fail and
succeed, cancellations and reactivations, and event types subsync stores but ignores.
"""

from __future__ import annotations

import base64
import json
import random
from typing import Any

from bench.mix import Delivery
from emulator.chargebee.events import make_customer, make_event

# What happens to a live subscription next, with weights (about 1 in 5 is ignored by subsync).
_NEXT_EVENT = (
    ("subscription_changed", 18), ("subscription_renewed", 12), ("payment_succeeded", 14),
    ("payment_failed", 4), ("mrr_updated", 5), ("subscription_cancellation_scheduled", 3),
    ("subscription_cancelled", 3), ("subscription_paused", 2), ("customer_changed", 8),
    ("invoice_generated", 16), ("card_updated", 6), ("subscription_renewal_reminder", 4),
)
# Events that put a subscription in a state only a specific event leaves.
_WAY_OUT = {
    "cancelled": ("subscription_reactivated", "active"),
    "paused": ("subscription_resumed", "active"),
    "in_trial": ("subscription_activated", "active"),
}
_STATUS_AFTER = {
    "subscription_renewed": "active",
    "subscription_cancellation_scheduled": "non_renewing",
    "subscription_cancelled": "cancelled",
    "subscription_paused": "paused",
}
_CURRENCIES = (("USD", 80), ("EUR", 15), ("GBP", 5))
_PRICES = (900, 2_900, 4_900, 9_900, 19_900, 49_900)


class ChargebeeMix:
    """Distinct Chargebee webhook deliveries, authenticated with HTTP Basic credentials."""

    provider = "chargebee"
    path = "/webhooks/chargebee/"

    def __init__(self, *, run_id: str, subscriptions: int, username: str, password: str,
                 rng: random.Random, start: int) -> None:
        self.run_id = run_id
        self.subscriptions = max(1, subscriptions)
        self.customers = max(1, int(self.subscriptions * 0.8))  # some customers own two
        self.rng = rng
        self.start = start
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json",
                        "User-Agent": "ChargeBee"}
        self._state: dict[int, dict[str, Any]] = {}
        self._types = [name for name, _ in _NEXT_EVENT]
        self._weights = [weight for _, weight in _NEXT_EVENT]

    def make(self, count: int) -> list[Delivery]:
        return [self._next(index) for index in range(count)]

    def _next(self, index: int) -> Delivery:
        rng = self.rng
        # Mildly skewed: a few subscriptions are much busier than most.
        number = int(rng.random() ** 1.5 * self.subscriptions)
        sub_id = f"sub_{self.run_id}_{number}"
        cus_id = f"cus_{self.run_id}_{number % self.customers}"
        at = self.start + index  # one second apart: versions grow in creation order
        version = at * 1000
        state = self._state.get(number)
        if state is None:
            state = self._state[number] = {
                "status": "in_trial" if rng.random() < 0.2 else "active",
                "catalog": 1 if rng.random() < 0.3 else 2,
                "currency": rng.choices([c for c, _ in _CURRENCIES],
                                        [w for _, w in _CURRENCIES])[0],
                "price": rng.choice(_PRICES), "quantity": rng.randint(1, 5),
            }
            event_type = "subscription_created"
        elif state["status"] in _WAY_OUT:
            event_type, state["status"] = _WAY_OUT[state["status"]]
        else:
            event_type = rng.choices(self._types, self._weights)[0]
            state["status"] = _STATUS_AFTER.get(event_type, state["status"])
            if event_type == "subscription_changed":
                state["price"] = rng.choice(_PRICES)
                state["quantity"] = rng.randint(1, 5)
        event_id = f"ev_{self.run_id}_{index}"
        options: dict[str, Any] = {}
        if event_type == "customer_changed":
            options["customer"] = make_customer(
                customer_id=cus_id, email=f"billing+{number}@example.com",
                company=f"Customer {number}", updated_at=at, resource_version=version,
            )
        body = make_event(
            event_type, catalog=state["catalog"], subscription_id=sub_id, customer_id=cus_id,
            status=state["status"], resource_version=version, occurred_at=at,
            plan_unit_price=state["price"], quantity=state["quantity"], event_id=event_id,
            currency_code=state["currency"], **options,
        )
        carries = "subscription" in body["content"]
        return Delivery(
            provider=self.provider, path=self.path, headers=self.headers,
            body=json.dumps(body, separators=(",", ":")).encode(), event_id=event_id,
            subscription_id=sub_id if carries else None, version=version if carries else None,
        )
