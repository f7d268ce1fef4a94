"""django-filter filter sets: the parameters the selectors do not already read.

The selectors' `from_query` stay the parsers of their own parameters (the dashboard reads the
same ones, so a filter means the same on both). django-filter adds what only the API offers,
narrowing the selector's queryset further: renewal and MRR ranges on subscriptions, and the
customer list, which has no dashboard page. Bad values are a 400 in the API's error shape.
"""

from __future__ import annotations

import datetime as dt
import operator
from functools import reduce

import django_filters
from django.db.models import Q

from billing.models import Customer, Subscription
from billing.normalized import Provider
from billing.selectors import fx
from billing.selectors.params import MAX_AMOUNT
from dashboard.views.common import utc_today
from subsync.money import to_minor_units

_SEARCHED = ("first_name", "last_name", "email", "company", "external_id")


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


class CustomerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", max_length=200,
                                  help_text="Every word must match the name, email, company "
                                            "or the provider's customer id.")
    provider = django_filters.ChoiceFilter(choices=[(p.value, p.value) for p in Provider])
    email = django_filters.CharFilter(field_name="email", lookup_expr="iexact",
                                      help_text="Exact email, any case.")

    class Meta:
        model = Customer
        fields: list[str] = []

    def search(self, queryset, name, value):
        words = value.split()[:8]
        for word in words:
            queryset = queryset.filter(reduce(operator.or_, (
                Q(**{f"{field}__icontains": word}) for field in _SEARCHED)))
        return queryset


class SubscriptionRangeFilter(django_filters.FilterSet):
    """Renewal date and MRR ranges over billing.selectors.subscriptions.subscription_rows.

    The MRR bounds mean what the renewals report's `min_mrr` means: major units of the
    reporting currency, compared with each subscription's MRR converted at today's rate; a
    subscription whose currency has no rate is left out while a bound is set.
    """

    renewal_from = django_filters.DateFilter(
        method="renewal_range", help_text="Renewing on or after this day (UTC, YYYY-MM-DD).")
    renewal_to = django_filters.DateFilter(
        method="renewal_range", help_text="Renewing on or before this day (UTC, YYYY-MM-DD).")
    min_mrr = django_filters.NumberFilter(
        method="mrr_range", min_value=0, max_value=MAX_AMOUNT,
        help_text="MRR at least this, in major units of the reporting currency.")
    max_mrr = django_filters.NumberFilter(
        method="mrr_range", min_value=0, max_value=MAX_AMOUNT,
        help_text="MRR at most this, in major units of the reporting currency.")

    class Meta:
        model = Subscription
        fields: list[str] = []

    def renewal_range(self, queryset, name, value):
        if name == "renewal_from":
            return queryset.filter(renewal_at__gte=_midnight(value))
        return queryset.filter(renewal_at__lt=_midnight(value + dt.timedelta(days=1)))

    def mrr_range(self, queryset, name, value):
        reporting = fx.reporting_currency()
        rates = fx.rates_on(day=utc_today())
        bound = to_minor_units(value, currency=reporting)
        queryset = queryset.alias(mrr_in_reporting=fx.converted_expression("mrr", rates=rates))
        lookup = "gte" if name == "min_mrr" else "lte"
        return queryset.filter(**{f"mrr_in_reporting__{lookup}": bound})
