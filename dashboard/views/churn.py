"""Churn: what left, by month, reason and plan, with contraction beside it."""

from __future__ import annotations

from django.shortcuts import render

from billing.selectors.churn import ChurnFilters, churn_report, churned_subscriptions
from billing.selectors.params import Reader
from dashboard.access import staff_required
from dashboard.charts import churn_chart
from dashboard.views.common import (
    PROVIDERS,
    filters_and_page,
    handles_bad_query,
    parse_or_400,
    utc_today,
)

TITLE = "Churn"


def _narrowing(query) -> tuple[str, str]:
    reader = Reader(query)
    reason, plan = reader.text("reason"), reader.text("plan")
    reader.done()
    return reason, plan


@staff_required
@handles_bad_query
def churn_page(request):
    today = utc_today()
    filters, page_request = filters_and_page(
        request, lambda query: ChurnFilters.from_query(query, today=today), title=TITLE)
    reason, plan = parse_or_400(request, lambda: _narrowing(request.GET), title=TITLE)
    report = churn_report(filters=filters)
    rows = churned_subscriptions(filters=filters, page=page_request, reason=reason, plan=plan,
                                 report=report)
    return render(request, "dashboard/churn.html", {
        "report": report, "filters": filters, "page": rows, "reason": reason, "plan": plan,
        "providers": PROVIDERS,
        "chart": churn_chart(report),
    })


