"""What we keep of a provider's customer and subscription objects (Customer.raw,
Subscription.raw): the fields the product uses or an operator needs to recognise the record,
nothing else.

Why: providers send whole objects. A Chargebee customer carries its billing address and card
summary; a Braintree subscription carries its transactions, each with the card's BIN, last four
digits, cardholder name and billing and shipping addresses. subsync needs none of that, and
data it does not hold cannot leak from it. So raw payloads are reduced to an allow-list before
they are stored (the parsers call these functions): no card, address, phone, custom field or
metadata is kept, at any depth.

The webhook event bodies themselves are kept as received (they are the record of what the
provider said, replayed when needed) and pruned by billing.services.retention.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# A spec maps each kept key to None (keep a scalar value) or to a spec (keep that object, or
# each object of that list, reduced by it).
Spec = Mapping[str, "Spec | None"]

_ITEM = {"item_price_id": None, "item_type": None, "quantity": None, "unit_price": None,
         "amount": None, "billing_cycles": None, "free_quantity": None}
_ADDON = {"id": None, "quantity": None, "unit_price": None, "amount": None}

CHARGEBEE_CUSTOMER: Spec = {
    "id": None, "email": None, "company": None, "first_name": None, "last_name": None,
    "resource_version": None, "updated_at": None, "created_at": None, "deleted": None,
    "preferred_currency_code": None, "auto_collection": None,
}
CHARGEBEE_SUBSCRIPTION: Spec = {
    "id": None, "customer_id": None, "status": None, "plan_id": None, "plan_quantity": None,
    "plan_unit_price": None, "plan_amount": None, "currency_code": None, "billing_period": None,
    "billing_period_unit": None, "started_at": None, "activated_at": None, "start_date": None,
    "trial_start": None, "trial_end": None, "current_term_start": None,
    "current_term_end": None, "next_billing_at": None, "cancelled_at": None,
    "cancel_reason": None, "cancel_reason_code": None, "pause_date": None, "resume_date": None,
    "remaining_billing_cycles": None, "mrr": None, "resource_version": None,
    "updated_at": None, "created_at": None, "deleted": None, "due_invoices_count": None,
    "subscription_items": _ITEM, "addons": _ADDON,
    "coupons": {"coupon_id": None, "apply_till": None, "applied_count": None},
    "discounts": {"id": None, "duration_type": None, "percentage": None, "amount": None,
                  "apply_on": None, "item_price_id": None},
    "contract_term": {"id": None, "status": None, "contract_start": None,
                      "contract_end": None, "billing_cycle": None, "action_at_term_end": None},
}
_BRAINTREE_MODIFIER = {"id": None, "amount": None, "quantity": None,
                       "number_of_billing_cycles": None, "never_expires": None,
                       "current_billing_cycle": None}
BRAINTREE_SUBSCRIPTION: Spec = {
    "id": None, "status": None, "plan_id": None, "price": None, "balance": None,
    "merchant_account_id": None, "payment_method_token": None, "billing_day_of_month": None,
    "billing_period_start_date": None, "billing_period_end_date": None,
    "first_billing_date": None, "next_billing_date": None, "next_bill_amount": None,
    "next_billing_period_amount": None, "paid_through_date": None,
    "number_of_billing_cycles": None, "current_billing_cycle": None, "never_expires": None,
    "failure_count": None, "days_past_due": None, "trial_period": None,
    "trial_duration": None, "trial_duration_unit": None, "created_at": None,
    "updated_at": None, "add_ons": _BRAINTREE_MODIFIER, "discounts": _BRAINTREE_MODIFIER,
    "status_history": {"timestamp": None, "status": None, "price": None, "balance": None,
                       "plan_id": None, "currency_iso_code": None,
                       "subscription_source": None},
}

def keep(data: Mapping[str, Any], spec: Spec) -> dict:
    """`data` reduced to `spec` (see Spec): an allow-list, so whatever a provider adds later
    (a new card or address field, custom fields) is left out until someone decides to keep it."""
    kept: dict = {}
    for key, inner in spec.items():
        if key not in data:
            continue
        value = data[key]
        if inner is None:
            if value is None or isinstance(value, str | int | float | bool):
                kept[key] = value
        elif isinstance(value, Mapping):
            kept[key] = keep(value, inner)
        elif isinstance(value, list | tuple):
            kept[key] = [keep(entry, inner) for entry in value if isinstance(entry, Mapping)]
    return kept


def chargebee_customer(raw: Mapping[str, Any]) -> dict:
    return keep(raw, CHARGEBEE_CUSTOMER)


def chargebee_subscription(raw: Mapping[str, Any]) -> dict:
    return keep(raw, CHARGEBEE_SUBSCRIPTION)


def braintree_subscription(raw: Mapping[str, Any]) -> dict:
    return keep(raw, BRAINTREE_SUBSCRIPTION)
