"""MRR movements: the ledger rows behind each bar of the overview's movement chart."""

from __future__ import annotations

from django.shortcuts import render

from billing.selectors.movements import KINDS, MovementFilters, list_movements
from dashboard.access import staff_required
from dashboard.views.common import PROVIDERS, filters_and_page, handles_bad_query, utc_today

TITLE = "MRR movements"


@staff_required
@handles_bad_query
def movement_list(request):
    today = utc_today()
    filters, page_request = filters_and_page(
        request, lambda query: MovementFilters.from_query(query, today=today), title=TITLE)
    result = list_movements(filters=filters, page=page_request)
    return render(request, "dashboard/movements.html", {
        "result": result, "filters": filters, "period": filters.period, "page": result.rows,
        "kinds": KINDS, "providers": PROVIDERS,
    })
