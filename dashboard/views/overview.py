"""The overview: the KPIs and charts an ops person opens subsync for on Monday morning."""

from __future__ import annotations

from django.shortcuts import render

from billing.models import Subscription
from billing.selectors.overview_cache import cached_dashboard
from billing.selectors.renewals import renewals_summary
from crm.selectors import sync_summary
from dashboard.access import staff_required
from dashboard.charts import churn_rate_chart, movements_chart, mrr_chart
from dashboard.views.common import utc_today


@staff_required
def overview(request):
    today = utc_today()
    cached = cached_dashboard(today=today, months=12)
    figures = cached.figures
    currency = figures.overview.currency
    return render(request, "dashboard/overview.html", {
        "o": figures.overview, "figures": figures, "computed_at": cached.computed_at,
        "stale": cached.stale,
        "renewals": renewals_summary(today=today), "sync": sync_summary(),
        "mrr_chart": mrr_chart(figures.mrr_series, currency=currency),
        "movements_chart": movements_chart(figures.movements, currency=currency),
        "churn_chart": churn_rate_chart(figures.churn_rates),
        "any_subscriptions": Subscription.objects.exists(),
    })
