"""Celery tasks for the Salesforce push: thin wrappers over crm.services.flush.

`flush_salesforce` is enqueued (debounced) when a subscription changes; `sweep_salesforce`
runs every minute from beat and pushes whatever is due, failed rows whose backoff has
elapsed and rows a killed worker left behind included. Both only claim due rows, so any
number of them may run at once without pushing a row twice. `reconcile_salesforce` runs
nightly from beat: it compares Salesforce with billing and makes differences due (the flush
it requests pushes them); it also makes due the subscriptions whose renewal window opened
since (crm.services.renewal_opportunities, when SUBSYNC_SF_RENEWALS is on).
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from crm.services import flush, reconcile, renewal_opportunities, retention


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
    return {k: v for k, v in result.as_dict().items() if k != "samples"}
