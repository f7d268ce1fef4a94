"""Renewal Opportunities with line items and monthly revenue schedules, pushed with Contracts.

The flush (crm.services.flush) calls `push_batch` once per batch, after the Contracts, with
the batch's subscriptions whose Contract Salesforce has. For each, in as few calls as the
batch allows (crm.services.record_writes: collections, or Bulk API jobs for many records):

1. the products and standard price book entries its lines need (crm.services.products);
2. one upsert of the batch's Opportunities: the open renewal of each subscription whose
   renewal date is within SUBSYNC_SF_RENEWAL_LEAD_DAYS, and the closing of earlier ones
   (won when a new term started, lost with the reason when the subscription ended);
3. one upsert of the changed line items (by Subsync_Line_Id__c) and one delete of lines
   billing no longer has;
4. the schedules of changed lines rewritten: the rows Salesforce has are read and deleted,
   the new rows (one per month of the term, summing to the line's total) inserted.

What was pushed is kept in RenewalSync (digests of the opportunity and of each line), so an
unchanged renewal costs no call. A failure is set on the subscription's sync row, which the
flush then fails like a Contract failure (retried with backoff): the Contract part is
skipped next time by its own digest, the renewal part is pushed again. Every write is
idempotent or repaired first (lines by external id, schedules deleted before inserting), so
a lost answer duplicates nothing.

Billing owns quantities and prices: a Salesforce user's edit of them is overwritten at the
next change of the subscription.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Protocol

from django.conf import settings
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm import products_mapping as pm
from crm import renewals_mapping as rm
from crm.models import ContractSync, RenewalSync
from crm.salesforce.errors import SalesforceError
from crm.services import products, record_writes
from crm.services.record_writes import Run
from crm.services.sync_state import in_sync_scope, mark_subscriptions_dirty

log = logging.getLogger(__name__)


class Target(Protocol):
    """A batch row whose Contract is in Salesforce (crm.services.flush._Item)."""

    row: ContractSync
    account_id: str
    contract_id: str
    error: SalesforceError | None
    deferred: bool  # set here: its new opportunity waits on the daily budget


def products_enabled() -> bool:
    return bool(settings.SUBSYNC_SF_PRODUCTS or settings.SUBSYNC_SF_RENEWALS)


def stages() -> rm.Stages:
    return rm.Stages(open=settings.SUBSYNC_SF_RENEWAL_STAGE,
                     won=settings.SUBSYNC_SF_RENEWAL_WON_STAGE,
                     lost=settings.SUBSYNC_SF_RENEWAL_LOST_STAGE,
                     type=settings.SUBSYNC_SF_RENEWAL_TYPE)


@dataclass
class _Push:
    """One open renewal on its way: its opportunity, then its lines, then schedules."""

    target: Target
    renewal: rm.Renewal
    sync: RenewalSync
    created: bool = False
    lines: dict[str, dict] = field(default_factory=dict)  # ref -> {"id", "hash"}
    failed: bool = False


def _digest(renewal: rm.Renewal, target: Target) -> str:
    """The renewal's content and the records it points at (a Contract replaced by an admin
    gives a new ContractId, which must be pushed too)."""
    return pm.digest([renewal.digest, target.account_id, target.contract_id])


def _fail(target: Target, error: SalesforceError | None, subject: str) -> None:
    error = error or SalesforceError("no result", code="UNEXPECTED_RESPONSE", permanent=False)
    if target.error is None:
        target.error = SalesforceError(f"{subject}: {error.message}", code=error.code,
                                       permanent=error.permanent,
                                       retry_after=error.retry_after, fields=error.fields)


def push_batch(run: Run, *, targets: list[Target], multi_currency: bool,
               over_budget: Callable[[], bool]) -> None:
    """Products and renewal opportunities of these rows; failures set on `target.error`.

    `over_budget` is the flush's budget guard (crm.services.flush.over_budget_now), asked
    only when a new opportunity is about to be created: a renewal it holds back is marked
    `target.deferred`, and the flush defers the row as it defers a new Contract (pending, no
    attempt counted, pushed again within SUBSYNC_SF_USAGE_REFRESH_SECONDS of usage falling).
    """
    if not products_enabled():
        return
    targets = [t for t in targets if t.error is None and t.contract_id]
    if not targets:
        return
    from billing.models import SubscriptionItem

    items: dict[int, list] = {}
    for item in SubscriptionItem.objects.filter(
            subscription_id__in=[t.row.subscription_id for t in targets]).order_by("id"):
        items.setdefault(item.subscription_id, []).append(item)
    lines = {t.row.subscription_id: pm.priced_lines(provider=t.row.subscription.provider,
                                                    items=items.get(t.row.subscription_id, []))
             for t in targets}
    needs: dict[products.Key, products.Need] = {}
    for t in targets:
        sub = t.row.subscription
        for line in lines[sub.pk]:
            key = (line.product_ref, sub.currency if multi_currency else "")
            needs.setdefault(key, products.Need(line=line, currency=sub.currency))
    entries = products.ensure_entries(run, needs=needs, multi_currency=multi_currency)
    if not settings.SUBSYNC_SF_RENEWALS:
        for t in targets:
            _product_errors(t, lines[t.row.subscription_id], entries, multi_currency)
        return
    _push_renewals(run, targets=targets, lines=lines, entries=entries,
                   multi_currency=multi_currency, over_budget=over_budget)


def _product_errors(t: Target, lines: list[pm.PricedLine], entries: products.Entries,
                    multi_currency: bool) -> bool:
    currency = t.row.subscription.currency if multi_currency else ""
    for line in lines:
        key = (line.product_ref, currency)
        if key not in entries.ids:
            _fail(t, entries.errors.get(key), f"Product {line.product_ref}")
            return True
    return False


def _push_renewals(run: Run, *, targets: list[Target], lines: dict[int, list],
                   entries: products.Entries, multi_currency: bool,
                   over_budget: Callable[[], bool]) -> None:
    today = run.now.date()
    lead = settings.SUBSYNC_SF_RENEWAL_LEAD_DAYS
    names = stages()
    syncs: dict[int, dict[str, RenewalSync]] = {}
    for sync in RenewalSync.objects.filter(
            subscription_id__in=[t.row.subscription_id for t in targets]):
        syncs.setdefault(sync.subscription_id, {})[sync.ref] = sync
    closings: list[tuple[Target, RenewalSync, str, dict]] = []
    pushes: list[_Push] = []
    for t in targets:
        sub = t.row.subscription
        current = rm.renewal_date(sub)
        in_scope = in_sync_scope(sub.status)
        own = syncs.get(sub.pk, {})
        for sync in own.values():
            if sync.stage != RenewalSync.Stage.OPEN:
                continue
            outcome = rm.outcome_of(sub, ref_date=sync.renewal_date, current=current,
                                    in_scope=in_scope)
            if outcome != rm.OPEN:
                record = rm.closing(ref=sync.ref, outcome=outcome, stages=names,
                                    reason=rm.loss_reason(sub, current=current))
                closings.append((t, sync, outcome, record))
        wanted = (in_scope and sub.status not in rm.ENDED_STATUSES
                  and rm.in_window(current, today=today, lead_days=lead))
        if not wanted or _product_errors(t, lines[sub.pk], entries, multi_currency):
            continue
        renewal = rm.build_renewal(sub, when=current, lines=lines[sub.pk], stages=names,
                                   multi_currency=multi_currency)
        sync = own.get(renewal.ref) or RenewalSync(subscription=sub, ref=renewal.ref,
                                                   renewal_date=current)
        if (sync.sf_opportunity_id and sync.stage == RenewalSync.Stage.OPEN
                and sync.payload_hash == _digest(renewal, t)):
            continue  # Salesforce has it all
        if not sync.sf_opportunity_id and over_budget():
            t.deferred = True
            continue
        pushes.append(_Push(target=t, renewal=renewal, sync=sync,
                            lines=dict(sync.lines or {})))
    if not closings and not pushes:
        return
    try:
        book = products.standard_pricebook_id(run) if pushes else ""
    except SalesforceError as exc:
        for push in pushes:
            _fail(push.target, exc, "Standard price book")
        pushes = []
        book = ""
    _write_opportunities(run, closings=closings, pushes=pushes, pricebook_id=book)
    pushes = [p for p in pushes if not p.failed]
    _write_lines(run, pushes, entries=entries, multi_currency=multi_currency)
    _write_schedules(run, [p for p in pushes if not p.failed])
    for push in pushes:
        push.sync.lines = {ref: {"id": known["id"], "hash": known.get("hash", "")}
                           for ref, known in push.lines.items()}
        push.sync.stage = RenewalSync.Stage.OPEN
        push.sync.payload_hash = "" if push.failed else _digest(push.renewal, push.target)
        push.sync.last_synced_at = run.now
    # Two statements for the batch rather than one per renewal.
    new = [p.sync for p in pushes if p.sync.pk is None]
    known = [p.sync for p in pushes if p.sync.pk is not None]
    RenewalSync.objects.bulk_create(new, batch_size=500)
    RenewalSync.objects.bulk_update(
        known, ["lines", "stage", "payload_hash", "last_synced_at", "sf_opportunity_id"],
        batch_size=500)


def _write_opportunities(run: Run, *, closings, pushes: list[_Push], pricebook_id: str) -> None:
    closing = [(t, sync, outcome, record) for t, sync, outcome, record in closings
               if sync.sf_opportunity_id]
    for _, sync, outcome, _ in closings:
        if not sync.sf_opportunity_id:  # never reached Salesforce: nothing to close there
            RenewalSync.objects.filter(pk=sync.pk).update(stage=outcome)
    records = [record for _, _, _, record in closing]
    for push in pushes:
        t = push.target
        records.append({**push.renewal.opportunity, "AccountId": t.account_id,
                        "ContractId": t.contract_id, "Pricebook2Id": pricebook_id})
    refs = [r[rm.RENEWAL_EXTERNAL_ID] for r in records]
    results = record_writes.write(run, operation="upsert", sobject=rm.OPPORTUNITY,
                                  records=records, refs=refs,
                                  external_field=rm.RENEWAL_EXTERNAL_ID)
    for (t, sync, outcome, _), result in zip(closing, results[:len(closing)], strict=True):
        if result.success:
            RenewalSync.objects.filter(pk=sync.pk).update(stage=outcome,
                                                          last_synced_at=run.now)
        else:
            _fail(t, result.error, f"Closing opportunity {sync.ref}")
    for push, result in zip(pushes, results[len(closing):], strict=True):
        if result.success:
            push.sync.sf_opportunity_id = result.id or push.sync.sf_opportunity_id
            push.created = bool(result.created)
        else:
            push.failed = True
            _fail(push.target, result.error, f"Opportunity {push.renewal.ref}")


def _line_hash(line: rm.RenewalLine) -> str:
    return pm.digest([line.quantity, line.total, [(d.isoformat(), a) for d, a in line.schedule]])


def _write_lines(run: Run, pushes: list[_Push], *, entries: products.Entries,
                 multi_currency: bool) -> None:
    # An opportunity that existed but whose lines we do not all know (an answer was lost):
    # read its lines first, so that they are updated rather than created twice.
    unknown = [p for p in pushes if not p.created
               and any(line.ref not in p.lines for line in p.renewal.lines)]
    if unknown:
        try:
            rows = record_writes.query_in(
                run, sobject=rm.LINE, select=f"Id, OpportunityId, {rm.LINE_EXTERNAL_ID}",
                field="OpportunityId", values=[p.sync.sf_opportunity_id for p in unknown])
        except SalesforceError as exc:
            for push in unknown:
                push.failed = True
                _fail(push.target, exc, "Reading line items")
            rows = []
        for push in unknown:
            for row in rows:
                ref = row.get(rm.LINE_EXTERNAL_ID)
                if row.get("OpportunityId", "")[:15] == push.sync.sf_opportunity_id[:15] and ref:
                    push.lines.setdefault(ref, {"id": row["Id"], "hash": ""})
    records, refs, owners, removed = [], [], [], []
    for push in pushes:
        if push.failed:
            continue
        currency = push.renewal.currency
        wanted = {line.ref for line in push.renewal.lines}
        for ref, known in list(push.lines.items()):
            if ref not in wanted:
                removed.append((push, ref, known["id"]))
        for line in push.renewal.lines:
            known = push.lines.get(line.ref)
            if known and known.get("hash") == _line_hash(line):
                continue
            entry = entries.ids[(line.product_ref, currency if multi_currency else "")]
            record = (rm.line_record(line, currency=currency) if known else
                      rm.line_record(line, currency=currency,
                                     opportunity_id=push.sync.sf_opportunity_id, entry_id=entry))
            records.append(record)
            refs.append(line.ref)
            owners.append((push, line))
    results = record_writes.write(run, operation="upsert", sobject=rm.LINE, records=records,
                                  refs=refs, external_field=rm.LINE_EXTERNAL_ID)
    for (push, line), result in zip(owners, results, strict=True):
        if result.success:
            previous = push.lines.get(line.ref)
            push.lines[line.ref] = {"id": result.id or (previous or {}).get("id", ""),
                                    "hash": "", "new": bool(result.created)}
        else:
            push.failed = True
            _fail(push.target, result.error, f"Line item {line.ref}")
    deleted = record_writes.write(run, operation="delete", sobject=rm.LINE,
                                  records=[{"Id": line_id} for _, _, line_id in removed],
                                  refs=[line_id for _, _, line_id in removed])
    for (push, ref, _), result in zip(removed, deleted, strict=True):
        if result.success or (result.error and result.error.code == "ENTITY_IS_DELETED"):
            push.lines.pop(ref, None)
        else:
            push.failed = True
            _fail(push.target, result.error, f"Removing line item {ref}")


def _write_schedules(run: Run, pushes: list[_Push]) -> None:
    """Rewrite the schedule of every line upserted above (its hash is still empty)."""
    todo = [(push, line) for push in pushes for line in push.renewal.lines
            if push.lines.get(line.ref, {}).get("hash") == ""]
    if not todo:
        return
    # Lines created just now have no schedule yet; others may (earlier pushes, or a push
    # whose answer was lost): delete what Salesforce has before inserting.
    old = [push.lines[line.ref]["id"] for push, line in todo
           if not push.lines[line.ref].get("new")]
    stale: list[str] = []
    if old:
        try:
            stale = [row["Id"] for row in record_writes.query_in(
                run, sobject=rm.SCHEDULE, select="Id", field="OpportunityLineItemId",
                values=old)]
        except SalesforceError as exc:
            for push, _ in todo:
                push.failed = True
                _fail(push.target, exc, "Reading revenue schedules")
            return
    results = record_writes.write(run, operation="delete", sobject=rm.SCHEDULE,
                                  records=[{"Id": i} for i in stale], refs=stale)
    if any(not r.success for r in results):
        error = next(r.error for r in results if not r.success)
        for push, _ in todo:
            push.failed = True
            _fail(push.target, error, "Deleting old revenue schedules")
        return
    records, owners = [], []
    for push, line in todo:
        line_id = push.lines[line.ref]["id"]
        for record in rm.schedule_records(line, line_id=line_id, currency=push.renewal.currency):
            records.append(record)
            owners.append((push, line))
    refs = [f"{r['OpportunityLineItemId']}|{r['ScheduleDate']}" for r in records]
    results = record_writes.write(run, operation="insert", sobject=rm.SCHEDULE, records=records,
                                  refs=refs, match=("OpportunityLineItemId", "ScheduleDate"))
    bad: set[str] = set()
    for (push, line), result in zip(owners, results, strict=True):
        if not result.success:
            bad.add(line.ref)
            push.failed = True
            _fail(push.target, result.error, f"Revenue schedule of {line.ref}")
    for push, line in todo:
        if line.ref not in bad:
            push.lines[line.ref] = {"id": push.lines[line.ref]["id"], "hash": _line_hash(line)}


# windows -----------------------------------------------------------------------------------


def mark_opening_windows(*, today=None) -> int:
    """Make due the subscriptions whose renewal window has opened without any billing change
    (run nightly): their next push creates the renewal opportunity. Returns rows marked."""
    from billing.models import Subscription

    if not settings.SUBSYNC_SF_RENEWALS:
        return 0
    today = today or timezone.now().date()
    cutoff = datetime.combine(today + timedelta(days=settings.SUBSYNC_SF_RENEWAL_LEAD_DAYS + 1),
                              time.min, tzinfo=UTC)
    candidates = (Subscription.objects
                  .filter(status__in=settings.SUBSYNC_SYNC_STATUSES)
                  .exclude(status__in=rm.ENDED_STATUSES)
                  .exclude(contract_sync__sf_contract_id="")
                  .filter(contract_sync__isnull=False)
                  .annotate(renews=Coalesce(F("contract_term_end"), F("current_term_end")))
                  .filter(renews__lt=cutoff))
    pushed = set(RenewalSync.objects.filter(subscription__in=candidates)
                 .values_list("ref", flat=True))
    due = []
    for sub in candidates.only("id", "provider", "external_id", "contract_term_end",
                               "current_term_end").iterator():
        when = rm.renewal_date(sub)
        if when is not None and rm.renewal_ref(sub, when) not in pushed:
            due.append(sub.pk)
    return mark_subscriptions_dirty(subscription_ids=due) if due else 0
