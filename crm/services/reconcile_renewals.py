"""Renewal line items edited in Salesforce: found at night, made due, rewritten by the push.

Quantities and prices belong to billing. The push only writes a renewal when billing changes
it (payload digests), so a sales rep's edit of a line item's Quantity or Total Price would
otherwise stay. After the Contract reconciliation (crm.tasks.reconcile_salesforce), every
line item carrying Subsync_Line_Id__c is read with SOQL (2,000 per call) and compared with
what billing says for the open renewals; a renewal whose lines differ (or are missing, or
one was added under our id) has its digests forgotten and its subscription made due, so the
next flush rewrites the lines and their schedules. Reported in the night's ReconcileRun
(`samples["renewals_drifted"]`, and `marked`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings

from crm import products_mapping as pm
from crm import renewals_mapping as rm
from crm.models import ReconcileRun, RenewalSync
from crm.salesforce.client import SalesforceClient
from crm.salesforce.errors import SalesforceError
from crm.services.attempts import record_call
from crm.services.org_schema import multi_currency_enabled
from crm.services.renewal_opportunities import stages
from crm.services.sync_state import mark_subscriptions_dirty

log = logging.getLogger(__name__)
SAMPLE_SIZE = 20
_TOLERANCE = 0.005  # currency fields have two decimals


@dataclass
class RenewalDrift:
    checked: int = 0
    drifted: list[dict] = field(default_factory=list)
    marked: int = 0


def _lines_in_salesforce(client: SalesforceClient) -> dict[str, dict[str, dict]]:
    soql = (f"SELECT Id, OpportunityId, {rm.LINE_EXTERNAL_ID}, Quantity, TotalPrice FROM "  # noqa: S608
            f"{rm.LINE} WHERE {rm.LINE_EXTERNAL_ID} != null")  # (constant names)
    rows = record_call(client=client, operation="query", sobject=rm.LINE,
                       call=lambda: client.query_all(soql))
    by_opportunity: dict[str, dict[str, dict]] = {}
    for row in rows:
        opportunity = str(row.get("OpportunityId") or "")[:15]
        by_opportunity.setdefault(opportunity, {})[row[rm.LINE_EXTERNAL_ID]] = row
    return by_opportunity


def _differences(expected: rm.Renewal, actual: dict[str, dict]) -> list[str]:
    found = []
    wanted = {line.ref: line for line in expected.lines}
    for ref, line in wanted.items():
        row = actual.get(ref)
        if row is None:
            found.append(f"{ref}: missing")
            continue
        total = rm.major(line.total, expected.currency)
        if float(row.get("Quantity") or 0) != float(line.quantity):
            found.append(f"{ref}: Quantity {row.get('Quantity')} instead of {line.quantity}")
        if abs(float(row.get("TotalPrice") or 0) - float(total)) > _TOLERANCE:
            found.append(f"{ref}: TotalPrice {row.get('TotalPrice')} instead of {total}")
    found += [f"{ref}: not in billing" for ref in actual if ref not in wanted]
    return found


def reconcile_renewals(*, client: SalesforceClient, dry_run: bool = False,
                       run_id: int | None = None) -> RenewalDrift | None:
    """Compare the open renewals' line items; None when renewals are off."""
    if not settings.SUBSYNC_SF_RENEWALS:
        return None
    from billing.models import SubscriptionItem

    result = RenewalDrift()
    syncs = list(RenewalSync.objects.filter(stage=RenewalSync.Stage.OPEN)
                 .exclude(sf_opportunity_id="").select_related("subscription__customer"))
    if not syncs:
        return result
    try:
        actual = _lines_in_salesforce(client)
    except SalesforceError as exc:
        log.warning("could not read renewal line items: %s", exc)
        return None
    multi_currency = multi_currency_enabled(client=client)
    items: dict[int, list] = {}
    for item in SubscriptionItem.objects.filter(
            subscription_id__in=[s.subscription_id for s in syncs]).order_by("id"):
        items.setdefault(item.subscription_id, []).append(item)
    names = stages()
    drifted: list[RenewalSync] = []
    for sync in syncs:
        sub = sync.subscription
        lines = pm.priced_lines(provider=sub.provider, items=items.get(sub.pk, []))
        expected = rm.build_renewal(sub, when=sync.renewal_date, lines=lines, stages=names,
                                    multi_currency=multi_currency)
        if expected.ref != sync.ref:
            continue  # the subscription moved on: the next push closes this one
        result.checked += 1
        found = _differences(expected, actual.get(sync.sf_opportunity_id[:15], {}))
        if found:
            drifted.append(sync)
            if len(result.drifted) < SAMPLE_SIZE:
                result.drifted.append({"renewal": sync.ref, "differences": found[:5]})
    if drifted and not dry_run:
        for sync in drifted:
            sync.payload_hash = ""
            sync.lines = {ref: {"id": known.get("id", ""), "hash": ""}
                          for ref, known in (sync.lines or {}).items()}
        RenewalSync.objects.bulk_update(drifted, ["payload_hash", "lines"], batch_size=500)
        result.marked = mark_subscriptions_dirty(
            subscription_ids=[s.subscription_id for s in drifted])
    if run_id is not None and not dry_run:
        run = ReconcileRun.objects.filter(pk=run_id).first()
        if run is not None:
            run.samples = {**(run.samples or {}), "renewals_drifted": result.drifted}
            run.marked += result.marked
            run.save(update_fields=["samples", "marked"])
    if drifted:
        log.info("renewal line items differ from billing",
                 extra={"drifted": len(drifted), "marked": result.marked})
    return result
