"""Chart specifications built from selector results: plain data the page embeds as JSON and
static/js/dashboard.js draws with Chart.js. The same numbers are in a table under each chart.

Amounts are major units of the reporting currency (a chart axis needs one unit); a month whose
total could not be converted at all is a gap (None), never a zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from billing.selectors.fx import MoneyTotal
from dashboard.formatting import major_units

MOVEMENT_SERIES = (  # key, label, sign on the chart
    ("new", "New", 1), ("expansion", "Expansion", 1), ("reactivation", "Reactivation", 1),
    ("contraction", "Contraction", -1), ("churn", "Churn", -1),
)


def month_label(month: date) -> str:
    return f"{month:%b %Y}"


def amount(total: MoneyTotal, sign: int = 1) -> float | None:
    if total.amount is None:
        return None
    return float(major_units(sign * total.amount, total.currency))


def percent(value: Decimal | None) -> float | None:
    return None if value is None else float(round(value * 100, 2))


def mrr_chart(series: Sequence, *, currency: str) -> dict:
    return {
        "kind": "line", "currency": currency, "yLabel": f"MRR ({currency})",
        "labels": [month_label(point.month) for point in series],
        "datasets": [{"key": "mrr", "label": "MRR",
                      "data": [amount(point.mrr) for point in series]}],
    }


def movements_chart(movements: Sequence, *, currency: str) -> dict:
    datasets = [{"key": key, "label": label,
                 "data": [amount(getattr(month, key), sign) for month in movements]}
                for key, label, sign in MOVEMENT_SERIES]
    datasets.append({"key": "net", "label": "Net new MRR", "type": "line", "point": "rectRot",
                     "data": [amount(month.net_new) for month in movements]})
    return {
        "kind": "movements", "currency": currency, "yLabel": f"MRR movement ({currency})",
        "labels": [month_label(month.month) for month in movements], "datasets": datasets,
    }


def churn_rate_chart(churn_rates: Sequence) -> dict:
    return {
        "kind": "line", "percent": True, "yLabel": "Churn rate (% of the month's start)",
        "labels": [month_label(month.month) for month in churn_rates],
        "datasets": [
            {"key": "logo", "label": "Logo churn", "point": "circle",
             "data": [percent(month.logo_churn.value) for month in churn_rates]},
            {"key": "gross", "label": "Gross MRR churn", "point": "triangle",
             "data": [percent(month.gross_mrr_churn.value) for month in churn_rates]},
            {"key": "netchurn", "label": "Net MRR churn", "point": "rect",
             "data": [percent(month.net_mrr_churn.value) for month in churn_rates]},
        ],
    }


def churn_chart(report) -> dict:
    """Lost MRR (cancellations) and contraction per month, both drawn below zero."""
    currency = report.lost_mrr.currency
    return {
        "kind": "movements", "currency": currency, "yLabel": f"MRR lost ({currency})",
        "labels": [month_label(month.month) for month in report.months],
        "datasets": [
            {"key": "churn", "label": "Cancelled and expired",
             "data": [amount(month.lost_mrr, -1) for month in report.months]},
            {"key": "contraction", "label": "Contraction",
             "data": [amount(month.contraction, -1) for month in report.months]},
        ],
    }
