"""Provider-neutral shapes of what a billing provider tells us.

Each provider module turns its own payloads into these plain dataclasses; everything after that
(storage, ordering, the MRR ledger, the Salesforce push) only ever sees these. They hold no Django
objects so that parsers stay pure functions that are easy to test.

Money is an integer in minor units plus an ISO 4217 currency code; datetimes are aware and UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Provider(StrEnum):
    CHARGEBEE = "chargebee"
    BRAINTREE = "braintree"


class Status(StrEnum):
    """Normalised subscription status (see docs/metrics.md for what counts towards MRR)."""

    FUTURE = "future"
    TRIAL = "trial"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    NON_RENEWING = "non_renewing"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class PeriodUnit(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class ItemKind(StrEnum):
    PLAN = "plan"
    ADDON = "addon"
    CHARGE = "charge"
    DISCOUNT = "discount"


@dataclass(frozen=True)
class NormalizedCustomer:
    provider: Provider
    external_id: str
    email: str = ""
    company: str = ""
    first_name: str = ""
    last_name: str = ""
    # The provider's ordering key for this customer (Chargebee resource_version in ms,
    # Braintree notification timestamp in ms); None when the source carries none.
    source_version: int | None = None
    deleted: bool = False
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class NormalizedItem:
    kind: ItemKind
    item_id: str
    quantity: int = 1
    unit_amount: int = 0  # minor units per unit per billing period
    amount: int = 0  # minor units per billing period, after quantity (discounts positive)
    recurring: bool = True


@dataclass(frozen=True)
class NormalizedSubscription:
    provider: Provider
    external_id: str
    customer: NormalizedCustomer
    status: Status
    provider_status: str
    currency: str
    mrr: int  # minor units per month, already normalised (billing.mrr)
    source_version: int | None
    plan_id: str = ""
    price_id: str = ""
    billing_period: int = 1
    billing_period_unit: PeriodUnit = PeriodUnit.MONTH
    started_at: datetime | None = None
    trial_end: datetime | None = None
    current_term_start: datetime | None = None
    current_term_end: datetime | None = None
    next_renewal_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str = ""
    contract_term_start: datetime | None = None
    contract_term_end: datetime | None = None
    deleted: bool = False
    items: tuple[NormalizedItem, ...] = ()
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedEvent:
    """What one stored webhook event means, once parsed.

    `subscriptions` and `customers` are applied in that order inside one transaction.
    An event with neither is recorded as `ignored` with `ignored_reason`.
    """

    event_type: str
    subscriptions: tuple[NormalizedSubscription, ...] = ()
    customers: tuple[NormalizedCustomer, ...] = ()
    ignored_reason: str = ""
