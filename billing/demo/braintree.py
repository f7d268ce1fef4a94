"""Demo steps as Braintree webhook notifications: the `<notification>` XML, base64 encoded.

Braintree posts `bt_signature` and `bt_payload`. A demo notification never came from
Braintree, so it carries no signature: it is not signed with the merchant's keys (that would
make it indistinguishable from a real delivery), and the worker does not check signatures
anyway (they are checked when a delivery is received). The stored body is the form Braintree
would post, without `bt_signature`.

The subscription in each notification is complete, with its recent transactions, whose
currency and customer details are all the normaliser needs besides the plan's billing
frequency (from the plan list, billing.demo.seed stores the demo's plans).
"""

from __future__ import annotations

import base64
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

from billing.demo.catalog import EXTRA_SEAT_ADDON, braintree_merchant_account
from billing.demo.story import DemoSubscription, Step
from billing.providers.braintree.intake import PAYLOAD_FIELD
from subsync.money import currency_exponent
from wireformats.braintree_xml import to_xml

# Neutral step -> Braintree notification kind.
KINDS = {
    "created": "subscription_went_active",
    "trial_converted": "subscription_trial_ended",
    "renewed": "subscription_charged_successfully",
    "payment_failed": "subscription_went_past_due",
    "payment_recovered": "subscription_went_active",
    "cancelled": "subscription_canceled",
    "expired": "subscription_expired",
}
_STATUSES = {"active": "Active", "trial": "Active", "non_renewing": "Active",
             "past_due": "Past Due", "cancelled": "Canceled", "expired": "Expired"}


def money(minor: int, currency: str) -> str:
    """Major units with the currency's decimals, as Braintree writes amounts ("49.00")."""
    exponent = currency_exponent(currency)
    return f"{Decimal(minor).scaleb(-exponent):.{exponent}f}"


def _customer(step: Step) -> dict:
    customer = step.customer
    return {"id": customer.id, "first_name": customer.first_name,
            "last_name": customer.last_name, "company": customer.company or None,
            "email": customer.email, "phone": None, "fax": None, "website": None}


def _transactions(step: Step, sub: DemoSubscription) -> list:
    currency = sub.price.currency
    return [("transaction", {
        "id": charge.id, "status": "settled", "type": "sale", "currency_iso_code": currency,
        "amount": money(charge.amount, currency), "merchant_account_id":
        braintree_merchant_account(currency), "recurring": True, "plan_id":
        sub.price.braintree_plan_id, "subscription_id": sub.id, "created_at": charge.at,
        "updated_at": charge.at, "customer": _customer(step),
    }) for charge in reversed(sub.charges)]  # newest first, as Braintree lists them


def _status_history(sub: DemoSubscription) -> list:
    currency = sub.price.currency
    return [("status_event", {
        "timestamp": change.at, "balance": "0.00", "price": money(change.price, currency),
        "status": change.status, "user": "ops@demo.example" if change.source != "recurring"
        else None, "subscription_source": change.source, "plan_id": sub.price.braintree_plan_id,
        "currency_iso_code": currency,
    }) for change in reversed(sub.history)]


def subscription_fields(step: Step) -> dict:
    sub = step.subscription
    price, currency = sub.price, sub.price.currency
    first_billing = (sub.trial_end or sub.started_at or sub.created_at).date()
    add_ons = []
    if sub.seats > 1:
        add_ons.append(("add_on", {
            "id": EXTRA_SEAT_ADDON, "name": "Extra seat", "kind": "add_on",
            "amount": money(price.per_seat, currency), "quantity": sub.seats - 1,
            "never_expires": True, "number_of_billing_cycles": None,
            "current_billing_cycle": sub.cycle, "inherited_from_id": EXTRA_SEAT_ADDON,
        }))
    term_start, term_end = sub.term_start.date(), sub.term_end.date()
    days_past_due = (step.at - sub.due_since).days if sub.due_since else None
    return {
        "id": sub.id,
        "status": _STATUSES[sub.status],
        "plan_id": price.braintree_plan_id,
        "price": money(price.per_seat, currency),
        "balance": money(sub.dues, currency),
        "merchant_account_id": braintree_merchant_account(currency),
        "payment_method_token": sub.customer.payment_token,
        "billing_day_of_month": first_billing.day,
        "first_billing_date": first_billing,
        "billing_period_start_date": term_start,
        "billing_period_end_date": term_end - timedelta(days=1),  # inclusive
        "next_billing_date": term_end,
        "paid_through_date": term_end - timedelta(days=1) if not sub.dues else term_start,
        "next_bill_amount": money(sub.amount, currency),
        "next_billing_period_amount": money(sub.amount, currency),
        "current_billing_cycle": sub.cycle,
        "number_of_billing_cycles": sub.cycle if sub.final_cycle else None,
        "never_expires": not sub.final_cycle,
        "trial_period": sub.trial_end is not None,
        "trial_duration": (sub.trial_end - sub.trial_start).days if sub.trial_end else None,
        "trial_duration_unit": "day" if sub.trial_end else None,
        "failure_count": 1 if sub.dues else 0,
        "days_past_due": days_past_due,
        "created_at": sub.created_at,
        "updated_at": step.at,
        "add_ons": add_ons,
        "discounts": [],
        "transactions": _transactions(step, sub),
        "status_history": _status_history(sub),
    }


def notification_payload(step: Step) -> str:
    """`bt_payload`: base64 (MIME lines) of the notification document."""
    xml = to_xml("notification", {
        "timestamp": step.at,
        "kind": KINDS[step.kind],
        "subject": {"subscription": subscription_fields(step)},
    })
    return base64.encodebytes(xml).decode("ascii")


def form_body(payload: str) -> str:
    """The delivery's form body as stored, without a signature (see the module docstring)."""
    return urlencode({PAYLOAD_FIELD: payload})
