"""Braintree deliveries for the webhook benchmark: signed notifications of many subscriptions.

Notifications carry the full subscription XML, signed with the benchmark's keys exactly as
Braintree signs them (emulator.braintree builds and signs them; the test suite checks
that the SDK verifies them). Each carries its latest transaction with the customer's details
and currency, as Braintree's do after a charge, so the worker needs no API look-up except the
plan, which the benchmark seeds into the plan cache (`PLANS`) before it starts.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from bench.mix import Delivery
from billing.providers.braintree.parse import dedupe_key
from emulator.braintree.notifications import signed_subscription_notification
from emulator.braintree.subscriptions import Customer, Keys, Transaction

# (plan id, months per cycle, price): what the worker finds in its plan cache.
PLANS = (("bench-monthly", 1, "29.00"), ("bench-quarterly", 3, "79.00"),
         ("bench-annual", 12, "290.00"))
# What happens to a live subscription next, with weights, and the status it leaves.
_NEXT = (
    ("subscription_charged_successfully", "Active", 50),
    ("subscription_charged_unsuccessfully", "Past Due", 6),
    ("subscription_went_past_due", "Past Due", 4),
    ("subscription_billing_skipped", "Active", 4),
    ("subscription_canceled", "Canceled", 5),
    ("subscription_expired", "Expired", 2),
)
_WAY_OUT = {"Past Due": ("subscription_went_active", "Active")}
_FINAL = frozenset({"Canceled", "Expired"})
_CURRENCIES = (("USD", 85), ("EUR", 15))


class BraintreeMix:
    """Distinct Braintree webhook deliveries, form-encoded and signed."""

    provider = "braintree"
    path = "/webhooks/braintree/"
    headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Braintree"}

    def __init__(self, *, run_id: str, subscriptions: int, keys: Keys, rng: random.Random,
                 start: int) -> None:
        self.run_id = run_id
        self.subscriptions = max(1, subscriptions)
        self.keys = keys
        self.rng = rng
        self.start = start
        self._state: dict[int, dict[str, Any]] = {}

    def make(self, count: int) -> list[Delivery]:
        return [self._next(index) for index in range(count)]

    def _next(self, index: int) -> Delivery:
        rng = self.rng
        number = int(rng.random() ** 1.5 * self.subscriptions)
        state = self._state.get(number)
        if state is None or state["status"] in _FINAL:
            # A new subscription (a customer who cancelled may come back with a new one).
            number = len(self._state) + self.subscriptions if state is not None else number
            plan_id, _, price = rng.choice(PLANS)
            state = self._state[number] = {
                "status": "Active", "plan": plan_id, "price": price,
                "currency": rng.choices([c for c, _ in _CURRENCIES],
                                        [w for _, w in _CURRENCIES])[0],
            }
            kind = "subscription_went_active"
        elif state["status"] in _WAY_OUT:
            kind, state["status"] = _WAY_OUT[state["status"]]
        else:
            kind, state["status"], _ = rng.choices(_NEXT, [w for *_, w in _NEXT])[0]
        sub_id = f"bt_{self.run_id}_{number}"
        at = datetime.fromtimestamp(self.start + index, tz=UTC)  # versions grow in order
        customer = Customer(id=f"btcus_{self.run_id}_{number}",
                            email=f"billing+bt{number}@example.com", company=f"BT {number}")
        signed = signed_subscription_notification(
            kind, keys=self.keys, subscription_id=sub_id, status=state["status"],
            plan_id=state["plan"], price=state["price"], timestamp=at,
            transactions=[Transaction(id=f"tx_{self.run_id}_{index}", amount=state["price"],
                                      currency_iso_code=state["currency"], created_at=at,
                                      customer=customer)],
        )
        return Delivery(
            provider=self.provider, path=self.path, headers=self.headers,
            body=urlencode(signed).encode(), event_id=dedupe_key(payload=signed["bt_payload"]),
            subscription_id=sub_id, version=int(at.timestamp() * 1000),
        )
