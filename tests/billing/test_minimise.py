"""Customer.raw and Subscription.raw keep only the fields the product uses: no card, address,
phone, custom field or metadata, at any depth."""

from __future__ import annotations

import json

from billing import minimise

CHARGEBEE_CUSTOMER = {
    "id": "cus_1", "email": "ada@acme.test", "company": "Acme", "first_name": "Ada",
    "last_name": "Lovelace", "resource_version": 5, "phone": "+44 20 7946 0000",
    "billing_address": {"line1": "1 High St", "city": "London", "zip": "N1 1AA"},
    "card_status": "valid", "payment_method": {"type": "card", "reference_id": "tok_1"},
    "cf_tax_id": "GB123", "meta_data": {"note": "VIP"}, "object": "customer",
}
CHARGEBEE_SUBSCRIPTION = {
    "id": "sub_1", "customer_id": "cus_1", "status": "active", "currency_code": "EUR",
    "billing_period": 1, "billing_period_unit": "month", "mrr": 4900,
    "current_term_end": 1_717_200_000, "resource_version": 9,
    "shipping_address": {"line1": "1 High St", "first_name": "Ada"},
    "subscription_items": [{"item_price_id": "pro-EUR-monthly", "item_type": "plan",
                            "quantity": 1, "unit_price": 4900, "object": "subscription_item"}],
    "contract_term": {"contract_start": 1, "contract_end": 2, "status": "active"},
    "meta_data": {"sales_rep": "bob@acme.test"}, "cf_notes": "call Ada on +44 ...",
}
BRAINTREE_SUBSCRIPTION = {
    "id": "sub_bt", "status": "Active", "plan_id": "pro", "price": "49.00",
    "merchant_account_id": "eur", "payment_method_token": "tok_9",
    "next_billing_date": "2026-01-01", "billing_period_start_date": "2025-12-01",
    "add_ons": [{"id": "seats", "amount": "5.00", "quantity": 2}],
    "status_history": [{"timestamp": "2025-12-01T00:00:00Z", "status": "Active",
                        "price": "49.00", "subscription_source": "api"}],
    "transactions": [{
        "id": "tx_1", "amount": "49.00",
        "credit_card_details": {"bin": "411111", "last_4": "1111", "cardholder_name": "Ada L",
                                "expiration_month": "12", "expiration_year": "2030"},
        "billing_details": {"street_address": "1 High St", "postal_code": "N1 1AA"},
        "shipping_details": {"street_address": "1 High St"},
        "customer_details": {"email": "ada@acme.test", "phone": "+44"},
    }],
    "description": "Ada's plan",
}

PERSONAL_OR_CARD = ("1 High St", "N1 1AA", "411111", "1111", "Ada L", "+44", "GB123", "VIP",
                    "bob@acme.test", "tok_1", "2030", "London")


def _text(value) -> str:
    return json.dumps(value)


def test_chargebee_customer_keeps_identity_and_names_only():
    kept = minimise.chargebee_customer(CHARGEBEE_CUSTOMER)
    assert kept == {"id": "cus_1", "email": "ada@acme.test", "company": "Acme",
                    "first_name": "Ada", "last_name": "Lovelace", "resource_version": 5}
    for value in PERSONAL_OR_CARD:
        assert value not in _text(kept)


def test_chargebee_subscription_keeps_what_the_product_uses():
    kept = minimise.chargebee_subscription(CHARGEBEE_SUBSCRIPTION)
    assert kept["mrr"] == 4900 and kept["currency_code"] == "EUR"
    assert kept["subscription_items"] == [{"item_price_id": "pro-EUR-monthly",
                                           "item_type": "plan", "quantity": 1,
                                           "unit_price": 4900}]
    assert kept["contract_term"] == {"contract_start": 1, "contract_end": 2, "status": "active"}
    assert "shipping_address" not in kept and "meta_data" not in kept and "cf_notes" not in kept
    for value in PERSONAL_OR_CARD:
        assert value not in _text(kept)


def test_braintree_subscription_loses_its_transactions_and_card_data():
    kept = minimise.braintree_subscription(BRAINTREE_SUBSCRIPTION)
    assert "transactions" not in kept and "description" not in kept
    assert kept["add_ons"] == [{"id": "seats", "amount": "5.00", "quantity": 2}]
    assert kept["status_history"][0]["status"] == "Active"
    assert kept["payment_method_token"] == "tok_9"  # a reference, not card data
    for value in PERSONAL_OR_CARD:
        assert value not in _text(kept)


def test_containers_are_kept_only_where_the_spec_describes_them():
    assert minimise.keep({"id": "x", "nested": {"a": 1}, "list": [1]},
                         {"id": None, "nested": None, "list": None}) == {"id": "x"}
