"""Renewals (billing.selectors.renewals) and churn (billing.selectors.churn).

Rows are flat (scalars only), ready to be written as CSV: money as minor units, the same in
major units as a decimal string, and the currency.
"""

from __future__ import annotations

import datetime as dt

from rest_framework import serializers

from api.serializers.money import MoneyTotalSerializer, UtcDateTimeField, major


class WindowSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="this_quarter, next_quarter or range")
    start = serializers.DateField(help_text="First day (UTC), included.")
    last_day = serializers.DateField(help_text="Last day (UTC), included.")


class RenewalRowSerializer(serializers.Serializer):
    subscription_id = serializers.IntegerField()
    provider = serializers.CharField()
    external_id = serializers.CharField(help_text="The subscription's id at the provider.")
    customer_id = serializers.IntegerField()
    customer_name = serializers.CharField()
    plan_id = serializers.CharField()
    status = serializers.CharField()
    ending = serializers.BooleanField(help_text="Non-renewing: it ends at renewal_at.")
    past_due = serializers.BooleanField()
    renewal_at = UtcDateTimeField()
    renewal_date = serializers.DateField(help_text="The renewal day (UTC).")
    currency = serializers.CharField()
    mrr = serializers.IntegerField(help_text="Minor units of `currency`.")
    mrr_major = serializers.CharField(help_text="`mrr` in major units, a decimal string.")
    reporting_currency = serializers.CharField()
    mrr_converted = serializers.IntegerField(
        allow_null=True, help_text="Minor units of the reporting currency at today's rate; "
                                   "null when the currency has no rate.")
    mrr_converted_major = serializers.CharField(
        allow_null=True, help_text="`mrr_converted` in major units, a decimal string.")
    sf_contract_id = serializers.CharField(help_text="'' until the Contract exists.")

    # The fields above describe the JSON (and the schema); flat_renewal writes it, without a
    # field object per value: the flat list streams tens of thousands of rows.
    def to_representation(self, instance):
        return flat_renewal(instance, reporting_currency=self.context["reporting_currency"])


def flat_renewal(row, *, reporting_currency: str) -> dict:
    """A RenewalRow as RenewalRowSerializer describes it: scalars only, ready for CSV."""
    at = row.renewal_at.astimezone(dt.UTC)
    return {
        "subscription_id": row.subscription_id, "provider": row.provider,
        "external_id": row.external_id, "customer_id": row.customer_id,
        "customer_name": row.customer_name, "plan_id": row.plan_id, "status": row.status,
        "ending": row.ending, "past_due": row.past_due,
        "renewal_at": at.isoformat().replace("+00:00", "Z"),
        "renewal_date": at.date().isoformat(),
        "currency": row.currency, "mrr": row.mrr, "mrr_major": major(row.mrr, row.currency),
        "reporting_currency": reporting_currency, "mrr_converted": row.mrr_converted,
        "mrr_converted_major": major(row.mrr_converted, reporting_currency),
        "sf_contract_id": row.sf_contract_id,
    }


class CustomerRenewalsSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    customer_name = serializers.CharField()
    subtotal = MoneyTotalSerializer(help_text="The customer's MRR at stake in the window.")
    rows = RenewalRowSerializer(many=True)


class PageInfoSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    size = serializers.IntegerField()
    total = serializers.IntegerField(help_text="Items (here: customers) in all pages.")
    pages = serializers.IntegerField()


class RenewalReportSerializer(serializers.Serializer):
    window = WindowSerializer()
    customers = serializers.IntegerField()
    subscriptions = serializers.IntegerField()
    mrr_at_stake = MoneyTotalSerializer()
    rates_day = serializers.DateField()
    uncompared_currencies = serializers.ListField(
        child=serializers.CharField(),
        help_text="Currencies left out by min_mrr because they have no exchange rate.")
    page = PageInfoSerializer()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = CustomerRenewalsSerializer(many=True, help_text="A page of customers, biggest "
                                                              "MRR at stake first.")


class RenewalRowsSerializer(serializers.Serializer):
    window = WindowSerializer()
    reporting_currency = serializers.CharField()
    results = RenewalRowSerializer(many=True)


class WindowSummarySerializer(serializers.Serializer):
    window = WindowSerializer()
    subscriptions = serializers.IntegerField()
    customers = serializers.IntegerField()
    ending = serializers.IntegerField()
    past_due = serializers.IntegerField()
    mrr = MoneyTotalSerializer()


class RenewalsSummarySerializer(serializers.Serializer):
    this_quarter = WindowSummarySerializer()
    next_quarter = WindowSummarySerializer()


class MonthChurnSerializer(serializers.Serializer):
    month = serializers.DateField()
    subscriptions = serializers.IntegerField()
    customers = serializers.IntegerField()
    lost_mrr = MoneyTotalSerializer()
    contraction = MoneyTotalSerializer()


class ChurnGroupSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The reason, or the plan id.")
    subscriptions = serializers.IntegerField()
    lost_mrr = MoneyTotalSerializer()


class ChurnReportSerializer(serializers.Serializer):
    first_month = serializers.DateField(source="filters.first_month")
    last_month = serializers.DateField(source="filters.last_month")
    provider = serializers.CharField(source="filters.provider")
    months = MonthChurnSerializer(many=True)
    by_reason = ChurnGroupSerializer(many=True)
    by_plan = ChurnGroupSerializer(many=True)
    lost_mrr = MoneyTotalSerializer()
    contraction = MoneyTotalSerializer()
    subscriptions = serializers.IntegerField()
    warnings = serializers.ListField(child=serializers.CharField())


class ChurnRowSerializer(serializers.Serializer):
    change_id = serializers.IntegerField()
    occurred_at = UtcDateTimeField()
    status = serializers.CharField()
    subscription_id = serializers.IntegerField()
    provider = serializers.CharField()
    external_id = serializers.CharField()
    customer_id = serializers.IntegerField()
    customer_name = serializers.CharField()
    plan_id = serializers.CharField()
    reason = serializers.CharField()
    currency = serializers.CharField()
    lost_mrr = serializers.IntegerField(help_text="Minor units of `currency`.")
    lost_mrr_major = serializers.SerializerMethodField()

    def get_lost_mrr_major(self, row) -> str:
        return major(row.lost_mrr, row.currency)


class ChurnedPageSerializer(serializers.Serializer):
    page = PageInfoSerializer()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ChurnRowSerializer(many=True)
