"""Subscriptions: search, one subscription with its timeline, and "push to Salesforce now"."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from billing.models import Subscription
from billing.normalized import Status
from billing.selectors.subscriptions import (
    ORDERINGS,
    SubscriptionFilters,
    search_subscriptions,
    subscription_detail,
)
from crm.services.actions import push_now
from dashboard.access import CHANGE_SYNC, action, staff_required
from dashboard.views.common import PROVIDERS, filters_and_page, handles_bad_query

TITLE = "Subscriptions"


@staff_required
@handles_bad_query
def subscription_list(request):
    filters, page_request = filters_and_page(request, SubscriptionFilters.from_query,
                                             title=TITLE)
    page = search_subscriptions(filters=filters, page=page_request)
    return render(request, "dashboard/subscriptions.html", {
        "filters": filters, "page": page, "orderings": ORDERINGS,
        "providers": PROVIDERS, "statuses": [s.value for s in Status],
        "any_subscriptions": page.total or Subscription.objects.exists(),
    })


@staff_required
def subscription_page(request, pk: int):
    detail = subscription_detail(pk=pk)
    if detail is None:
        raise Http404("No such subscription.")
    return render(request, "dashboard/subscription_detail.html", {
        "detail": detail, "sub": detail.subscription, "sync": detail.contract_sync,
        "can_push": request.user.has_perm(CHANGE_SYNC),
    })


@action(CHANGE_SYNC)
def push(request, pk: int):
    subscription = get_object_or_404(Subscription, pk=pk)
    result = push_now(subscription=subscription, user=request.user)
    (messages.success if result.changed else messages.info)(request, result.message)
    return redirect("dashboard:subscription", pk=pk)
