"""Factories for Chargebee API v2 resources and webhook events, shaped like Chargebee's own.

The shapes follow Chargebee's documented v2 resources (event, subscription, customer, invoice,
transaction) for both product catalogs, so that the parser, the webhook view and the fake API
server are exercised with what production sends: amounts in minor units, Unix-second times,
`resource_version` in milliseconds, `object` tags, and the fields Chargebee leaves out rather
than sending as null.

Every factory is deterministic for the same arguments (ids derive from a counter only when not
given), so tests can state exact expectations.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

DEFAULT_OCCURRED_AT = 1_717_200_000  # 2024-06-01T00:00:00Z
DAY = 86_400

_counter = itertools.count(1)

_PERIOD_SECONDS = {"day": DAY, "week": 7 * DAY, "month": 30 * DAY, "year": 365 * DAY}
_PERIOD_ADVERB = {"day": "Daily", "week": "Weekly", "month": "Monthly", "year": "Yearly"}

# The status a subscription has right after each event, when the test does not say.
DEFAULT_STATUS = {
    "subscription_created": "active",
    "subscription_created_with_backdating": "active",
    "subscription_started": "active",
    "subscription_activated": "active",
    "subscription_activated_with_backdating": "active",
    "subscription_cancelled": "cancelled",
    "subscription_canceled_with_backdating": "cancelled",
    "subscription_cancellation_scheduled": "non_renewing",
    "subscription_paused": "paused",
    "subscription_resumption_scheduled": "paused",
    "subscription_scheduled_resumption_removed": "paused",
    "subscription_trial_extended": "in_trial",
    "subscription_moved_out": "transferred",
}

# Events whose content also carries the invoice Chargebee raised for them.
_WITH_INVOICE = frozenset({
    "subscription_created",
    "subscription_created_with_backdating",
    "subscription_activated",
    "subscription_activated_with_backdating",
    "subscription_changed",
    "subscription_renewed",
    "subscription_items_renewed",
    "subscription_reactivated",
    "subscription_reactivated_with_backdating",
})


def next_id(prefix: str) -> str:
    """A Chargebee-looking id (`prefix` + base36 counter), unique within the test run."""
    n = next(_counter)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return f"{prefix}{out.rjust(6, '0')}"


def make_customer(
    *,
    customer_id: str = "cus_acme",
    email: str = "ops@acme.example",
    first_name: str = "Ada",
    last_name: str = "Lovelace",
    company: str | None = "Acme Ltd",
    resource_version: int | None = None,
    updated_at: int = DEFAULT_OCCURRED_AT,
    deleted: bool = False,
    currency_code: str = "USD",
    **overrides: Any,
) -> dict[str, Any]:
    """A v2 `customer` resource."""
    customer: dict[str, Any] = {
        "id": customer_id,
        "first_name": first_name,
        "last_name": last_name,
        "email": email,
        "auto_collection": "on",
        "net_term_days": 0,
        "allow_direct_debit": False,
        "created_at": updated_at - 30 * DAY,
        "taxability": "taxable",
        "updated_at": updated_at,
        "pii_cleared": "active",
        "channel": "web",
        "resource_version": resource_version if resource_version is not None
        else updated_at * 1000,
        "deleted": deleted,
        "object": "customer",
        "card_status": "valid",
        "promotional_credits": 0,
        "refundable_credits": 0,
        "excess_payments": 0,
        "unbilled_charges": 0,
        "preferred_currency_code": currency_code,
    }
    if company is not None:
        customer["company"] = company
    return _apply(customer, overrides)


def make_subscription(
    *,
    catalog: int = 2,
    subscription_id: str = "sub_acme_1",
    customer_id: str = "cus_acme",
    status: str = "active",
    resource_version: int | None = None,
    updated_at: int = DEFAULT_OCCURRED_AT,
    plan_id: str = "pro",
    plan_unit_price: int = 5_000,
    quantity: int = 1,
    addons: Sequence[Mapping[str, Any]] = (),
    charges: Sequence[Mapping[str, Any]] = (),
    discounts: Sequence[Mapping[str, Any]] = (),
    coupons: Sequence[str] = (),
    billing_period: int = 1,
    billing_period_unit: str = "month",
    currency_code: str = "USD",
    mrr: int | None = None,
    due_invoices_count: int = 0,
    total_dues: int | None = None,
    term_start: int | None = None,
    trial_end: int | None = None,
    cancelled_at: int | None = None,
    cancel_reason_code: str | None = None,
    contract_term: bool = False,
    deleted: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    """A v2 `subscription` resource for Product Catalog 1.0 (`catalog=1`) or 2.0.

    `addons` entries are `{"id", "quantity", "unit_price"}` (1.0 add-on id, or 2.0 item price
    id); `charges` (2.0 only) the same for one-off charge items; `discounts` are full discount
    dicts (see `make_discount`). `mrr=None` leaves Chargebee's `mrr` out, like a site without
    MRR reporting. `overrides` replace top-level fields; a None value removes the field.
    """
    if term_start is not None:
        start = term_start
    else:  # a future subscription starts later; others started ten days before the update
        start = updated_at + 10 * DAY if status == "future" else updated_at - 10 * DAY
    term_end = start + billing_period * _PERIOD_SECONDS[billing_period_unit]
    sub: dict[str, Any] = {
        "id": subscription_id,
        "billing_period": billing_period,
        "billing_period_unit": billing_period_unit,
        "auto_collection": "on",
        "customer_id": customer_id,
        "status": status,
        "created_at": start - DAY,
        "updated_at": updated_at,
        "has_scheduled_changes": False,
        "channel": "web",
        "resource_version": resource_version if resource_version is not None
        else updated_at * 1000,
        "deleted": deleted,
        "object": "subscription",
        "currency_code": currency_code,
        "due_invoices_count": due_invoices_count,
    }
    _set_dates(sub, status=status, start=start, term_end=term_end, trial_end=trial_end,
               cancelled_at=cancelled_at, cancel_reason_code=cancel_reason_code)
    if due_invoices_count or total_dues:
        sub["due_since"] = start
        sub["total_dues"] = total_dues if total_dues is not None else plan_unit_price * quantity
    if catalog == 1:
        _catalog1(sub, plan_id, plan_unit_price, quantity, addons, coupons)
    elif catalog == 2:
        _catalog2(sub, plan_id, plan_unit_price, quantity, addons, charges, currency_code,
                  billing_period_unit)
    else:
        raise ValueError(f"catalog must be 1 or 2, got {catalog}")
    if discounts:
        sub["discounts"] = [dict(d) for d in discounts]
        sub["coupons"] = [
            {"coupon_id": d["coupon_id"], "applied_count": 1, "object": "coupon"}
            for d in discounts if d.get("coupon_id")
        ]
    if mrr is not None:
        sub["mrr"] = mrr
    if contract_term:
        sub["contract_term"] = {
            "id": f"ct_{subscription_id}",
            "status": "active",
            "contract_start": start,
            "contract_end": start + 365 * DAY,
            "billing_cycle": 12,
            "action_at_term_end": "renew",
            "total_contract_value": plan_unit_price * quantity * 12,
            "cancellation_cutoff_period": 0,
            "created_at": start,
            "subscription_id": subscription_id,
            "remaining_billing_cycles": 11,
            "object": "contract_term",
        }
    return _apply(sub, overrides)


def make_discount(
    *,
    percentage: float | None = None,
    amount: int | None = None,
    coupon_id: str | None = "WELCOME",
    duration_type: str = "forever",
    apply_on: str = "invoice_amount",
    item_price_id: str | None = None,
    included_in_mrr: bool | None = None,
    currency_code: str = "USD",
) -> dict[str, Any]:
    """A `discounts[]` entry: give `percentage` or a fixed `amount` (minor units)."""
    if (percentage is None) == (amount is None):
        raise ValueError("give exactly one of percentage or amount")
    discount: dict[str, Any] = {
        "id": next_id("disc_"),
        "invoice_name": f"{coupon_id or 'Manual'} discount",
        "type": "percentage" if percentage is not None else "fixed_amount",
        "duration_type": duration_type,
        "apply_on": apply_on,
        "created_at": DEFAULT_OCCURRED_AT - 40 * DAY,
        "applied_count": 1,
        "index": 0,
        "object": "discount",
    }
    if percentage is not None:
        discount["percentage"] = percentage
    else:
        discount["amount"] = amount
        discount["currency_code"] = currency_code
    if coupon_id:
        discount["coupon_id"] = coupon_id
    if item_price_id:
        discount["item_price_id"] = item_price_id
    if included_in_mrr is not None:
        discount["included_in_mrr"] = included_in_mrr
    return discount


def make_invoice(
    *,
    subscription: Mapping[str, Any] | None,
    customer_id: str,
    status: str = "paid",
    total: int = 5_000,
    date: int = DEFAULT_OCCURRED_AT,
    currency_code: str = "USD",
) -> dict[str, Any]:
    """A v2 `invoice` resource (recurring when it belongs to a subscription)."""
    paid = status == "paid"
    invoice: dict[str, Any] = {
        "id": next_id("inv_"),
        "customer_id": customer_id,
        "recurring": subscription is not None,
        "status": status,
        "price_type": "tax_exclusive",
        "date": date,
        "due_date": date,
        "net_term_days": 0,
        "exchange_rate": 1.0,
        "total": total,
        "amount_paid": total if paid else 0,
        "amount_adjusted": 0,
        "write_off_amount": 0,
        "credits_applied": 0,
        "amount_due": 0 if paid else total,
        "updated_at": date,
        "resource_version": date * 1000,
        "deleted": False,
        "object": "invoice",
        "first_invoice": False,
        "amount_to_collect": 0 if paid else total,
        "round_off_amount": 0,
        "has_advance_charges": False,
        "currency_code": currency_code,
        "base_currency_code": currency_code,
        "is_gifted": False,
        "term_finalized": True,
        "channel": "web",
        "tax": 0,
        "sub_total": total,
        "line_items": [],
    }
    if paid:
        invoice["paid_at"] = date
    else:
        invoice["dunning_status"] = "in_progress"
    if subscription is not None:
        invoice["subscription_id"] = subscription["id"]
        invoice["line_items"] = [{
            "id": next_id("li_"),
            "date_from": subscription.get("current_term_start", date),
            "date_to": subscription.get("current_term_end", date),
            "unit_amount": total,
            "quantity": 1,
            "amount": total,
            "pricing_model": "per_unit",
            "is_taxed": False,
            "tax_amount": 0,
            "object": "line_item",
            "subscription_id": subscription["id"],
            "customer_id": customer_id,
            "description": "Subscription charge",
            "entity_type": "plan_item_price" if "subscription_items" in subscription
            else "plan",
            "entity_id": _plan_entity(subscription),
            "discount_amount": 0,
            "item_level_discount_amount": 0,
        }]
    return invoice


def make_transaction(
    *,
    invoice: Mapping[str, Any],
    success: bool,
    date: int = DEFAULT_OCCURRED_AT,
) -> dict[str, Any]:
    """A v2 `transaction` resource paying (or failing to pay) `invoice`."""
    transaction: dict[str, Any] = {
        "id": next_id("txn_"),
        "customer_id": invoice["customer_id"],
        "payment_source_id": "pm_card_1",
        "payment_method": "card",
        "gateway": "stripe",
        "gateway_account_id": "gw_stripe",
        "type": "payment",
        "date": date,
        "exchange_rate": 1.0,
        "amount": invoice["total"],
        "id_at_gateway": f"ch_{invoice['id']}",
        "status": "success" if success else "failure",
        "updated_at": date,
        "resource_version": date * 1000,
        "deleted": False,
        "object": "transaction",
        "masked_card_number": "************4242",
        "currency_code": invoice["currency_code"],
        "base_currency_code": invoice["currency_code"],
        "linked_invoices": [{
            "invoice_id": invoice["id"],
            "applied_amount": invoice["total"] if success else 0,
            "applied_at": date,
            "invoice_date": invoice["date"],
            "invoice_total": invoice["total"],
            "invoice_status": invoice["status"],
        }],
    }
    if "subscription_id" in invoice:
        transaction["subscription_id"] = invoice["subscription_id"]
    if not success:
        transaction["error_code"] = "card_declined"
        transaction["error_text"] = "Your card was declined."
    return transaction


def make_event(
    event_type: str,
    *,
    catalog: int = 2,
    subscription_id: str = "sub_acme_1",
    customer_id: str = "cus_acme",
    status: str | None = None,
    resource_version: int | None = None,
    occurred_at: int = DEFAULT_OCCURRED_AT,
    mrr: int | None = None,
    plan_unit_price: int = 5_000,
    quantity: int = 1,
    addons: Sequence[Mapping[str, Any]] = (),
    billing_period_unit: str = "month",
    event_id: str | None = None,
    with_subscription: bool = True,
    customer: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A complete v2 webhook body for `event_type`, as Chargebee POSTs it.

    Subscription events carry `subscription` and `customer` (plus `invoice` where Chargebee adds
    one); `customer_*` events carry the customer; `payment_*` events carry the transaction,
    invoice, customer and, unless `with_subscription=False`, the invoice's subscription. Other
    types carry a plausible resource of their own. `overrides` are applied to the subscription
    (see `make_subscription` for the other keywords it accepts, e.g. `due_invoices_count`,
    `discounts`, `trial_end`, `billing_period`, `contract_term`).
    """
    if status is None:
        status = DEFAULT_STATUS.get(event_type, "active")
    if event_type == "payment_failed":
        overrides.setdefault("due_invoices_count", 1)
    if event_type == "subscription_deleted":
        overrides.setdefault("deleted", True)
    sub = make_subscription(
        catalog=catalog, subscription_id=subscription_id, customer_id=customer_id,
        status=status, resource_version=resource_version, updated_at=occurred_at, mrr=mrr,
        plan_unit_price=plan_unit_price, quantity=quantity, addons=addons,
        billing_period_unit=billing_period_unit, **overrides,
    )
    cust = dict(customer) if customer is not None else make_customer(
        customer_id=customer_id, updated_at=occurred_at - DAY,
        deleted=event_type == "customer_deleted",
    )
    content = _content(event_type, sub, cust, occurred_at=occurred_at,
                       with_subscription=with_subscription)
    return {
        "id": event_id or next_id("ev_"),
        "occurred_at": occurred_at,
        "source": "admin_console",
        "user": "ops@subsync.example",
        "object": "event",
        "api_version": "v2",
        "content": content,
        "event_type": event_type,
        "webhook_status": "scheduled",
    }


def _content(
    event_type: str,
    sub: dict[str, Any],
    cust: dict[str, Any],
    *,
    occurred_at: int,
    with_subscription: bool,
) -> dict[str, Any]:
    card = {"status": "valid", "gateway": "stripe", "gateway_account_id": "gw_stripe",
            "first_name": cust.get("first_name"), "last_name": cust.get("last_name"),
            "iin": "424242", "last4": "4242", "card_type": "visa", "funding_type": "credit",
            "expiry_month": 12, "expiry_year": 2030, "masked_number": "************4242",
            "object": "card", "customer_id": cust["id"], "payment_source_id": "pm_card_1"}
    if event_type.startswith("subscription_") or event_type == "mrr_updated":
        content: dict[str, Any] = {"subscription": sub, "customer": cust, "card": card}
        if event_type in _WITH_INVOICE:
            content["invoice"] = make_invoice(
                subscription=sub, customer_id=cust["id"], total=_first_amount(sub),
                date=occurred_at, currency_code=sub["currency_code"],
            )
        return content
    if event_type.startswith("customer_"):
        return {"customer": cust, "card": card}
    if event_type.startswith("payment_"):
        success = event_type == "payment_succeeded"
        invoice = make_invoice(
            subscription=sub if with_subscription else None, customer_id=cust["id"],
            status="paid" if success else "payment_due", total=_first_amount(sub),
            date=occurred_at, currency_code=sub["currency_code"],
        )
        content = {
            "transaction": make_transaction(invoice=invoice, success=success, date=occurred_at),
            "invoice": invoice,
            "customer": cust,
        }
        if with_subscription:
            content["subscription"] = sub
        return content
    if event_type.startswith("invoice_"):
        return {"invoice": make_invoice(subscription=sub, customer_id=cust["id"],
                                        date=occurred_at)}
    if event_type.startswith("card_"):
        return {"card": card, "customer": cust}
    if event_type.startswith("plan_"):
        return {"plan": {"id": "pro", "name": "Pro", "price": 5_000, "period": 1,
                         "period_unit": "month", "status": "active", "object": "plan"}}
    return {"customer": cust}


def _set_dates(
    sub: dict[str, Any],
    *,
    status: str,
    start: int,
    term_end: int,
    trial_end: int | None,
    cancelled_at: int | None,
    cancel_reason_code: str | None,
) -> None:
    if status == "future":
        sub["start_date"] = start
        sub["next_billing_at"] = start
        return
    sub["started_at"] = start
    sub["activated_at"] = start
    sub["current_term_start"] = start
    sub["current_term_end"] = term_end
    if status == "in_trial":
        end = trial_end if trial_end is not None else start + 14 * DAY
        sub.pop("activated_at")
        sub.update(trial_start=start, trial_end=end, current_term_end=end, next_billing_at=end,
                   trial_end_action="site_default")
        return
    if trial_end is not None:
        sub["trial_start"] = trial_end - 14 * DAY
        sub["trial_end"] = trial_end
    if status == "active":
        sub["next_billing_at"] = term_end
    elif status == "non_renewing":
        sub["cancelled_at"] = cancelled_at if cancelled_at is not None else term_end
        sub["cancel_schedule_created_at"] = start + DAY
    elif status in ("cancelled", "transferred"):
        sub["cancelled_at"] = cancelled_at if cancelled_at is not None else term_end
        sub["cancel_reason_code"] = cancel_reason_code or "Not Paid"
        if cancel_reason_code is None:
            sub["cancel_reason"] = "not_paid"
    elif status == "paused":
        sub["pause_date"] = start + 5 * DAY
        sub["resume_date"] = term_end + 30 * DAY


def _catalog1(
    sub: dict[str, Any],
    plan_id: str,
    unit_price: int,
    quantity: int,
    addons: Iterable[Mapping[str, Any]],
    coupons: Sequence[str],
) -> None:
    sub.update(
        plan_id=plan_id,
        plan_quantity=quantity,
        plan_unit_price=unit_price,
        plan_amount=unit_price * quantity,
        plan_free_quantity=0,
        setup_fee=0,
    )
    lines = []
    for addon in addons:
        qty = addon.get("quantity", 1)
        lines.append({"id": addon["id"], "quantity": qty, "unit_price": addon["unit_price"],
                      "amount": addon["unit_price"] * qty, "object": "addon"})
    if lines:
        sub["addons"] = lines
    if coupons:
        sub["coupons"] = [{"coupon_id": c, "applied_count": 1, "object": "coupon"}
                          for c in coupons]


def _catalog2(
    sub: dict[str, Any],
    plan_id: str,
    unit_price: int,
    quantity: int,
    addons: Iterable[Mapping[str, Any]],
    charges: Iterable[Mapping[str, Any]],
    currency_code: str,
    unit: str,
) -> None:
    suffix = f"-{currency_code}-{_PERIOD_ADVERB[unit]}"
    items = [{
        "item_price_id": f"{plan_id}{suffix}",
        "item_type": "plan",
        "quantity": quantity,
        "unit_price": unit_price,
        "amount": unit_price * quantity,
        "free_quantity": 0,
        "object": "subscription_item",
    }]
    for kind, entries in (("addon", addons), ("charge", charges)):
        for entry in entries:
            qty = entry.get("quantity", 1)
            line = {
                "item_price_id": entry["id"] if kind == "charge" or entry["id"].endswith(suffix)
                else f"{entry['id']}{suffix}",
                "item_type": kind,
                "quantity": qty,
                "unit_price": entry["unit_price"],
                "amount": entry["unit_price"] * qty,
                "free_quantity": 0,
                "object": "subscription_item",
            }
            if kind == "charge":
                line.update(charge_once=True, charge_on_option="immediately")
            items.append(line)
    sub["subscription_items"] = items


def _plan_entity(sub: Mapping[str, Any]) -> str:
    if "subscription_items" in sub:
        return sub["subscription_items"][0]["item_price_id"]
    return sub.get("plan_id", "")


def _first_amount(sub: Mapping[str, Any]) -> int:
    if "subscription_items" in sub:
        return sum(i["amount"] for i in sub["subscription_items"])
    return sub.get("plan_amount", 0) + sum(a["amount"] for a in sub.get("addons", []))


def _apply(resource: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in overrides.items():
        if value is None:
            resource.pop(key, None)
        else:
            resource[key] = value
    return resource
