"""What Salesforce is told about a subscription: pure functions, no I/O.

A subscription becomes one Account (its customer) and one Contract, keyed by external ids
`<provider>:<id>` so every push is an idempotent upsert. Field names follow
docs/architecture.md and can be renamed per org (SUBSYNC_SF_FIELD_MAP); constant fields
can be added (SUBSYNC_SF_EXTRA_FIELDS). Fields Salesforce itself rules over (AccountId,
Status, CurrencyIsoCode) are not configurable: the engine sets them following the Contract
rules (created Draft, activated by a later update, account and currency frozen once
Activated), see `contract_body`.

The payload digest (sha256 of canonical JSON of both records) lets the engine skip a push
whose content Salesforce already has.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from subsync.money import currency_exponent

ACCOUNT = "Account"
CONTRACT = "Contract"
ACCOUNT_EXTERNAL_ID = "Subsync_Customer_Id__c"
CONTRACT_EXTERNAL_ID = "Subsync_Subscription_Id__c"
ACCOUNT_FIELDS = (ACCOUNT_EXTERNAL_ID, "Name")
CONTRACT_FIELDS = (
    CONTRACT_EXTERNAL_ID, "StartDate", "ContractTerm", "Description", "Subsync_Status__c",
    "Subsync_MRR__c", "Subsync_Plan__c", "Subsync_Renewal_Date__c", "Subsync_Cancelled_Date__c",
    "Subsync_Provider__c",
)
# Set by the engine under Salesforce's Contract rules; never renamed, never an extra.
RULED_FIELDS = frozenset({"Id", "AccountId", "Status", "CurrencyIsoCode"})
ACTIVATED = "Activated"
DRAFT = "Draft"
# The Subsync_Status__c picklist (docs/architecture.md); other statuses are sent empty.
SUBSYNC_STATUS_VALUES = frozenset(
    {"trial", "active", "past_due", "non_renewing", "paused", "cancelled", "expired"}
)
_DEFAULTS = {ACCOUNT: ACCOUNT_FIELDS, CONTRACT: CONTRACT_FIELDS}
# The describe `type`s each field may have in the org for what we send to work (by default
# name). The preflight check holds an org to it, and a test holds crm/salesforce/metadata
# (the fields admins deploy) to it, so the three cannot drift apart.
FIELD_TYPES: dict[str, dict[str, frozenset[str]]] = {
    ACCOUNT: {
        ACCOUNT_EXTERNAL_ID: frozenset({"string"}),
        "Name": frozenset({"string"}),
    },
    CONTRACT: {
        CONTRACT_EXTERNAL_ID: frozenset({"string"}),
        "StartDate": frozenset({"date"}),
        "ContractTerm": frozenset({"int", "double"}),
        "Description": frozenset({"textarea", "string"}),
        "Subsync_Status__c": frozenset({"picklist", "string"}),
        "Subsync_MRR__c": frozenset({"currency", "double"}),
        "Subsync_Plan__c": frozenset({"string", "textarea"}),
        "Subsync_Renewal_Date__c": frozenset({"date"}),
        "Subsync_Cancelled_Date__c": frozenset({"date"}),
        "Subsync_Provider__c": frozenset({"string", "picklist"}),
    },
}
_NAME_LENGTH = 255


@dataclass(frozen=True)
class FieldConfig:
    """Per-org field names and constant extras.

    `renames` maps (object, default field name) to the org's name; an empty name means the
    field is not sent at all.
    """

    renames: Mapping[tuple[str, str], str] = field(default_factory=dict)
    extra: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def name(self, sobject: str, default: str) -> str:
        return self.renames.get((sobject, default), default)

    def sent(self, sobject: str) -> list[tuple[str, str]]:
        """(default name, org name) of every configurable field sent on `sobject`."""
        return [(default, self.name(sobject, default)) for default in _DEFAULTS[sobject]
                if self.name(sobject, default)]

    @property
    def account_external_field(self) -> str:
        return self.name(ACCOUNT, ACCOUNT_EXTERNAL_ID)

    @property
    def contract_external_field(self) -> str:
        return self.name(CONTRACT, CONTRACT_EXTERNAL_ID)

    @classmethod
    def build(
        cls, *, field_map: Mapping[str, str] | None = None,
        extra_fields: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> FieldConfig:
        """Validate SUBSYNC_SF_FIELD_MAP / SUBSYNC_SF_EXTRA_FIELDS-shaped values."""
        renames: dict[tuple[str, str], str] = {}
        for key, value in (field_map or {}).items():
            sobject, _, name = key.rpartition(".")
            targets = [sobject] if sobject else [o for o, names in _DEFAULTS.items()
                                                 if name in names]
            if not targets or any(name not in _DEFAULTS.get(t, ()) for t in targets):
                raise ImproperlyConfigured(
                    f"SUBSYNC_SF_FIELD_MAP: {key!r} is not a field subsync sends; known: "
                    + ", ".join(f"{o}.{n}" for o, names in _DEFAULTS.items() for n in names)
                )
            for target in targets:
                renames[(target, name)] = str(value or "").strip()
        for sobject in _DEFAULTS:
            ext = CONTRACT_EXTERNAL_ID if sobject == CONTRACT else ACCOUNT_EXTERNAL_ID
            if renames.get((sobject, ext)) == "":
                raise ImproperlyConfigured(
                    f"SUBSYNC_SF_FIELD_MAP: {sobject}.{ext} is the upsert key and cannot be "
                    "dropped"
                )
        extra: dict[str, dict[str, Any]] = {}
        for sobject, values in (extra_fields or {}).items():
            if sobject not in _DEFAULTS or not isinstance(values, Mapping):
                raise ImproperlyConfigured(
                    "SUBSYNC_SF_EXTRA_FIELDS must look like "
                    '{"Account": {"Field": value}, "Contract": {...}}'
                )
            config = cls(renames=renames)
            forbidden = RULED_FIELDS | {
                config.account_external_field, config.contract_external_field
            }
            clash = sorted(set(values) & forbidden)
            if clash:
                raise ImproperlyConfigured(
                    f"SUBSYNC_SF_EXTRA_FIELDS cannot set {', '.join(clash)} on {sobject}: "
                    "subsync sets them itself"
                )
            extra[sobject] = dict(values)
        return cls(renames=renames, extra=extra)

    @classmethod
    def from_settings(cls) -> FieldConfig:
        from django.conf import settings

        return cls.build(
            field_map=getattr(settings, "SUBSYNC_SF_FIELD_MAP", {}),
            extra_fields=getattr(settings, "SUBSYNC_SF_EXTRA_FIELDS", {}),
        )


@dataclass(frozen=True)
class Payload:
    """One subscription as Salesforce records, before any Salesforce state is known."""

    account_ref: str
    contract_ref: str
    account: dict[str, Any]
    contract: dict[str, Any]
    activate: bool
    digest: str


# values ----------------------------------------------------------------------------------


def external_id(provider: str, identifier: str) -> str:
    return f"{provider}:{identifier}"


def account_name(customer) -> str:
    """Company, else full name, else email, else the customer id (Name is required)."""
    full = f"{(customer.first_name or '').strip()} {(customer.last_name or '').strip()}".strip()
    name = (customer.company or "").strip() or full or (customer.email or "").strip()
    return (name or customer.external_id)[:_NAME_LENGTH]


def utc_date(moment: datetime | None) -> date | None:
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def contract_term_months(*, start: date | None, end: date | None, fallback: int = 1) -> int:
    """Whole months from `start` that reach `end` (rounded up), at least 1.

    Salesforce computes EndDate = StartDate + ContractTerm months - 1 day, so a term that
    ends partway into a month needs that month too. Without both dates, `fallback` months.
    """
    if start is None or end is None:
        return max(1, fallback)
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if end.day > start.day:
        months += 1
    return max(1, months)


def billing_period_months(subscription) -> int:
    unit = str(subscription.billing_period_unit or "month")
    period = max(1, int(subscription.billing_period or 1))
    if unit == "year":
        return 12 * period
    if unit == "month":
        return period
    return 1


def mrr_major_units(*, amount: int, currency: str) -> int | float:
    """Minor units to major units of `currency` (JPY has none, KWD three), JSON-ready."""
    exponent = currency_exponent(currency)
    if exponent == 0:
        return int(amount)
    return float(Decimal(int(amount)).scaleb(-exponent))


def format_major(amount: int, currency: str) -> str:
    exponent = currency_exponent(currency)
    return f"{Decimal(int(amount)).scaleb(-exponent):,.{exponent}f}"


def subsync_status(status: str) -> str | None:
    return status if status in SUBSYNC_STATUS_VALUES else None


def start_date(subscription) -> date | None:
    for moment in (subscription.started_at, subscription.current_term_start,
                   subscription.contract_term_start, getattr(subscription, "created_at", None)):
        if moment is not None:
            return utc_date(moment)
    return None


def term_end_date(subscription) -> date | None:
    for moment in (subscription.current_term_end, subscription.contract_term_end,
                   subscription.next_renewal_at):
        if moment is not None:
            return utc_date(moment)
    return None


def description(subscription) -> str:
    plan = subscription.plan_id or subscription.price_id or "no plan"
    amount = format_major(subscription.mrr, subscription.currency)
    return (
        f"{str(subscription.provider).capitalize()} subscription {subscription.external_id}, "
        f"plan {plan}: {amount} {subscription.currency} MRR, status {subscription.status}. "
        "Maintained by subsync from billing; edits made here are overwritten."
    )


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


# records ---------------------------------------------------------------------------------


def _named(sobject: str, values: dict[str, Any], config: FieldConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for default, value in values.items():
        if default in RULED_FIELDS:
            out[default] = value
            continue
        name = config.name(sobject, default)
        if name:
            out[name] = value
    for name, value in config.extra.get(sobject, {}).items():
        out.setdefault(name, value)
    return out


def account_fields(customer, *, config: FieldConfig | None = None) -> dict[str, Any]:
    config = config or FieldConfig()
    values = {
        ACCOUNT_EXTERNAL_ID: external_id(customer.provider, customer.external_id),
        "Name": account_name(customer),
    }
    return _named(ACCOUNT, values, config)


def contract_fields(
    subscription, *, multi_currency: bool, config: FieldConfig | None = None
) -> dict[str, Any]:
    """The Contract's fields except AccountId and Status (see `contract_body`)."""
    config = config or FieldConfig()
    start = start_date(subscription)
    values: dict[str, Any] = {
        CONTRACT_EXTERNAL_ID: external_id(subscription.provider, subscription.external_id),
        "StartDate": _iso(start),
        "ContractTerm": contract_term_months(
            start=start, end=term_end_date(subscription),
            fallback=billing_period_months(subscription),
        ),
        "Description": description(subscription),
        "Subsync_Status__c": subsync_status(subscription.status),
        "Subsync_MRR__c": mrr_major_units(amount=subscription.mrr,
                                          currency=subscription.currency),
        "Subsync_Plan__c": (subscription.plan_id or subscription.price_id or "")[:255] or None,
        "Subsync_Renewal_Date__c": _iso(utc_date(subscription.next_renewal_at)),
        "Subsync_Cancelled_Date__c": _iso(utc_date(subscription.cancelled_at)),
        "Subsync_Provider__c": str(subscription.provider),
    }
    if multi_currency:
        values["CurrencyIsoCode"] = subscription.currency
    return _named(CONTRACT, values, config)


def digest(value: Any) -> str:
    """sha256 of canonical JSON: equal digests mean Salesforce already has this content."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def payload_digest(account: Mapping[str, Any], contract: Mapping[str, Any],
                   activate: bool = True) -> str:
    return digest({"account": account, "contract": contract, "activate": activate})


def build_payload(
    subscription, *, multi_currency: bool, activate: bool, config: FieldConfig | None = None
) -> Payload:
    """Both records of one subscription; `activate` says whether the Contract should be
    Activated (in sync scope) or only kept up to date (e.g. after a cancellation)."""
    config = config or FieldConfig()
    account = account_fields(subscription.customer, config=config)
    contract = contract_fields(subscription, multi_currency=multi_currency, config=config)
    return Payload(
        account_ref=account[config.account_external_field],
        contract_ref=contract[config.contract_external_field],
        account=account,
        contract=contract,
        activate=activate,
        digest=payload_digest(account, contract, activate),
    )


def contract_body(payload: Payload, *, account_id: str, activated: bool) -> dict[str, Any]:
    """The Contract record to upsert, given what Salesforce already holds.

    A contract not known to be Activated is sent with `Status: Draft`: a new one must be
    created Draft (and is activated by a separate update), and counting on the org's
    picklist default fails an org whose default is another value, or none (then Status is
    required on insert); on an existing Draft it changes nothing. An Activated contract gets
    no Status (it cannot go back to Draft; Terminated/Expired cannot be set through the API),
    and its AccountId and currency are read-only, so they are sent only while it is not
    Activated.
    """
    body = dict(payload.contract)
    if activated:
        body.pop("CurrencyIsoCode", None)
    else:
        body["AccountId"] = account_id
        body["Status"] = DRAFT
    return body
