"""Celery tasks for the Salesforce push: thin wrappers over crm.services.flush.

`flush_salesforce` is enqueued (debounced) when a subscription changes; `sweep_salesforce`
runs every minute from beat and pushes whatever is due, failed rows whose backoff has
elapsed and rows a killed worker left behind included. Both only claim due rows, so any
number of them may run at once without pushing a row twice. `reconcile_salesforce` runs
nightly from beat: it compares Salesforce with billing and makes differences due (the flush
it requests pushes them); it also makes due the subscriptions whose renewal window opened
since, and compares renewal line items with billing (crm.services.renewal_opportunities and
reconcile_renewals, when SUBSYNC_SF_RENEWALS is on).
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.utils import timezone

from crm.salesforce.factory import get_client
from crm.services import (
    claims,
    flush,
    reconcile,
    reconcile_renewals,
    renewal_opportunities,
    retention,
)
from subsync import worker_identity


def _run() -> dict | None:
    report = flush.flush_due()
    return report.as_dict() if report is not None else None


@shared_task(name="crm.tasks.prune_sync_attempts", acks_late=True, ignore_result=True)
def prune_sync_attempts() -> int | None:
    """Delete Salesforce call records older than SUBSYNC_SYNC_ATTEMPT_RETENTION_DAYS (0: keep)."""
    days = settings.SUBSYNC_SYNC_ATTEMPT_RETENTION_DAYS
    if not days:
        return None
    return retention.prune_attempts(cutoff=timezone.now() - timedelta(days=days))


@worker_ready.connect
def release_rows_of_a_dead_worker(**kwargs) -> None:
    """A worker starting under the name of one that died frees its Salesforce rows at once."""
    worker_identity.release_earlier_claims(claims.release_held_before,
                                           what="Salesforce sync rows")


@shared_task(name="crm.tasks.flush_salesforce", acks_late=True, ignore_result=True)
def flush_salesforce() -> dict | None:
    return _run()


@shared_task(name="crm.tasks.sweep_salesforce", acks_late=True, ignore_result=True)
def sweep_salesforce() -> dict | None:
    return _run()


@shared_task(name="crm.tasks.reconcile_salesforce", acks_late=True, ignore_result=True)
def reconcile_salesforce() -> dict | None:
    renewal_opportunities.mark_opening_windows()
    result = reconcile.reconcile()
    if result is None:
        return None
    renewals = reconcile_renewals.reconcile_renewals(client=get_client(), run_id=result.run_id)
    summary = {k: v for k, v in result.as_dict().items() if k != "samples"}
    if renewals is not None:
        summary["renewals_drifted"] = len(renewals.drifted)
    return summary
