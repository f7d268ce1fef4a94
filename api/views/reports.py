"""Renewals, metrics and churn: the figures of the dashboard's Overview, Renewals and Churn
pages, from the same selectors with the same parameters."""

from __future__ import annotations

import json

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from api.pagination import PAGE_PARAMETERS, paged
from api.schema import READ_ERRORS
from api.serializers.metrics import (
    ChurnRatesSerializer,
    MovementsSerializer,
    MrrSeriesSerializer,
    NrrSerializer,
    OverviewSerializer,
    SummarySerializer,
)
from api.serializers.money import UtcDateTimeField
from api.serializers.reports import (
    ChurnedPageSerializer,
    ChurnReportSerializer,
    RenewalReportSerializer,
    RenewalRowsSerializer,
    RenewalsSummarySerializer,
    WindowSerializer,
    flat_renewal,
)
from api.views.common import (
    MONTHS_PARAMETER,
    PROVIDER_PARAMETER,
    date_parameter,
    int_parameter,
    read_months,
    text_parameter,
    utc_today,
)
from billing.selectors import metrics
from billing.selectors.churn import ChurnFilters, churn_report, churned_subscriptions
from billing.selectors.fx import reporting_currency
from billing.selectors.overview_cache import cached_dashboard
from billing.selectors.params import MAX_AMOUNT, PageRequest, Reader
from billing.selectors.renewals import (
    RENEWING_STATUSES,
    WINDOW_NEXT_QUARTER,
    WINDOW_RANGE,
    WINDOW_THIS_QUARTER,
    RenewalFilters,
    renewal_rows,
    renewals,
    renewals_summary,
)

RENEWAL_PARAMETERS = [
    text_parameter("window", "this_quarter (default), next_quarter, or range (with from and "
                             "to).", enum=[WINDOW_THIS_QUARTER, WINDOW_NEXT_QUARTER,
                                           WINDOW_RANGE]),
    date_parameter("from", "First renewal day of a range (UTC, included)."),
    date_parameter("to", "Last renewal day of a range (UTC, included)."),
    PROVIDER_PARAMETER,
    text_parameter("plan", "Plan id, exactly."),
    OpenApiParameter("currency", {"type": "string", "pattern": "^([A-Za-z]{3})?$"},
                     description="ISO currency code of the subscriptions."),
    OpenApiParameter("status", OpenApiTypes.STR, many=True, explode=True,
                     enum=list(RENEWING_STATUSES),
                     description="Statuses to keep (repeat, or comma-separated); default all."),
    OpenApiParameter("min_mrr", {"type": "number", "minimum": 0, "maximum": int(MAX_AMOUNT)},
                     description="MRR at least this, in major units of the reporting currency "
                                 "at today's rates (\"over $1k\": 1000)."),
    int_parameter("min_period_months", "Billed every this many months or longer (12: yearly).",
                  minimum=1, maximum=1200),
]


def _window(window) -> dict:
    return WindowSerializer(window).data


class RenewalReport(APIView):
    @extend_schema(tags=["renewals"], parameters=[*RENEWAL_PARAMETERS, *PAGE_PARAMETERS],
                   responses={200: RenewalReportSerializer, **READ_ERRORS})
    def get(self, request):
        """Renewals due in the window, grouped by customer like the dashboard's report: a
        page of customers (`page`, `page_size`, default 25), biggest MRR at stake first, each
        with all its rows; totals cover every page."""
        today = utc_today()
        filters = RenewalFilters.from_query(request.query_params, today=today)
        page_request = PageRequest.from_query(request.query_params, default_size=25)
        report = renewals(filters=filters, page=page_request, today=today)
        page = report.groups
        context = {"reporting_currency": report.mrr_at_stake.currency}
        data = RenewalReportSerializer({
            "window": filters.window, "customers": report.customers,
            "subscriptions": report.subscriptions, "mrr_at_stake": report.mrr_at_stake,
            "rates_day": report.rates_day,
            "uncompared_currencies": list(report.uncompared_currencies),
            **paged(request, page),
        }, context=context).data
        return Response(data)


class RenewalRows(APIView):
    @extend_schema(tags=["renewals"], parameters=RENEWAL_PARAMETERS,
                   responses={200: RenewalRowsSerializer, **READ_ERRORS})
    def get(self, request):
        """Every renewal the filters match, flat and CSV-ready (scalars only), in the grouped
        report's order; the same rows as the dashboard's CSV export. Not paged: the window
        bounds it (at most about three years), and the rows are streamed."""
        today = utc_today()
        filters = RenewalFilters.from_query(request.query_params, today=today)
        currency = reporting_currency()
        head = json.dumps({"window": _window(filters.window), "reporting_currency": currency})

        def chunks():
            yield head[:-1] + ', "results": ['
            for index, row in enumerate(renewal_rows(filters=filters, today=today)):
                item = json.dumps(flat_renewal(row, reporting_currency=currency))
                yield ("," if index else "") + item
            yield "]}"

        return StreamingHttpResponse(chunks(), content_type="application/json")


class RenewalsSummary(APIView):
    @extend_schema(tags=["renewals"], responses={200: RenewalsSummarySerializer, **READ_ERRORS})
    def get(self, request):
        """Counts and MRR renewing this quarter and next (the overview's renewal tiles)."""
        summary = renewals_summary(today=utc_today())
        return Response(RenewalsSummarySerializer(summary).data)


class MetricsSummary(APIView):
    @extend_schema(tags=["metrics"], responses={200: SummarySerializer, **READ_ERRORS})
    def get(self, request):
        """The KPI tiles: MRR, ARR, active subscriptions, paying customers, net new MRR,
        churn rates and NRR, each with its previous period (docs/metrics.md). The Overview
        page's own figures, from the same cache: `computed_at` says when they were computed;
        `stale` is true when the ledger or the rates changed since and newer figures are being
        computed (they are then at most a minute old)."""
        cached = cached_dashboard(today=utc_today(), months=12)
        data = OverviewSerializer(cached.figures.overview).data
        data["computed_at"] = UtcDateTimeField().to_representation(cached.computed_at)
        data["stale"] = cached.stale
        return Response(data)


def _series(results) -> dict:
    missing = sorted({code for item in results for code in item.missing_rates})
    return {"currency": reporting_currency(), "months": len(results),
            "missing_rates": missing, "results": results}


class MrrSeries(APIView):
    @extend_schema(tags=["metrics"], parameters=[MONTHS_PARAMETER],
                   responses={200: MrrSeriesSerializer, **READ_ERRORS})
    def get(self, request):
        """MRR, paying customers and active subscriptions at the end of each month, oldest
        first; the current month at the end of today."""
        months = read_months(request.query_params)
        series = metrics.mrr_series(months=months, today=utc_today())
        return Response(MrrSeriesSerializer(_series(series)).data)


class Movements(APIView):
    @extend_schema(tags=["metrics"], parameters=[MONTHS_PARAMETER],
                   responses={200: MovementsSerializer, **READ_ERRORS})
    def get(self, request):
        """New, expansion, contraction, churn and reactivation MRR by month, and net new."""
        months = read_months(request.query_params)
        rows = metrics.movements_by_month(months=months, today=utc_today())
        return Response(MovementsSerializer(_series(rows)).data)


class ChurnRates(APIView):
    @extend_schema(tags=["metrics"], parameters=[MONTHS_PARAMETER],
                   responses={200: ChurnRatesSerializer, **READ_ERRORS})
    def get(self, request):
        """Logo, gross MRR and net MRR churn rates by month."""
        months = read_months(request.query_params)
        rows = metrics.churn_rates_by_month(months=months, today=utc_today())
        return Response(ChurnRatesSerializer(_series(rows)).data)


class NetRevenueRetention(APIView):
    @extend_schema(tags=["metrics"], parameters=[MONTHS_PARAMETER],
                   responses={200: NrrSerializer, **READ_ERRORS})
    def get(self, request):
        """Net revenue retention over the last `months` months, at today's rates."""
        months = read_months(request.query_params)
        return Response(NrrSerializer(metrics.nrr(today=utc_today(), months=months)).data)


MONTH = {"type": "string", "pattern": "^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"}
CHURN_PARAMETERS = [
    OpenApiParameter("from", MONTH, description="First month, YYYY-MM (default: 11 months "
                                                "before `to`)."),
    OpenApiParameter("to", MONTH, description="Last month, YYYY-MM (default: this month); at "
                                              "most 60 months in all."),
    PROVIDER_PARAMETER,
]


class Churn(APIView):
    @extend_schema(tags=["metrics"], parameters=CHURN_PARAMETERS,
                   responses={200: ChurnReportSerializer, **READ_ERRORS})
    def get(self, request):
        """Churn by month, by reason and by plan, with contraction beside it (the Churn
        page), converted at each day's rate."""
        filters = ChurnFilters.from_query(request.query_params, today=utc_today())
        return Response(ChurnReportSerializer(churn_report(filters=filters)).data)


class ChurnedSubscriptions(APIView):
    @extend_schema(tags=["metrics"], parameters=[
        *CHURN_PARAMETERS,
        text_parameter("reason", "One reason of the report (`no reason given` for blank)."),
        text_parameter("plan", "One plan id of the report."),
        *PAGE_PARAMETERS,
    ], responses={200: ChurnedPageSerializer, **READ_ERRORS})
    def get(self, request):
        """The churned subscriptions behind the churn figures, newest first."""
        filters = ChurnFilters.from_query(request.query_params, today=utc_today())
        page_request = PageRequest.from_query(request.query_params)
        reader = Reader(request.query_params)
        reason, plan = reader.text("reason"), reader.text("plan")
        reader.done()
        page = churned_subscriptions(filters=filters, page=page_request, reason=reason,
                                     plan=plan)
        return Response(ChurnedPageSerializer(paged(request, page)).data)
