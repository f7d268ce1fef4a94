"""Demo steps as Chargebee API v2 webhook events (Product Catalog 2.0), as Chargebee sends them.

Every event carries the whole subscription and its customer, with times in Unix seconds and
`resource_version` in milliseconds, rising with each change. Chargebee has no past-due status:
a renewal whose payment failed leaves the subscription `active` with `due_invoices_count` and
`total_dues`, which is how billing.providers.chargebee.parse recognises it.
"""

from __future__ import annotations

import json
from datetime import datetime

from billing.demo.story import DemoCustomer, DemoSubscription, Step

# Neutral step -> Chargebee event_type.
EVENT_TYPES = {
    "customer_created": "customer_created",
    "created": "subscription_created",
    "trial_converted": "subscription_activated",
    "trial_lapsed": "subscription_cancelled",
    "renewed": "subscription_renewed",
    "changed": "subscription_changed",
    "payment_failed": "payment_failed",
    "payment_recovered": "payment_succeeded",
    "cancel_scheduled": "subscription_cancellation_scheduled",
    "cancelled": "subscription_cancelled",
    "reactivated": "subscription_reactivated",
}
_STATUSES = {"trial": "in_trial", "active": "active", "past_due": "active",
             "non_renewing": "non_renewing", "cancelled": "cancelled"}
# Chargebee's own cancel_reason values; any other reason is a site's cancel_reason_code.
_CHARGEBEE_REASONS = frozenset({"not_paid", "no_card"})


def seconds(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def milliseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def customer_json(customer: DemoCustomer) -> dict:
    return {
        "id": customer.id,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "email": customer.email,
        "company": customer.company or None,
        "auto_collection": "on",
        "net_term_days": 0,
        "allow_direct_debit": False,
        "created_at": seconds(customer.created_at),
        "taxability": "taxable",
        "updated_at": seconds(customer.created_at),
        "locale": "en",
        "resource_version": milliseconds(customer.created_at),
        "deleted": False,
        "object": "customer",
        "card_status": "valid",
        "preferred_currency_code": customer.currency,
        "promotional_credits": 0,
        "refundable_credits": 0,
        "excess_payments": 0,
        "unbilled_charges": 0,
    }


def subscription_json(sub: DemoSubscription, *, at: datetime) -> dict:
    price = sub.price
    data: dict = {
        "id": sub.id,
        "billing_period": 1,
        "billing_period_unit": "month" if price.period_months == 1 else "year",
        "customer_id": sub.customer.id,
        "status": _STATUSES[sub.status],
        "currency_code": price.currency,
        "created_at": seconds(sub.created_at),
        "updated_at": seconds(at),
        "has_scheduled_changes": False,
        "channel": "web",
        "resource_version": milliseconds(at),
        "deleted": False,
        "object": "subscription",
        "auto_collection": "on",
        "due_invoices_count": 1 if sub.dues else 0,
        "subscription_items": [{
            "item_price_id": price.chargebee_item_price_id,
            "item_type": "plan",
            "quantity": sub.seats,
            "unit_price": price.per_seat,
            "amount": sub.amount,
            "free_quantity": 0,
            "object": "subscription_item",
        }],
    }
    optional = {
        "started_at": seconds(sub.started_at),
        "activated_at": seconds(sub.started_at),
        "trial_start": seconds(sub.trial_start),
        "trial_end": seconds(sub.trial_end),
        "current_term_start": seconds(sub.term_start),
        "current_term_end": seconds(sub.term_end),
        "cancelled_at": seconds(sub.cancelled_at),
    }
    data.update({key: value for key, value in optional.items() if value is not None})
    if sub.status in ("trial", "active", "past_due"):
        data["next_billing_at"] = seconds(sub.term_end)
    if sub.dues:
        data.update(total_dues=sub.dues, due_since=seconds(sub.due_since))
    if sub.cancel_reason in _CHARGEBEE_REASONS:
        data["cancel_reason"] = sub.cancel_reason
    elif sub.cancel_reason:
        data["cancel_reason_code"] = sub.cancel_reason
    if sub.status == "non_renewing":
        data["cancel_schedule_created_at"] = seconds(at)
    if sub.contract and sub.status != "trial":
        data["contract_term"] = {
            "id": f"{sub.id}-ct{sub.cycle}",
            "status": "active" if sub.status in ("active", "past_due") else "terminated",
            "contract_start": seconds(sub.term_start),
            "contract_end": seconds(sub.term_end),
            "billing_cycle": 1,
            "action_at_term_end": "renew",
            "total_contract_value": sub.amount,
            "cancellation_cutoff_period": 30,
            "created_at": seconds(sub.term_start),
            "subscription_id": sub.id,
            "object": "contract_term",
        }
    return data


def _invoice(step: Step, sub: DemoSubscription) -> dict:
    paid = step.kind == "payment_recovered"
    return {
        "id": f"inv_{sub.id}_{sub.cycle}",
        "customer_id": sub.customer.id,
        "subscription_id": sub.id,
        "recurring": True,
        "status": "paid" if paid else "payment_due",
        "date": seconds(sub.term_start),
        "total": sub.amount,
        "amount_paid": sub.amount if paid else 0,
        "amount_due": 0 if paid else sub.amount,
        "currency_code": sub.price.currency,
        "object": "invoice",
    }


def _transaction(step: Step, sub: DemoSubscription) -> dict:
    return {
        "id": f"txn_{sub.id}_{seconds(step.at)}",
        "customer_id": sub.customer.id,
        "subscription_id": sub.id,
        "type": "payment",
        "date": seconds(step.at),
        "amount": sub.amount,
        "currency_code": sub.price.currency,
        "status": "success" if step.kind == "payment_recovered" else "failure",
        "object": "transaction",
    }


def event_json(step: Step, *, event_id: str) -> dict:
    """The webhook body Chargebee would POST for `step`."""
    content: dict = {"customer": customer_json(step.customer)}
    sub = step.subscription
    if sub is not None:
        content["subscription"] = subscription_json(sub, at=step.at)
        if step.kind in ("payment_failed", "payment_recovered"):
            content["invoice"] = _invoice(step, sub)
            content["transaction"] = _transaction(step, sub)
    return {
        "id": event_id,
        "occurred_at": seconds(step.at),
        "source": step.source,
        "object": "event",
        "api_version": "v2",
        "event_type": EVENT_TYPES[step.kind],
        "webhook_status": "scheduled",
        "content": content,
    }


def event_body(step: Step, *, event_id: str) -> str:
    return json.dumps(event_json(step, event_id=event_id), separators=(",", ":"))
