"""Renewals: who renews or leaves this quarter, next quarter or in a chosen range, top
customers first; and the same rows as CSV."""

from __future__ import annotations

import csv

from django.http import StreamingHttpResponse
from django.shortcuts import render

from billing.models import Subscription
from billing.selectors.fx import reporting_currency
from billing.selectors.renewals import (
    RENEWING_STATUSES,
    WINDOW_NEXT_QUARTER,
    WINDOW_RANGE,
    WINDOW_THIS_QUARTER,
    RenewalFilters,
    renewal_rows,
    renewals,
)
from dashboard.access import staff_required
from dashboard.formatting import major_units
from dashboard.views.common import (
    PROVIDERS,
    filters_and_page,
    handles_bad_query,
    parse_or_400,
    utc_today,
)

TITLE = "Renewals"
PERIODS = ((None, "any billing period"), (3, "quarterly and longer"),
           (12, "yearly and longer"))


@staff_required
@handles_bad_query
def renewal_report(request):
    today = utc_today()
    filters, page_request = filters_and_page(
        request, lambda query: RenewalFilters.from_query(query, today=today), title=TITLE,
        default_size=25)
    report = renewals(filters=filters, page=page_request, today=today)
    return render(request, "dashboard/renewals.html", {
        "report": report, "filters": filters, "page": report.groups,
        "windows": ((WINDOW_THIS_QUARTER, "This quarter"), (WINDOW_NEXT_QUARTER, "Next quarter"),
                    (WINDOW_RANGE, "Chosen range")),
        "providers": PROVIDERS,
        "statuses": RENEWING_STATUSES,
        "plans": _plans(), "currencies": _currencies(), "periods": PERIODS,
        "any_subscriptions": report.subscriptions or Subscription.objects.exists(),
    })


def _plans() -> list[str]:
    return list(Subscription.objects.exclude(plan_id="").order_by("plan_id")
                .values_list("plan_id", flat=True).distinct()[:500])


def _currencies() -> list[str]:
    return list(Subscription.objects.order_by("currency")
                .values_list("currency", flat=True).distinct())


CSV_COLUMNS = ("customer", "customer_id", "provider", "subscription_id", "plan", "status",
               "renewal_date", "currency", "mrr", "mrr_reporting_currency",
               "reporting_currency", "salesforce_contract_id")


class _Echo:
    def write(self, value):
        return value


@staff_required
@handles_bad_query
def renewal_csv(request):
    """Every row the page's filters match (all pages), in the page's order."""
    today = utc_today()
    filters = parse_or_400(request, lambda: RenewalFilters.from_query(request.GET, today=today),
                           title=TITLE)
    reporting = reporting_currency()
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(CSV_COLUMNS)
        for row in renewal_rows(filters=filters, today=today):
            yield writer.writerow((
                row.customer_name, row.customer_id, row.provider, row.external_id, row.plan_id,
                row.status, row.renewal_at.date().isoformat(), row.currency,
                major_units(row.mrr, row.currency),
                "" if row.mrr_converted is None else major_units(row.mrr_converted, reporting),
                reporting, row.sf_contract_id,
            ))

    window = filters.window
    name = f"renewals-{window.start.isoformat()}-to-{window.last_day.isoformat()}.csv"
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
