"""What Salesforce is told about an upcoming renewal: pure functions, no I/O.

A subscription whose renewal date (contract term end, else current term end) is within
SUBSYNC_SF_RENEWAL_LEAD_DAYS has one Opportunity, keyed `<provider>:<subscription id>:<date>`
so that each term's renewal is its own record. Its line items are the subscription's priced
lines (crm.products_mapping) over the renewal term, each with one revenue schedule row per
month; the rows of a line add up exactly to its total, in the currency's minor units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from crm.mapping import (
    account_name,
    billing_period_months,
    contract_term_months,
    mrr_major_units,
    utc_date,
)
from crm.products_mapping import PricedLine, digest
from subsync.months import add_months

OPPORTUNITY = "Opportunity"
LINE = "OpportunityLineItem"
SCHEDULE = "OpportunityLineItemSchedule"
RENEWAL_EXTERNAL_ID = "Subsync_Renewal_Id__c"
LINE_EXTERNAL_ID = "Subsync_Line_Id__c"
LOSS_REASON = "Subsync_Loss_Reason__c"
# Statuses that end a renewal: the opportunity is lost.
ENDED_STATUSES = frozenset({"cancelled", "non_renewing", "expired"})
OPEN, WON, LOST = "open", "won", "lost"
FIELD_TYPES: dict[str, dict[str, frozenset[str]]] = {
    OPPORTUNITY: {
        RENEWAL_EXTERNAL_ID: frozenset({"string"}),
        LOSS_REASON: frozenset({"string", "textarea"}),
        "Name": frozenset({"string"}),
        "CloseDate": frozenset({"date"}),
        "StageName": frozenset({"picklist"}),
        "AccountId": frozenset({"reference"}),
        "ContractId": frozenset({"reference"}),
        "Pricebook2Id": frozenset({"reference"}),
    },
    LINE: {
        LINE_EXTERNAL_ID: frozenset({"string"}),
        "Quantity": frozenset({"double"}),
        "TotalPrice": frozenset({"currency"}),
        "PricebookEntryId": frozenset({"reference"}),
        "OpportunityId": frozenset({"reference"}),
    },
}
_NAME_LENGTH = 120


@dataclass(frozen=True)
class Stages:
    """The org's picklist values for the three outcomes, and the Type (may be empty)."""

    open: str = "Prospecting"
    won: str = "Closed Won"
    lost: str = "Closed Lost"
    type: str = ""

    def name(self, outcome: str) -> str:
        return {OPEN: self.open, WON: self.won, LOST: self.lost}[outcome]


@dataclass(frozen=True)
class RenewalLine:
    ref: str
    product_ref: str
    quantity: int
    total: int  # minor units over the renewal term
    schedule: tuple[tuple[date, int], ...]  # (month, minor units), summing to `total`


@dataclass(frozen=True)
class Renewal:
    """One renewal Opportunity before any Salesforce id is known."""

    ref: str
    close_date: date
    currency: str
    opportunity: dict[str, Any]
    lines: tuple[RenewalLine, ...] = field(default=())

    @property
    def digest(self) -> str:
        return digest({"opportunity": self.opportunity, "lines": [
            (line.ref, line.product_ref, line.quantity, line.total,
             [(d.isoformat(), amount) for d, amount in line.schedule]) for line in self.lines]})


def renewal_date(subscription) -> date | None:
    """When the subscription renews: its contract term end, else its current term end."""
    for moment in (subscription.contract_term_end, subscription.current_term_end):
        if moment is not None:
            return utc_date(moment)
    return None


def renewal_ref(subscription, when: date) -> str:
    return f"{subscription.provider}:{subscription.external_id}:{when.isoformat()}"


def in_window(when: date | None, *, today: date, lead_days: int) -> bool:
    """The opportunity exists from `lead_days` before the renewal date on (a renewal that is
    late, e.g. a past-due payment, keeps its opportunity open)."""
    return when is not None and when <= today + timedelta(days=lead_days)


def term_months(subscription) -> int:
    """Months of the term being renewed: the contract term, else the billing period."""
    start = utc_date(subscription.contract_term_start)
    end = utc_date(subscription.contract_term_end)
    if start and end:
        return contract_term_months(start=start, end=end)
    return billing_period_months(subscription)


def monthly_schedule(*, total: int, months: int, start: date) -> tuple[tuple[date, int], ...]:
    """`total` minor units over `months` monthly rows from `start` (each row `start` moved by
    whole months, clamped to a shorter month's last day: 31 Jan, 28 Feb, 31 Mar); the first
    rows carry the remainder, one minor unit each, so the rows sum to `total` exactly."""
    months = max(1, months)
    base, left = divmod(total, months)
    return tuple((add_months(start, i), base + (1 if i < left else 0)) for i in range(months))


def line_total(line: PricedLine, *, term: int, period_months: int) -> int:
    """What the line earns over the renewal term, in minor units (half up)."""
    exact = Fraction(line.period_amount * term, max(1, period_months))
    return int(exact + Fraction(1, 2))


def opportunity_name(subscription, *, plan: str, when: date) -> str:
    customer = account_name(subscription.customer)
    dash = "\N{EN DASH}"  # an en dash between the parts, as sales teams write them
    return f"Renewal {dash} {customer} {dash} {plan} {dash} {when.isoformat()}"[:_NAME_LENGTH]


def build_renewal(subscription, *, when: date, lines: list[PricedLine], stages: Stages,
                  multi_currency: bool) -> Renewal:
    """The open renewal Opportunity of `subscription` for the term ending `when`."""
    ref = renewal_ref(subscription, when)
    term = term_months(subscription)
    period = billing_period_months(subscription)
    plan = subscription.plan_id or subscription.price_id or "no plan"
    opportunity: dict[str, Any] = {
        RENEWAL_EXTERNAL_ID: ref,
        "Name": opportunity_name(subscription, plan=plan, when=when),
        "CloseDate": when.isoformat(),
        "StageName": stages.open,
        LOSS_REASON: None,
    }
    if stages.type:
        opportunity["Type"] = stages.type
    if multi_currency:
        opportunity["CurrencyIsoCode"] = subscription.currency
    renewal_lines = []
    for index, line in enumerate(lines):
        total = line_total(line, term=term, period_months=period)
        renewal_lines.append(RenewalLine(
            ref=f"{ref}:{index}:{line.item_id}"[:255], product_ref=line.product_ref,
            quantity=line.quantity, total=total,
            schedule=monthly_schedule(total=total, months=term, start=when)))
    return Renewal(ref=ref, close_date=when, currency=subscription.currency,
                   opportunity=opportunity, lines=tuple(renewal_lines))


def major(amount: int, currency: str) -> int | float:
    return mrr_major_units(amount=amount, currency=currency)


def line_record(line: RenewalLine, *, currency: str, opportunity_id: str = "",
                entry_id: str = "") -> dict[str, Any]:
    """The line item to upsert; the opportunity and entry only when creating it (neither can
    change afterwards)."""
    record: dict[str, Any] = {LINE_EXTERNAL_ID: line.ref, "Quantity": line.quantity,
                              "TotalPrice": major(line.total, currency)}
    if opportunity_id:
        record["OpportunityId"] = opportunity_id
        record["PricebookEntryId"] = entry_id
    return record


def schedule_records(line: RenewalLine, *, line_id: str, currency: str) -> list[dict[str, Any]]:
    return [{"OpportunityLineItemId": line_id, "Type": "Revenue",
             "Revenue": major(amount, currency), "ScheduleDate": month.isoformat()}
            for month, amount in line.schedule]


def closing(*, ref: str, outcome: str, stages: Stages, reason: str = "") -> dict[str, Any]:
    """The update that closes a renewal opportunity as won or lost (with billing's reason)."""
    record: dict[str, Any] = {RENEWAL_EXTERNAL_ID: ref, "StageName": stages.name(outcome)}
    if outcome == LOST:
        record[LOSS_REASON] = (reason or "cancelled")[:255]
    return record


def outcome_of(subscription, *, ref_date: date, current: date | None, in_scope: bool) -> str:
    """What became of the renewal due on `ref_date`: still open, won (a new term started
    with the subscription still going), or lost (cancelled, non-renewing, expired, or the
    renewal date moved without a new term)."""
    if subscription.status in ENDED_STATUSES or not in_scope:
        return LOST
    if current is not None and current > ref_date:
        return WON
    if current == ref_date:
        return OPEN
    return LOST


def loss_reason(subscription, *, current: date | None) -> str:
    if subscription.status in ENDED_STATUSES:
        reason = (subscription.cancel_reason or "").strip()
        return f"{subscription.status}: {reason}" if reason else subscription.status
    if current is not None:
        return f"renewal date moved to {current.isoformat()}"
    return f"subscription {subscription.status}"
