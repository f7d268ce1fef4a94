"""Helpers for tests that drive Braintree through the Django app: settings, posts, a seeded
fake gateway (`emulator.braintree`) and the app's own SDK gateway pointed at it.

The webhook, the worker's look-ups and the backfill all read the BRAINTREE_* settings, so a
test configures them once (pointing BRAINTREE_GATEWAY_URL at a FakeBraintreeServer when the
worker or the backfill has to reach Braintree) and then exercises the real code paths.
"""

from __future__ import annotations

from urllib.parse import urlencode

import braintree

from billing.providers.braintree.client import build_gateway
from emulator.braintree.server import FakeBraintreeServer
from emulator.braintree.subscriptions import Customer, Keys

URL = "/webhooks/braintree/"
FORM = "application/x-www-form-urlencoded"


def configure(settings, *, keys: Keys, gateway_url: str = "") -> None:
    """Point the app's Braintree settings at `keys` (and at a fake gateway, if given)."""
    settings.BRAINTREE_ENVIRONMENT = "sandbox"
    settings.BRAINTREE_MERCHANT_ID = keys.merchant_id
    settings.BRAINTREE_PUBLIC_KEY = keys.public_key
    settings.BRAINTREE_PRIVATE_KEY = keys.private_key
    settings.BRAINTREE_GATEWAY_URL = gateway_url


def form_body(form: dict[str, str]) -> str:
    """The body Braintree posts for these fields (what the webhook stores)."""
    return urlencode(form)


def post(client, form: dict[str, str] | bytes | str, **extra):
    data = form if isinstance(form, bytes | str) else form_body(form)
    return client.post(URL, data=data, content_type=FORM, **extra)


CUSTOMER = Customer("cust_7", email="bo@example.com", company="Bo Ltd", first_name="Bo",
                    last_name="Berg")


def seed(server: FakeBraintreeServer) -> FakeBraintreeServer:
    """Plans, merchant accounts and a vault customer behind payment method card_token_1."""
    server.add_plan("basic", price="10.00", currency="USD")
    server.add_plan("annual", price="240.00", billing_frequency=12, currency="EUR",
                    name="Annual")
    server.add_merchant_account("usd_account", currency="USD")
    server.add_merchant_account("eur_account", currency="EUR")
    server.add_customer(CUSTOMER)
    server.add_payment_method("card_token_1", customer_id=CUSTOMER.id)
    return server


def fake_gateway(server: FakeBraintreeServer, **overrides) -> braintree.BraintreeGateway:
    """The app's SDK gateway (`build_gateway`) pointed at `server`, with its keys unless
    overridden (e.g. a wrong private key)."""
    settings = {"merchant_id": server.keys.merchant_id, "public_key": server.keys.public_key,
                "private_key": server.keys.private_key, "gateway_url": server.url,
                "timeout": 5.0}
    settings.update(overrides)
    return build_gateway(**settings)
