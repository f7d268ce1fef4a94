"""Sync health: is Salesforce in step with billing, what failed and why, and the buttons an
admin uses once the cause is fixed (retry one or all, park, unpark)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from billing.selectors.configuration import webhook_configuration
from billing.selectors.events import EventFilters, event_counts_by_status
from crm.models import ContractSync
from crm.selectors import (
    api_usage,
    latest_reconcile_run,
    read_failures_query,
    recent_attempts,
    sync_failures,
    sync_summary,
)
from crm.services import actions
from dashboard.access import CHANGE_SYNC, action, staff_required
from dashboard.views.common import handles_bad_query, parse_or_400

FAILURE_FILTERS = (("", "failed and parked"), ("failed", "failed"), ("parked", "parked"),
                   ("retrying", "retrying"))


@staff_required
@handles_bad_query
def sync_health(request):
    state, page = parse_or_400(request, lambda: read_failures_query(request.GET),
                               title="Sync health")
    return render(request, "dashboard/sync.html", {
        "summary": sync_summary(), "usage": api_usage(), "run": latest_reconcile_run(),
        "failures": sync_failures(page=page, state_filter=state), "state": state,
        "failure_filters": FAILURE_FILTERS,
        "attempts": recent_attempts(limit=20),
        "events": event_counts_by_status(filters=EventFilters()),
        "webhooks": webhook_configuration(),
        "can_act": request.user.has_perm(CHANGE_SYNC),
    })


def _back(request):
    """Back to the page the button was on (the filtered failure list), else sync health."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect("dashboard:sync")


def _report(request, result: actions.ActionResult):
    (messages.success if result.changed else messages.info)(request, result.message)
    return _back(request)


@action(CHANGE_SYNC)
def retry(request, pk: int):
    sync = get_object_or_404(ContractSync, pk=pk)
    return _report(request, actions.retry_sync(sync=sync, user=request.user))


@action(CHANGE_SYNC)
def retry_failed(request):
    return _report(request, actions.retry_all_failed(user=request.user))


@action(CHANGE_SYNC)
def park(request, pk: int):
    sync = get_object_or_404(ContractSync, pk=pk)
    reason = request.POST.get("reason", "")[:500]
    return _report(request, actions.park(sync=sync, user=request.user, reason=reason))


@action(CHANGE_SYNC)
def unpark(request, pk: int):
    sync = get_object_or_404(ContractSync, pk=pk)
    return _report(request, actions.unpark(sync=sync, user=request.user))
