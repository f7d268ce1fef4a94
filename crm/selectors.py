"""Reads of the Salesforce side, for the dashboard, the API and the push engine.

Everything the sync health page shows comes from here, so the pages and the REST API cannot
disagree. Each selector costs a fixed number of queries whatever the number of rows (counts
are one aggregate, lists are one query plus at most one for the org's instance URL).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db.models import Count, F, Min, Q
from django.utils import timezone

from billing.selectors.params import Page, PageRequest, Reader, paginate
from crm.models import ContractSync, ReconcileRun, SalesforceOrgState, SyncAttempt
from crm.salesforce.config import SalesforceConfig
from crm.salesforce.hints import hint_for
from crm.salesforce.usage import ApiUsage
from crm.services.claims import due_filter

State = ContractSync.State

# What a Salesforce record id looks like (15 or 18 letters and digits): anything else is not
# put into a link.
_RECORD_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_SOBJECT = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


# the org: API usage, instance URL, which Salesforce we talk to -----------------------------


def latest_api_usage() -> ApiUsage | None:
    """The daily API usage last reported by Salesforce to any process, or None if never seen."""
    row = (
        SalesforceOrgState.objects.filter(key="default")
        .values("api_usage_used", "api_usage_limit", "api_usage_observed_at")
        .first()
    )
    if not row or row["api_usage_used"] is None or row["api_usage_limit"] is None:
        return None
    return ApiUsage(
        used=row["api_usage_used"],
        limit=row["api_usage_limit"],
        observed_at=row["api_usage_observed_at"],
    )


@dataclass(frozen=True)
class ApiUsageSummary:
    """The org's rolling 24-hour API usage against its limit and subsync's budget.

    `used`, `limit`, `percent` and `observed_at` are None until a Salesforce response has
    reported usage. `budget_pct` is SUBSYNC_SF_API_BUDGET_PCT: past it, only subscriptions
    that already have a Contract are pushed (`over_budget`).
    """

    used: int | None
    limit: int | None
    percent: float | None
    observed_at: datetime | None
    budget_pct: float
    over_budget: bool

    @property
    def known(self) -> bool:
        return self.used is not None


def api_usage() -> ApiUsageSummary:
    """The latest API usage with its percentage of the daily limit and the budget setting."""
    usage = latest_api_usage()
    budget = float(settings.SUBSYNC_SF_API_BUDGET_PCT)
    if usage is None:
        return ApiUsageSummary(used=None, limit=None, percent=None, observed_at=None,
                               budget_pct=budget, over_budget=False)
    return ApiUsageSummary(used=usage.used, limit=usage.limit, percent=usage.percent,
                           observed_at=usage.observed_at, budget_pct=budget,
                           over_budget=usage.over(budget))


def salesforce_instance_url() -> str | None:
    """The instance URL of the org's last successful login, or None before any login."""
    url = (SalesforceOrgState.objects.filter(key="default")
           .values_list("instance_url", flat=True).first())
    return url or None


def record_url(*, instance_url: str | None, sobject: str, record_id: str) -> str | None:
    """The Lightning URL of a record in an org at `instance_url` (pure: for lists of rows)."""
    if not instance_url or not _SOBJECT.fullmatch(sobject or ""):
        return None
    if not _RECORD_ID.fullmatch(record_id or ""):
        return None
    return f"{instance_url.rstrip('/')}/lightning/r/{quote(sobject)}/{quote(record_id)}/view"


def salesforce_record_url(*, sobject: str, record_id: str) -> str | None:
    """The Lightning URL of one record, or None when no login has told us the instance URL
    yet (or the id is not a Salesforce id)."""
    if not _RECORD_ID.fullmatch(record_id or ""):
        return None
    return record_url(instance_url=salesforce_instance_url(), sobject=sobject,
                      record_id=record_id)


@dataclass(frozen=True)
class SalesforceTarget:
    """Which Salesforce subsync pushes to, for the banner on every page.

    `mode` is "emulator" (the built-in emulator `make run` starts without credentials,
    SUBSYNC_SALESFORCE_EMULATOR=true), "salesforce" (a configured org) or "not configured"
    (credentials missing: nothing is pushed).
    """

    mode: str
    login_url: str
    instance_url: str | None

    @property
    def is_emulator(self) -> bool:
        return self.mode == "emulator"

    @property
    def configured(self) -> bool:
        return self.mode != "not configured"


def salesforce_target() -> SalesforceTarget:
    config = SalesforceConfig.from_settings()
    if getattr(settings, "SUBSYNC_SALESFORCE_EMULATOR", False):
        mode = "emulator"
    elif config.configured:
        mode = "salesforce"
    else:
        mode = "not configured"
    return SalesforceTarget(mode=mode, login_url=config.login_url,
                            instance_url=salesforce_instance_url())


# the sync rows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncSummary:
    """ContractSync rows by state, and how far Salesforce lags behind billing.

    `dirty`: rows with a change Salesforce has not had yet (any state, parked included);
    `due`: rows a flush would push now (crm.services.claims.due_filter); `retrying`: pending
    rows that failed at least once and wait for their next attempt; `oldest_pending_since`:
    since when the longest-waiting due pending row has been due (None when none is), with
    its age at `now`.
    """

    pending: int
    synced: int
    failed: int
    parked: int
    dirty: int
    due: int
    retrying: int
    oldest_pending_since: datetime | None
    oldest_pending_age: timedelta | None
    now: datetime

    @property
    def total(self) -> int:
        return self.pending + self.synced + self.failed + self.parked


def sync_summary(*, now: datetime | None = None) -> SyncSummary:
    """One aggregate query over ContractSync."""
    now = now or timezone.now()
    waiting = Q(state=State.PENDING, version__gt=F("synced_version"), next_attempt_at__lte=now)
    totals = ContractSync.objects.aggregate(
        pending=Count("pk", filter=Q(state=State.PENDING)),
        synced=Count("pk", filter=Q(state=State.SYNCED)),
        failed=Count("pk", filter=Q(state=State.FAILED)),
        parked=Count("pk", filter=Q(state=State.PARKED)),
        dirty=Count("pk", filter=Q(version__gt=F("synced_version"))),
        due=Count("pk", filter=due_filter(now=now)),
        retrying=Count("pk", filter=Q(state=State.PENDING, attempts__gt=0)),
        oldest=Min("next_attempt_at", filter=waiting),
    )
    oldest = totals.pop("oldest")
    return SyncSummary(**totals, oldest_pending_since=oldest,
                       oldest_pending_age=(now - oldest) if oldest else None, now=now)


@dataclass(frozen=True)
class SyncFailure:
    """One failed or parked row, with what an admin needs to act on it."""

    sync_id: int
    state: str
    subscription_id: int
    subscription_ref: str  # provider:external id, as in Salesforce's external id fields
    subscription_status: str
    customer_id: int
    customer_name: str
    error_code: str
    error_message: str
    hint: str
    attempts: int
    next_attempt_at: datetime | None
    updated_at: datetime
    sf_account_id: str
    sf_contract_id: str
    account_url: str | None
    contract_url: str | None


FAILURE_FILTERS = {
    "": Q(state__in=[State.FAILED, State.PARKED]),
    "failed": Q(state=State.FAILED),
    "parked": Q(state=State.PARKED),
    # Pending rows that failed (or were deferred) and wait for their next automatic attempt.
    "retrying": Q(state=State.PENDING) & ~Q(last_error_code=""),
}
MAX_PAGE_SIZE = 200


def _as_int(value: object, default: int) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return default


def read_failures_query(query: Mapping[str, Any] | None) -> tuple[str, PageRequest]:
    """The `state` filter (a key of FAILURE_FILTERS, "" for failed and parked) and the page
    asked for, as the dashboard and the API read them; InvalidParameters names each parameter
    that cannot be read (a 400 on both)."""
    reader = Reader(query)
    state = reader.choice("state", [key for key in FAILURE_FILTERS if key])
    page = reader.page(max_size=MAX_PAGE_SIZE)
    reader.done()
    return state, page


def sync_failures(*, page: PageRequest = PageRequest(),  # noqa: B008 (frozen, immutable)
                  state_filter: str = "") -> Page[SyncFailure]:
    """Failed and parked rows (or one of `FAILURE_FILTERS`), most recently changed first.

    Paged like every other list (billing.selectors.params.paginate: a page past the end is
    empty). Three queries: the count, the page, and the org's instance URL (for links).
    """
    rows = (
        ContractSync.objects.filter(FAILURE_FILTERS[state_filter])
        .select_related("subscription__customer")
        .only("id", "state", "last_error_code", "last_error", "attempts", "next_attempt_at",
              "updated_at", "sf_account_id", "sf_contract_id", "subscription__provider",
              "subscription__external_id", "subscription__status",
              "subscription__customer__first_name", "subscription__customer__last_name",
              "subscription__customer__company", "subscription__customer__email",
              "subscription__customer__external_id")
        .order_by("-updated_at", "-id")
    )
    found = paginate(rows, page=page, convert=lambda row: row)
    instance_url = salesforce_instance_url() if found.items else None
    return replace(found, items=[_failure(row, instance_url=instance_url)
                                 for row in found.items])


def _failure(row: ContractSync, *, instance_url: str | None) -> SyncFailure:
    sub = row.subscription
    return SyncFailure(
        sync_id=row.pk,
        state=row.state,
        subscription_id=sub.pk,
        subscription_ref=f"{sub.provider}:{sub.external_id}",
        subscription_status=sub.status,
        customer_id=sub.customer_id,
        customer_name=sub.customer.display_name,
        error_code=row.last_error_code,
        error_message=row.last_error,
        hint=hint_for(error_code=row.last_error_code, message=row.last_error),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        updated_at=row.updated_at,
        sf_account_id=row.sf_account_id,
        sf_contract_id=row.sf_contract_id,
        account_url=record_url(instance_url=instance_url, sobject="Account",
                               record_id=row.sf_account_id),
        contract_url=record_url(instance_url=instance_url, sobject="Contract",
                                record_id=row.sf_contract_id),
    )


@dataclass(frozen=True)
class AttemptSummary:
    """One Salesforce call from the call log (crm.models.SyncAttempt)."""

    attempt_id: int
    operation: str
    sobject: str
    outcome: str
    http_status: int | None
    records: int  # how many records the call carried
    error_code: str
    error_message: str
    hint: str  # empty when the call succeeded
    started_at: datetime
    duration_ms: int | None
    api_usage_used: int | None
    api_usage_max: int | None


def recent_attempts(*, limit: int = 50) -> tuple[AttemptSummary, ...]:
    """The newest Salesforce calls, newest first (one query; per-record results not loaded)."""
    limit = max(1, min(_as_int(limit, 50), 500))
    rows = (
        SyncAttempt.objects.order_by("-started_at", "-id")
        .values("id", "operation", "sobject", "outcome", "http_status", "records",
                "error_code", "error_message", "started_at", "duration_ms", "api_usage_used",
                "api_usage_max")[:limit]
    )
    return tuple(
        AttemptSummary(
            attempt_id=row["id"], operation=row["operation"], sobject=row["sobject"],
            outcome=row["outcome"], http_status=row["http_status"],
            records=len(row["records"]) if isinstance(row["records"], list) else 0,
            error_code=row["error_code"], error_message=row["error_message"],
            hint=(hint_for(error_code=row["error_code"], message=row["error_message"])
                  if row["error_code"] else ""),
            started_at=row["started_at"], duration_ms=row["duration_ms"],
            api_usage_used=row["api_usage_used"], api_usage_max=row["api_usage_max"],
        )
        for row in rows
    )


# reconciliation --------------------------------------------------------------------------


def latest_reconcile_run() -> ReconcileRun | None:
    """The newest stored reconciliation, or None if none has run yet."""
    return ReconcileRun.objects.order_by("-started_at").first()


def reconcile_runs(*, limit: int = 30) -> list[ReconcileRun]:
    """The newest reconciliations, newest first (one query)."""
    limit = max(1, min(_as_int(limit, 30), 365))
    return list(ReconcileRun.objects.order_by("-started_at", "-id")[:limit])
