"""Realistic Braintree subscription data for tests, as plain values for
`wireformats.braintree_xml`.

One description of a subscription feeds both the signed webhook notifications and the fake
gateway's API answers, so a test can say "this subscription" once and see it either way.
Field names and shapes follow Braintree's Subscription response (and the SDK 4.x parser).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import braintree
from braintree.util.xml_util import XmlUtil

from wireformats.braintree_xml import to_xml


@dataclass(frozen=True)
class Keys:
    """A merchant's API credentials, the ones notifications are signed with."""

    merchant_id: str = "subsync_merchant"
    public_key: str = "test_public_key"
    private_key: str = "test_private_key"


@dataclass(frozen=True)
class Customer:
    id: str
    email: str = ""
    company: str = ""
    first_name: str = ""
    last_name: str = ""

    def fields(self) -> dict:
        return {"id": self.id, "email": self.email, "company": self.company,
                "first_name": self.first_name, "last_name": self.last_name}


@dataclass(frozen=True)
class Modification:
    """An add-on or discount as attached to a subscription."""

    id: str
    amount: str
    quantity: int = 1
    never_expires: bool = True
    number_of_billing_cycles: int | None = None
    current_billing_cycle: int = 0
    name: str = ""

    def fields(self) -> dict:
        return {
            "amount": self.amount,
            "current_billing_cycle": self.current_billing_cycle,
            "id": self.id,
            "name": self.name or self.id,
            "never_expires": self.never_expires,
            "number_of_billing_cycles": self.number_of_billing_cycles,
            "quantity": self.quantity,
        }


@dataclass(frozen=True)
class Transaction:
    id: str
    amount: str
    currency_iso_code: str = "USD"
    status: str = "settled"
    created_at: datetime | None = None
    customer: Customer | None = None

    def fields(self) -> dict:
        fields = {
            "id": self.id,
            "status": self.status,
            "type": "sale",
            "currency_iso_code": self.currency_iso_code,
            "amount": self.amount,
            "created_at": self.created_at or datetime(2024, 1, 15, 10, 0, tzinfo=UTC),
        }
        if self.customer is not None:
            fields["customer"] = self.customer.fields()
        return fields


@dataclass(frozen=True)
class StatusEvent:
    status: str
    timestamp: datetime
    price: str = "10.00"
    balance: str = "0.00"
    currency_iso_code: str | None = None
    subscription_source: str = "api"
    plan_id: str = "basic"

    def fields(self) -> dict:
        fields = {
            "timestamp": self.timestamp,
            "balance": self.balance,
            "price": self.price,
            "status": self.status,
            "user": "ops@example.com",
            "subscription_source": self.subscription_source,
            "plan_id": self.plan_id,
        }
        if self.currency_iso_code:
            fields["currency_iso_code"] = self.currency_iso_code
        return fields


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months, clamped to the month's last day (as Braintree bills)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class _Unset:
    """Marks "not given" where None is a meaningful value (the field is nil)."""


_UNSET = _Unset()


def subscription_fields(
    *,
    subscription_id: str,
    status: str,
    plan_id: str,
    price: str,
    timestamp: datetime,
    billing_frequency: int = 1,
    add_ons: Iterable[Modification] = (),
    discounts: Iterable[Modification] = (),
    transactions: Iterable[Transaction] = (),
    status_history: Iterable[StatusEvent] = (),
    merchant_account_id: str | None = "usd_account",
    payment_method_token: str | None = "card_token_1",  # noqa: S107 - a fake card token
    first_billing_date: date | _Unset | None = _UNSET,
    billing_period_start_date: date | _Unset | None = _UNSET,
    billing_period_end_date: date | _Unset | None = _UNSET,
    next_billing_date: date | _Unset | None = _UNSET,
    paid_through_date: date | _Unset | None = _UNSET,
    created_at: datetime | None = None,
    updated_at: datetime | _Unset | None = _UNSET,
    trial_period: bool = False,
    trial_duration: int | None = None,
    trial_duration_unit: str | None = None,
    never_expires: bool = True,
    number_of_billing_cycles: int | None = None,
    current_billing_cycle: int = 1,
    balance: str = "0.00",
    days_past_due: int | None = None,
    failure_count: int = 0,
    omit: Iterable[str] = (),
) -> dict:
    """A subscription as Braintree describes it, with dates derived from `timestamp`.

    Unless given, the current period starts on the timestamp's day and lasts
    `billing_frequency` months (end date inclusive), the next bill is the day after, and the
    subscription was created and last updated at `timestamp`. `omit` drops fields entirely
    (to test missing data).
    """
    start = timestamp.date() if billing_period_start_date is _UNSET else billing_period_start_date
    if billing_period_end_date is _UNSET:
        end = add_months(start, billing_frequency) - timedelta(days=1) if start else None
    else:
        end = billing_period_end_date
    if first_billing_date is _UNSET:
        first_billing_date = start
    if next_billing_date is _UNSET:
        next_billing_date = end + timedelta(days=1) if end else first_billing_date
    if paid_through_date is _UNSET:
        paid_through_date = end if status in ("Active", "Canceled") and not trial_period else None
    fields = {
        "add_ons": [("add-on", m.fields()) for m in add_ons],
        "balance": balance,
        "billing_day_of_month": (first_billing_date or timestamp.date()).day,
        "billing_period_end_date": end,
        "billing_period_start_date": start,
        "created_at": created_at or timestamp,
        "updated_at": timestamp if updated_at is _UNSET else updated_at,
        "current_billing_cycle": current_billing_cycle,
        "days_past_due": days_past_due,
        "discounts": [("discount", m.fields()) for m in discounts],
        "failure_count": failure_count,
        "first_billing_date": first_billing_date,
        "id": subscription_id,
        "merchant_account_id": merchant_account_id,
        "never_expires": never_expires,
        "next_bill_amount": price,
        "next_billing_period_amount": price,
        "next_billing_date": next_billing_date,
        "number_of_billing_cycles": number_of_billing_cycles,
        "paid_through_date": paid_through_date,
        "payment_method_token": payment_method_token,
        "plan_id": plan_id,
        "price": price,
        "status": status,
        "status_history": [("status-event", e.fields()) for e in status_history],
        "trial_duration": trial_duration,
        "trial_duration_unit": trial_duration_unit,
        "trial_period": trial_period,
        "transactions": [("transaction", t.fields()) for t in transactions],
    }
    for name in omit:
        fields.pop(name, None)
    return fields


def sdk_subscription(fields: dict) -> braintree.Subscription:
    """The SDK's Subscription for `fields`, parsed from XML exactly as the SDK would."""
    attributes = XmlUtil.dict_from_xml(to_xml("subscription", fields))
    return braintree.Subscription(None, attributes["subscription"])
