"""Reads of the Salesforce side, for the dashboard, the API and the push engine."""

from __future__ import annotations

from crm.models import ReconcileRun, SalesforceOrgState
from crm.salesforce.usage import ApiUsage


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


def latest_reconcile_run() -> ReconcileRun | None:
    """The newest stored reconciliation, or None if none has run yet."""
    return ReconcileRun.objects.order_by("-started_at").first()
