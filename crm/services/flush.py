"""Push dirty ContractSync rows to Salesforce: the heart of subsync.

One batch (at most 200 rows, one lease) costs at most three API calls, whatever its size:
1. upsert the batch's Accounts by external id (deduplicated: one per customer);
2. upsert its Contracts by external id (AccountId and currency only while not Activated);
3. one update activating the contracts that are not Activated yet (new ones are Draft).
Rows whose payload digest equals the last one pushed cost nothing: they are marked synced.

A row is marked synced only for the version it pushed (UPDATE ... WHERE version = pushed);
a change that lands during the push leaves it dirty for the next flush. A row an operator
parked during its push stays parked, whatever the verdict. Each record's
failure is classified on its own: transient ones back off (subsync.backoff, 1 min to 6 h,
at least the error's retry_after) and turn `failed` after SUBSYNC_SF_MAX_ATTEMPTS while still
being retried; permanent ones are `failed` with Salesforce's errorCode and message and wait
for the next change (or `sync_salesforce --subscription`). A failure of the org or the
network (5xx, timeout, REQUEST_LIMIT_EXCEEDED) stops the run: the rest stays due. The
next run that Salesforce answers makes the rows such failures held back due at once
(claims.bring_forward_after_outage): an outage costs its own length, not the backoff after it.

Past SUBSYNC_SF_API_BUDGET_PCT of the daily API limit, only existing records are written:
rows without a Contract stay pending with the reason in last_error (`_defer`: no attempt
counted, not a failure), and so do rows whose new renewal opportunity waits (their Contract
is pushed and kept by its digest). A flush comes back for them once the usage figure is due
for a refresh (SUBSYNC_SF_USAGE_REFRESH_SECONDS), so they are pushed within about that long
of usage falling. A forced sync (`sync_salesforce`,
the dashboard's push and retry) expires the figure first: it never defers on a stale one.

When more than SUBSYNC_SF_BULK_THRESHOLD rows are due (a backfill, a reconciliation,
`sync_salesforce --all`), batches grow to SUBSYNC_SF_BULK_BATCH_SIZE rows and the same three
steps run as Bulk API 2.0 ingest jobs instead of collections (about five calls per job
whatever its size, instead of one call per 200 rows). That choice is made in one place,
`flush_due`; everything else (payloads, verdicts, per-record errors) is shared, and every
write goes through the one dispatcher, crm.services.record_writes.write.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Min
from django.utils import timezone

from crm import mapping
from crm.mapping import ACTIVATED, FieldConfig, Payload
from crm.models import ContractSync
from crm.salesforce.client import COLLECTION_LIMIT, SalesforceClient
from crm.salesforce.errors import SalesforceError
from crm.salesforce.factory import get_client
from crm.salesforce.hints import ACCOUNT_MOVED, API_BUDGET
from crm.salesforce.results import RecordResult
from crm.salesforce.usage import ApiUsage
from crm.selectors import api_usage, latest_api_usage
from crm.services import claims, record_writes, renewal_opportunities
from crm.services.attempts import record_call
from crm.services.org_schema import multi_currency_enabled
from crm.services.sync_state import FLUSH_TASK, in_sync_scope, keep_parked
from subsync.backoff import backoff_seconds
from subsync.celery import app
from subsync.lost_connection import CONNECTION_ERRORS, give_back_on_connection_loss

log = logging.getLogger(__name__)

State = ContractSync.State
BUDGET_CODE = API_BUDGET
ACCOUNT_MOVED_CODE = ACCOUNT_MOVED
# While rows wait on the budget, one flush a period comes back for them (a cache key).
BUDGET_RECHECK_KEY = "crm:budget-recheck"
# Retries due within this get a flush of their own (_come_back_for_retries): a locked record's
# (5-20 s). Later ones (the normal backoff starts at 30-60 s) are the beat sweeper's
# (crm.tasks.sweep_salesforce, every 60 s), which costs them at most one period.
RETRY_FOLLOW_UP_SECONDS = 30
RETRY_FOLLOW_UP_KEY = "crm:retry-follow-up"


@dataclass
class FlushReport:
    """What one flush did (returned by the task, printed by the command)."""

    batches: int = 0
    claimed: int = 0
    synced: int = 0  # pushed, Salesforce now has them
    unchanged: int = 0  # the same payload as last pushed: no call
    out_of_scope: int = 0
    deferred: int = 0
    retrying: int = 0
    failed: int = 0
    calls: int = 0
    bulk_batches: int = 0  # batches pushed through Bulk API 2.0 jobs
    stopped: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Item:
    """One row on its way through a batch."""

    row: ContractSync
    payload: Payload
    version: int
    account_id: str = ""
    contract_id: str = ""
    contract_status: str = ""
    error: SalesforceError | None = None
    unchanged: bool = False  # the Contract payload Salesforce has: only renewals may push
    deferred: bool = False  # its renewal opportunity waits on the daily budget (_defer)


@dataclass
class _Batch:
    client: SalesforceClient
    report: FlushReport
    now: datetime
    fields: FieldConfig
    open: set[int] = field(default_factory=set)  # rows without a verdict yet
    bulk: bool = False  # write through Bulk API 2.0 jobs rather than collections
    budget: tuple[bool, ApiUsage | None] | None = None  # _budget's answer, once asked


# entry points ----------------------------------------------------------------------------


def flush_due(
    *,
    client: SalesforceClient | None = None,
    batch_size: int | None = None,
    time_budget: float | None = None,
) -> FlushReport | None:
    """Push due rows batch after batch until none is due, the time budget is spent, or
    Salesforce is failing. None when the engine is disabled (no credentials).

    Before each batch: more than SUBSYNC_SF_BULK_THRESHOLD rows due means a Bulk API batch
    (up to SUBSYNC_SF_BULK_BATCH_SIZE rows, leased for as long as its three jobs may take),
    otherwise a collections batch of at most 200.

    A batch that is not full means the backlog is cleared: the flush stops there rather than
    chase changes that land while it pushes. Each of those asked for its own (debounced)
    flush when it committed, so a steady trickle is pushed in one batch per debounce window
    instead of a loop of one-row batches that keeps a worker busy.
    """
    client = client or get_client()
    if client is None:
        return None
    size = max(1, min(batch_size or settings.SUBSYNC_SF_BATCH_SIZE, COLLECTION_LIMIT))
    budget = settings.SUBSYNC_SF_FLUSH_SECONDS if time_budget is None else time_budget
    deadline = time.monotonic() + budget
    started = timezone.now()
    report = FlushReport()
    while True:
        bulk = use_bulk()
        if bulk:
            limit = max(1, settings.SUBSYNC_SF_BULK_BATCH_SIZE)
            lease = settings.SUBSYNC_SF_CLAIM_SECONDS + 3 * settings.SUBSYNC_SF_BULK_TIMEOUT_SECONDS
        else:
            limit, lease = size, settings.SUBSYNC_SF_CLAIM_SECONDS
        claimed_at = timezone.now()
        ids = claims.claim_due(limit=limit, lease_seconds=lease, now=claimed_at)
        if not ids:
            break
        push_claimed(client=client, ids=ids, report=report, bulk=bulk, claimed_at=claimed_at)
        if report.stopped or len(ids) < limit or time.monotonic() >= deadline:
            break
    if report.calls and not report.stopped:
        # Salesforce answered: rows waiting out an outage need not wait any longer.
        claims.bring_forward_after_outage(run_started=started,
                                          limit_rows=not api_usage().over_budget)
    if report.claimed:
        # Also after a run that failed nothing: the rows of an earlier failure still waiting
        # for their retry need the next flush (a chain, one per due second).
        _come_back_for_retries()
    if report.claimed:
        log.info("salesforce flush done", extra={"report": report.as_dict()})
    return report


def use_bulk(*, now: datetime | None = None) -> bool:
    """The one place deciding between collections and Bulk API 2.0: how many rows are due."""
    threshold = settings.SUBSYNC_SF_BULK_THRESHOLD
    return threshold >= 0 and claims.count_due(now=now) > threshold


def push_claimed(
    *, client: SalesforceClient, ids: list[int], report: FlushReport | None = None,
    bulk: bool = False, claimed_at: datetime | None = None,
) -> FlushReport:
    """Push rows this worker has claimed; every row leaves with a verdict or released.

    `bulk` writes through Bulk API 2.0 jobs (any number of rows); otherwise through
    collections (at most 200 rows). `claimed_at`: the claim's stamp (claim_due's `now`);
    with it, rows left without a verdict by a lost database connection are given back as
    soon as the database answers again (subsync.lost_connection), not after their lease.
    """
    if not bulk and len(ids) > COLLECTION_LIMIT:
        raise ValueError(f"at most {COLLECTION_LIMIT} rows per collections batch")
    report = report or FlushReport()
    give_back = nullcontext() if claimed_at is None else give_back_on_connection_loss(
        partial(claims.release_unfinished, ids=ids, claimed_at=claimed_at),
        what="Salesforce sync rows")
    with give_back:
        return _push_claimed(client=client, ids=ids, report=report, bulk=bulk)


def _push_claimed(
    *, client: SalesforceClient, ids: list[int], report: FlushReport, bulk: bool,
) -> FlushReport:
    rows = list(
        ContractSync.objects.filter(pk__in=ids)
        .select_related("subscription__customer")
        .order_by("id")
    )
    report.batches += 1
    report.bulk_batches += int(bulk)
    report.claimed += len(rows)
    batch = _Batch(client=client, report=report, now=timezone.now(),
                   fields=FieldConfig.from_settings(), open={row.pk for row in rows}, bulk=bulk)
    try:
        _push(batch, rows)
    except CONNECTION_ERRORS:
        # Not the rows' fault: push_claimed gives them back, or their lease frees them.
        raise
    except Exception as exc:
        # A bug or an interrupted worker: whatever has no verdict is retried with backoff.
        error = SalesforceError(f"internal error during the push: {exc!r}",
                                code="INTERNAL_ERROR", permanent=False)
        for row in rows:
            if row.pk in batch.open:
                _fail(batch, row, version=row.version, error=error)
        raise
    return report


# one batch -------------------------------------------------------------------------------


def _push(batch: _Batch, rows: list[ContractSync]) -> None:
    calls_before = batch.client.api_calls
    try:
        _push_rows(batch, rows)
    finally:
        batch.report.calls += batch.client.api_calls - calls_before


def _push_rows(batch: _Batch, rows: list[ContractSync]) -> None:
    todo = []
    for row in rows:
        if not in_sync_scope(row.subscription.status) and not row.sf_contract_id:
            # Never reached Salesforce and not meant to: nothing to tell it.
            _mark_out_of_scope(batch, row)
        else:
            todo.append(row)
    if not todo:
        return
    try:
        if not batch.client.authenticated:
            record_call(client=batch.client, operation="login",
                        call=batch.client.authenticate)
        multi_currency = multi_currency_enabled(client=batch.client)
    except SalesforceError as exc:
        _release_all(batch, todo, exc)
        return

    # Only new records are held back by the budget (rows without a Contract here, new renewal
    # opportunities in the renewal push): without any, the guard (and the call refreshing
    # its figure) is not needed.
    over_budget = (any(not row.sf_contract_id for row in todo) and over_budget_now(batch))
    items: list[_Item] = []
    unchanged: list[_Item] = []
    for row in todo:
        in_scope = in_sync_scope(row.subscription.status)
        payload = mapping.build_payload(row.subscription, multi_currency=multi_currency,
                                        activate=in_scope, config=batch.fields)
        if payload.digest == row.payload_hash and row.sf_contract_id:
            unchanged.append(_Item(row=row, payload=payload, version=row.version,
                                   account_id=row.sf_account_id, contract_id=row.sf_contract_id,
                                   contract_status=row.sf_contract_status, unchanged=True))
            continue
        if over_budget and not row.sf_contract_id:
            _defer(batch, row)
            continue
        items.append(_Item(row=row, payload=payload, version=row.version,
                           account_id=row.sf_account_id, contract_id=row.sf_contract_id,
                           contract_status=row.sf_contract_status))
    if items:
        _push_accounts(batch, items)
        _refuse_account_moves(items)
        _push_contracts(batch, items)
        _activate(batch, items)
    # Products and renewal opportunities (opt-in), for rows whose Contract Salesforce has;
    # a failure there fails the row like a Contract failure (see renewal_opportunities).
    renewal_opportunities.push_batch(batch, targets=items + unchanged,
                                     multi_currency=multi_currency,
                                     over_budget=partial(over_budget_now, batch))
    # One transaction for the batch's verdicts: one commit instead of one per row (thousands
    # in a bulk batch). Each UPDATE still checks the version it pushed.
    with transaction.atomic():
        for item in items + unchanged:
            if item.error is None and item.deferred:
                # The Contract is pushed; its renewal waits on the budget like a new Contract.
                _defer(batch, item.row, new_records="new renewal opportunities",
                       pushed={"payload_hash": item.payload.digest,
                               **_ids(item.account_id, item.contract_id,
                                      item.contract_status)})
            elif item.error is None:
                if item.unchanged:
                    batch.report.unchanged += 1
                else:
                    batch.report.synced += 1
                _mark_synced(batch, item.row, version=item.version, digest=item.payload.digest,
                             account_id=item.account_id, contract_id=item.contract_id,
                             status=item.contract_status)
            else:
                _fail(batch, item.row, version=item.version, error=item.error,
                      account_id=item.account_id, contract_id=item.contract_id,
                      status=item.contract_status)


def over_budget_now(batch: _Batch) -> bool:
    """Whether new records wait on the daily budget; asked at most once per batch (the
    answer, and the usage figure shown to operators, are kept on the batch)."""
    if batch.budget is None:
        batch.budget = _budget(batch)
    return batch.budget[0]


def _budget(batch: _Batch) -> tuple[bool, ApiUsage | None]:
    """Whether the daily budget guard is on; usage over it is refreshed with one call when
    older than SUBSYNC_SF_USAGE_REFRESH_SECONDS, or when a forced sync expired it
    (org_state.expire_api_usage), so a figure from before usage fell defers nothing."""
    percent = settings.SUBSYNC_SF_API_BUDGET_PCT
    usage = latest_api_usage()
    if usage is None or not usage.over(percent):
        return False, usage
    age = (batch.now - usage.observed_at).total_seconds() if usage.observed_at else None
    if age is None or age >= settings.SUBSYNC_SF_USAGE_REFRESH_SECONDS:
        try:
            record_call(client=batch.client, operation="limits", call=batch.client.limits)
        except SalesforceError as exc:
            log.warning("could not refresh Salesforce API usage: %s", exc)
        usage = latest_api_usage() or usage
    return usage.over(percent), usage


def _write(
    batch: _Batch, *, operation: str, sobject: str, refs: list[str], records: list[dict],
    external_field: str = "",
) -> list[RecordResult]:
    """One write step (upsert by external id, or update by Id) of the whole batch: one
    collection call, or one Bulk API job in a bulk batch (crm.services.record_writes, the
    one dispatcher); results per record, in order. A failure of the whole call or job
    becomes that failure for every record."""
    return record_writes.write(batch, operation=operation, sobject=sobject, records=records,
                               refs=refs, external_field=external_field, bulk=batch.bulk)


def _push_accounts(batch: _Batch, items: list[_Item]) -> None:
    accounts: dict[str, dict] = {}
    for item in items:
        accounts.setdefault(item.payload.account_ref, item.payload.account)
    refs = list(accounts)
    results = _write(batch, operation="upsert", sobject=mapping.ACCOUNT, refs=refs,
                          records=[accounts[ref] for ref in refs],
                          external_field=batch.fields.account_external_field)
    by_ref = dict(zip(refs, results, strict=True))
    for item in items:
        result = by_ref[item.payload.account_ref]
        if result.success:
            item.account_id = result.id or ""
        else:
            item.error = _about(result.error, f"Account {item.payload.account_ref}")


def _refuse_account_moves(items: list[_Item]) -> None:
    """An Activated contract cannot change account: say so, and what to do, on the row."""
    for item in items:
        row = item.row
        moved = row.sf_account_id and item.account_id and row.sf_account_id != item.account_id
        if item.error is None and row.sf_contract_status == ACTIVATED and moved:
            sub = row.subscription
            item.error = SalesforceError(
                f"Contract {row.sf_contract_id} ({item.payload.contract_ref}) is Activated "
                f"under Account {row.sf_account_id}, but the subscription now belongs to "
                f"customer {item.payload.account_ref} (Account {item.account_id}). Salesforce "
                "does not allow moving an Activated contract to another account. To fix: in "
                f"Salesforce, delete Contract {row.sf_contract_id} or clear its "
                f"{mapping.CONTRACT_EXTERNAL_ID} (to keep it as history), then run "
                f"`python manage.py sync_salesforce --subscription {sub.provider}:"
                f"{sub.external_id} --forget-contract` to create a new contract under the new "
                "account.",
                code=ACCOUNT_MOVED_CODE, permanent=True,
            )


def _push_contracts(batch: _Batch, items: list[_Item]) -> None:
    todo = [item for item in items if item.error is None]
    if not todo:
        return
    activated = {id(item): item.row.sf_contract_status == ACTIVATED for item in todo}
    results = _upsert_contracts(batch, todo, activated)
    # What we knew of a contract can be out of date: Salesforce holds it Activated although
    # the row never learnt so (a worker killed after the activation, before its commit), or
    # it was deleted there. Then our Status (Draft to an Activated one; none on a create)
    # is refused: send those once more on the other assumption.
    mistaken = [item for item, result in zip(todo, results, strict=True)
                if not result.success and _status_refused(result.error)]
    if mistaken and not batch.report.stopped:
        for item in mistaken:
            activated[id(item)] = not activated[id(item)]
        retried = dict(zip(map(id, mistaken), _upsert_contracts(batch, mistaken, activated),
                           strict=True))
        results = [retried.get(id(item), result) for item, result in zip(todo, results,
                                                                         strict=True)]
    for item, result in zip(todo, results, strict=True):
        if not result.success:
            item.error = _about(result.error, f"Contract {item.payload.contract_ref}")
            continue
        item.contract_id = result.id or item.contract_id
        if result.created:
            item.contract_status = mapping.DRAFT
        elif activated[id(item)] and item.contract_status != ACTIVATED:
            item.contract_status = ACTIVATED  # learnt from the refused Draft


def _upsert_contracts(batch: _Batch, items: list[_Item],
                      activated: dict[int, bool]) -> list[RecordResult]:
    records = [mapping.contract_body(item.payload, account_id=item.account_id,
                                     activated=activated[id(item)]) for item in items]
    return _write(batch, operation="upsert", sobject=mapping.CONTRACT,
                  refs=[item.payload.contract_ref for item in items], records=records,
                  external_field=batch.fields.contract_external_field)


def _status_refused(error: SalesforceError | None) -> bool:
    """Salesforce refused the Contract's Status (or its missing Status) as sent."""
    return (error is not None and "Status" in error.fields
            and error.code in ("FIELD_INTEGRITY_EXCEPTION", "REQUIRED_FIELD_MISSING"))


def _activate(batch: _Batch, items: list[_Item]) -> None:
    todo = [item for item in items
            if item.error is None and item.payload.activate and item.contract_status != ACTIVATED]
    if not todo:
        return
    results = _write(
        batch, operation="update", sobject=mapping.CONTRACT,
        refs=[item.contract_id for item in todo],
        records=[{"Id": item.contract_id, "Status": ACTIVATED} for item in todo],
    )
    for item, result in zip(todo, results, strict=True):
        if result.success:
            item.contract_status = ACTIVATED
        else:
            item.contract_status = item.contract_status or "Draft"
            item.error = _about(result.error, f"Activating contract {item.contract_id}")


def _about(error: SalesforceError | None, subject: str) -> SalesforceError:
    error = error or SalesforceError("no result", code="UNEXPECTED_RESPONSE", permanent=False)
    return SalesforceError(f"{subject}: {error.message}", code=error.code,
                           permanent=error.permanent, retry_after=error.retry_after,
                           status=error.status, fields=error.fields)


# verdicts --------------------------------------------------------------------------------


def _close(batch: _Batch, row: ContractSync) -> None:
    batch.open.discard(row.pk)


def _ids(account_id: str, contract_id: str, status: str) -> dict:
    known = {"sf_account_id": account_id, "sf_contract_id": contract_id,
             "sf_contract_status": status}
    return {name: value for name, value in known.items() if value}


def _mark_synced(
    batch: _Batch, row: ContractSync, *, version: int, digest: str, account_id: str,
    contract_id: str, status: str,
) -> None:
    common = {"payload_hash": digest, "claimed_until": None, "last_synced_at": batch.now,
              **_ids(account_id, contract_id, status)}
    done = ContractSync.objects.filter(pk=row.pk, version=version).update(
        state=keep_parked(State.SYNCED), synced_version=version, attempts=0, last_error="",
        last_error_code="", next_attempt_at=None, **common,
    )
    if not done:
        # Changed while we pushed: Salesforce has `version`, the row stays dirty and due.
        ContractSync.objects.filter(pk=row.pk).update(
            synced_version=version, state=keep_parked(State.PENDING), next_attempt_at=batch.now,
            **common
        )
    _close(batch, row)


def _mark_out_of_scope(batch: _Batch, row: ContractSync) -> None:
    done = ContractSync.objects.filter(pk=row.pk, version=row.version).update(
        state=keep_parked(State.SYNCED), synced_version=row.version, attempts=0, last_error="",
        last_error_code="", next_attempt_at=None, claimed_until=None,
    )
    if not done:
        ContractSync.objects.filter(pk=row.pk).update(claimed_until=None)
    batch.report.out_of_scope += 1
    _close(batch, row)


def _fail(
    batch: _Batch, row: ContractSync, *, version: int, error: SalesforceError,
    account_id: str = "", contract_id: str = "", status: str = "",
) -> None:
    attempts = row.attempts + 1
    common = {"last_error_code": error.code[:64], "last_error": error.message,
              "claimed_until": None, **_ids(account_id, contract_id, status)}
    if error.permanent:
        verdict = {"state": keep_parked(State.FAILED), "next_attempt_at": None}
        batch.report.failed += 1
    else:
        delay = max(
            backoff_seconds(attempts,
                            base=error.backoff_base(settings.SUBSYNC_SF_BACKOFF_BASE_SECONDS),
                            cap=settings.SUBSYNC_SF_BACKOFF_CAP_SECONDS),
            error.retry_after or 0,
        )
        gave_up = attempts >= settings.SUBSYNC_SF_MAX_ATTEMPTS
        verdict = {"state": keep_parked(State.FAILED if gave_up else State.PENDING),
                   "next_attempt_at": batch.now + timedelta(seconds=delay)}
        batch.report.retrying += 1
    done = ContractSync.objects.filter(pk=row.pk, version=version).update(
        attempts=F("attempts") + 1, **verdict, **common
    )
    if not done:
        # A newer change is already due: keep its fresh schedule, record what happened.
        ContractSync.objects.filter(pk=row.pk).update(**common)
    _close(batch, row)
    log.warning(
        "salesforce push failed",
        extra={"subscription_id": row.subscription_id, "error_code": error.code,
               "permanent": error.permanent, "attempts": attempts},
    )


def _defer(batch: _Batch, row: ContractSync, *, new_records: str = "new Contracts",
           pushed: dict | None = None) -> None:
    """Past the budget: the row waits, not failed (no attempt counted), due again when the
    usage figure is due for a refresh, with a flush sent for then (_come_back_for_deferred).
    `pushed`: what Salesforce already has of the row (its Contract's digest and ids, when
    only the renewal waits), so the next push skips the Contract by its digest; the row stays
    dirty (synced_version unchanged) until its renewal is pushed."""
    usage = batch.budget[1] if batch.budget else None
    shown = f"{usage.used}/{usage.limit} ({usage.percent:g}%)" if usage else "unknown"
    extra = {"attempts": 0, **pushed} if pushed else {}
    ContractSync.objects.filter(pk=row.pk).update(
        last_error_code=BUDGET_CODE,
        last_error=(
            f"Waiting: Salesforce daily API usage is {shown}, over the "
            f"{settings.SUBSYNC_SF_API_BUDGET_PCT:g}% budget (SUBSYNC_SF_API_BUDGET_PCT). "
            f"Existing records are still updated; {new_records} wait until usage falls."
        ),
        next_attempt_at=batch.now + timedelta(seconds=settings.SUBSYNC_SF_USAGE_REFRESH_SECONDS),
        claimed_until=None, **extra,
    )
    batch.report.deferred += 1
    _close(batch, row)
    _come_back_for_deferred()


def _come_back_for_deferred() -> None:
    """Send one flush for when the deferred rows are due again: it refreshes the usage
    (then SUBSYNC_SF_USAGE_REFRESH_SECONDS old) and pushes them if usage fell, so they wait
    at most about that long after it fell, not for the beat sweeper. One per period
    whatever the number of flushes deferring rows, and only while rows wait: each costs one
    `limits` call, counted against the daily limit."""
    seconds = settings.SUBSYNC_SF_USAGE_REFRESH_SECONDS
    _flush_later(key=BUDGET_RECHECK_KEY, seconds=seconds, hold=max(1, int(seconds)),
                 what="budget-deferred rows")


def _come_back_for_retries() -> None:
    """Send one flush for the soonest retry due within RETRY_FOLLOW_UP_SECONDS: a locked
    record, retried 5-10 s later, would otherwise wait up to a minute for the beat sweeper
    once the webhooks stop. One message per due second however many flushes ask."""
    now = timezone.now()
    soonest = (ContractSync.objects
               .filter(state__in=[ContractSync.State.PENDING, ContractSync.State.FAILED],
                       next_attempt_at__gt=now,
                       next_attempt_at__lt=now + timedelta(seconds=RETRY_FOLLOW_UP_SECONDS))
               .exclude(last_error_code=BUDGET_CODE)  # their own: _come_back_for_deferred
               .aggregate(soonest=Min("next_attempt_at"))["soonest"])
    if soonest is None:
        return
    seconds = max(1, math.ceil((soonest - now).total_seconds()))
    _flush_later(key=f"{RETRY_FOLLOW_UP_KEY}:{int(soonest.timestamp())}", seconds=seconds,
                 hold=seconds + 5, what="rows retrying soon")


def _flush_later(*, key: str, seconds: float, hold: int, what: str) -> None:
    """Send a flush `seconds` from now unless `key` says one is on its way (set-if-absent in
    the cache for `hold` seconds, so concurrent flushes send one). Never raises: the beat
    sweeper pushes what a lost message would have."""
    try:
        if cache.add(key, "1", timeout=hold):
            app.send_task(FLUSH_TASK, countdown=seconds)
    except Exception:
        log.warning("could not schedule the flush of %s; the sweeper will push them", what,
                    exc_info=True)


def _release_all(batch: _Batch, rows: list[ContractSync], error: SalesforceError) -> None:
    """The org could not be reached before any row was tried: no attempt is counted."""
    fields = {"claimed_until": None, "last_error_code": error.code[:64],
              "last_error": f"Not tried: {error.message}"}
    if error.retry_after:
        fields["next_attempt_at"] = batch.now + timedelta(seconds=error.retry_after)
    ContractSync.objects.filter(pk__in=[row.pk for row in rows]).update(**fields)
    batch.open.clear()
    batch.report.stopped = f"Salesforce unavailable: {error}"
    log.warning("salesforce flush stopped before pushing: %s", error)
