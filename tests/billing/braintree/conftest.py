"""Shared fixtures for the Braintree provider tests (no database, no network but localhost)."""

from __future__ import annotations

from datetime import UTC, datetime

import braintree
import pytest

from billing.normalized import NormalizedCustomer, Provider
from billing.providers.braintree.api import PlanInfo
from billing.providers.braintree.client import build_gateway
from emulator.braintree.subscriptions import Keys

T0 = datetime(2024, 3, 10, 12, 30, tzinfo=UTC)


class FakeResolver:
    """A Resolver from dicts that records every question, to see what was looked up."""

    def __init__(self, *, currencies=None, customers=None, plans=None, subscriptions=None):
        self.currencies = currencies or {"usd_account": "USD", "eur_account": "EUR"}
        self.customers = customers or {
            "card_token_1": NormalizedCustomer(provider=Provider.BRAINTREE,
                                               external_id="vault_customer_1",
                                               email="vault@example.com"),
        }
        self.plans = plans or {
            "basic": PlanInfo(plan_id="basic", billing_frequency=1, price=1000, currency="USD"),
            "quarterly": PlanInfo(plan_id="quarterly", billing_frequency=3, price=3000,
                                  currency="USD"),
            "annual": PlanInfo(plan_id="annual", billing_frequency=12, price=12000,
                               currency="USD"),
        }
        self.subscriptions: dict[str, braintree.Subscription] = subscriptions or {}
        self.calls: list[tuple[str, str]] = []

    def currency_for_merchant_account(self, merchant_account_id: str) -> str:
        self.calls.append(("currency", merchant_account_id))
        return self.currencies[merchant_account_id]

    def customer_for_payment_method(self, token: str) -> NormalizedCustomer:
        self.calls.append(("customer", token))
        return self.customers[token]

    def plan(self, plan_id: str) -> PlanInfo | None:
        self.calls.append(("plan", plan_id))
        return self.plans.get(plan_id)

    def subscription(self, subscription_id: str):
        self.calls.append(("subscription", subscription_id))
        return self.subscriptions.get(subscription_id)

    def asked(self, what: str) -> list[str]:
        return [key for kind, key in self.calls if kind == what]


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def gateway(keys):
    return build_gateway(merchant_id=keys.merchant_id, public_key=keys.public_key,
                         private_key=keys.private_key, environment="sandbox")


@pytest.fixture
def resolver() -> FakeResolver:
    return FakeResolver()
