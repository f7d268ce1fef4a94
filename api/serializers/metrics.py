"""billing.selectors.metrics results: KPIs, MRR series, movements, churn rates, NRR."""

from __future__ import annotations

from rest_framework import serializers

from api.serializers.money import MoneyTotalSerializer, UtcDateTimeField


class RateSerializer(serializers.Serializer):
    numerator = serializers.IntegerField(allow_null=True)
    denominator = serializers.IntegerField(allow_null=True)
    value = serializers.DecimalField(
        max_digits=30, decimal_places=6, allow_null=True,
        help_text="A fraction (0.035 = 3.5 %); null when the denominator is 0.")
    percent = serializers.DecimalField(max_digits=30, decimal_places=4, allow_null=True)
    currency = serializers.CharField(help_text="Money rates: the currency of numerator and "
                                               "denominator (minor units); '' for counts.")
    missing_rates = serializers.ListField(child=serializers.CharField())


class MoneyKpiSerializer(serializers.Serializer):
    value = MoneyTotalSerializer()
    previous = MoneyTotalSerializer()
    previous_period = serializers.CharField()
    change = serializers.IntegerField(allow_null=True, help_text="Minor units.")


class CountKpiSerializer(serializers.Serializer):
    value = serializers.IntegerField()
    previous = serializers.IntegerField()
    previous_period = serializers.CharField()
    change = serializers.IntegerField()


class RateKpiSerializer(serializers.Serializer):
    value = RateSerializer()
    previous = RateSerializer()
    previous_period = serializers.CharField()
    change = serializers.DecimalField(max_digits=30, decimal_places=6, allow_null=True,
                                      help_text="Difference of the fractions (0.01 = 1 point).")


class MovementCountsSerializer(serializers.Serializer):
    new = serializers.IntegerField()
    expansion = serializers.IntegerField()
    contraction = serializers.IntegerField()
    churn = serializers.IntegerField()
    reactivation = serializers.IntegerField()


class MonthMovementsSerializer(serializers.Serializer):
    month = serializers.DateField(help_text="The month's first day.")
    until = serializers.DateField(help_text="The last day counted.")
    complete = serializers.BooleanField()
    new = MoneyTotalSerializer()
    expansion = MoneyTotalSerializer()
    contraction = MoneyTotalSerializer()
    churn = MoneyTotalSerializer()
    reactivation = MoneyTotalSerializer()
    net_new = MoneyTotalSerializer()
    counts = MovementCountsSerializer()
    missing_rates = serializers.ListField(child=serializers.CharField())


class MonthPointSerializer(serializers.Serializer):
    month = serializers.DateField()
    at = serializers.DateField(help_text="The day the values are taken at.")
    mrr = MoneyTotalSerializer()
    paying_customers = serializers.IntegerField()
    active_subscriptions = serializers.IntegerField()
    missing_rates = serializers.ListField(child=serializers.CharField())


class MonthChurnRatesSerializer(serializers.Serializer):
    month = serializers.DateField()
    until = serializers.DateField()
    complete = serializers.BooleanField()
    paying_customers_at_start = serializers.IntegerField()
    churned_customers = serializers.IntegerField()
    mrr_at_start = MoneyTotalSerializer()
    lost_mrr = MoneyTotalSerializer()
    net_lost_mrr = MoneyTotalSerializer()
    logo_churn = RateSerializer()
    gross_mrr_churn = RateSerializer()
    net_mrr_churn = RateSerializer()
    missing_rates = serializers.ListField(child=serializers.CharField())


class NrrSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    months = serializers.IntegerField()
    customers = serializers.IntegerField()
    mrr_then = MoneyTotalSerializer()
    mrr_now = MoneyTotalSerializer()
    rate = RateSerializer()


class OverviewSerializer(serializers.Serializer):
    today = serializers.DateField()
    currency = serializers.CharField()
    mrr = MoneyKpiSerializer()
    arr = MoneyKpiSerializer()
    active_subscriptions = CountKpiSerializer()
    paying_customers = CountKpiSerializer()
    net_new_mrr = MoneyKpiSerializer()
    this_month = MonthMovementsSerializer()
    logo_churn = RateKpiSerializer()
    gross_mrr_churn = RateKpiSerializer()
    net_mrr_churn = RateKpiSerializer()
    nrr = RateKpiSerializer()
    net_revenue_retention = NrrSerializer()
    missing_rates = serializers.ListField(child=serializers.CharField())
    warnings = serializers.ListField(child=serializers.CharField())


class SummarySerializer(OverviewSerializer):
    computed_at = UtcDateTimeField(help_text="When these figures were computed (they are "
                                             "cached like the Overview page's).")
    stale = serializers.BooleanField(help_text="True when the ledger or the rates changed "
                                               "since computed_at and newer figures are being "
                                               "computed (these are at most a minute old).")


class SeriesSerializer(serializers.Serializer):
    """A list of months with the currencies some month had no rate for."""

    currency = serializers.CharField()
    months = serializers.IntegerField()
    missing_rates = serializers.ListField(child=serializers.CharField())


class MrrSeriesSerializer(SeriesSerializer):
    results = MonthPointSerializer(many=True)


class MovementsSerializer(SeriesSerializer):
    results = MonthMovementsSerializer(many=True)


class ChurnRatesSerializer(SeriesSerializer):
    results = MonthChurnRatesSerializer(many=True)
