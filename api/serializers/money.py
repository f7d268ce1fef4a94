"""Money in the API: integer minor units, the ISO currency, and the same amount in major units
as a decimal string ("1234.50"), so that nothing is lost to floating point and a CSV or a
spreadsheet can take `major` as it is."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from subsync.money import currency_exponent


def major(amount: int | None, currency: str) -> str | None:
    """e.g. (123450, "USD") -> "1234.50"; (1000, "JPY") -> "1000"; None -> None."""
    if amount is None:
        return None
    places = currency_exponent(currency)
    return str(Decimal(amount).scaleb(-places).quantize(Decimal(1).scaleb(-places)))


def money(amount: int | None, currency: str) -> dict:
    return {"amount": amount, "currency": currency, "major": major(amount, currency)}


class UtcDateTimeField(serializers.DateTimeField):
    """Times are UTC in the API whatever zone the dashboard's viewer chose."""

    def __init__(self, **kwargs):
        super().__init__(default_timezone=dt.UTC, **kwargs)

    def enforce_timezone(self, value):
        return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)


class MoneySerializer(serializers.Serializer):
    amount = serializers.IntegerField(allow_null=True, help_text="Minor units (cents).")
    currency = serializers.CharField(help_text="ISO 4217 code.")
    major = serializers.CharField(allow_null=True,
                                  help_text="The amount in major units, as a decimal string.")


@extend_schema_field(MoneySerializer)
class MoneyField(serializers.Field):
    """An amount and a currency read from two attributes of the object (`source="*"`)."""

    def __init__(self, *, amount: str, currency: str = "currency", **kwargs):
        self.amount_attr, self.currency_attr = amount, currency
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value):
        return money(_read(value, self.amount_attr), _read(value, self.currency_attr))


def _read(value, name: str):
    return value[name] if isinstance(value, dict) else getattr(value, name)


class CurrencyPartSerializer(serializers.Serializer):
    currency = serializers.CharField()
    amount = serializers.IntegerField(help_text="Minor units of `currency`.")
    major = serializers.CharField()
    converted = serializers.IntegerField(
        allow_null=True, help_text="Minor units of the reporting currency; null: no rate.")
    converted_major = serializers.CharField(allow_null=True)


class MoneyTotalSerializer(serializers.Serializer):
    """billing.selectors.fx.MoneyTotal: a total over several currencies, converted into the
    reporting currency, with each currency's part and the currencies that had no rate."""

    amount = serializers.IntegerField(
        allow_null=True,
        help_text="Minor units of the reporting currency: the sum of every converted part. "
                  "Partial when missing_rates is not empty; null when nothing could be "
                  "converted.")
    currency = serializers.CharField(help_text="The reporting currency.")
    major = serializers.SerializerMethodField()
    basis = serializers.CharField(help_text="Which rates converted it.")
    complete = serializers.BooleanField(help_text="False when a currency had no rate.")
    missing_rates = serializers.ListField(child=serializers.CharField())
    warning = serializers.CharField(help_text="What to show when a rate is missing, else ''.")
    breakdown = serializers.SerializerMethodField()

    def get_major(self, total) -> str | None:
        return major(total.amount, total.currency)

    @extend_schema_field(CurrencyPartSerializer(many=True))
    def get_breakdown(self, total) -> list[dict]:
        return [{"currency": code, "amount": amount, "major": major(amount, code),
                 "converted": total.converted.get(code),
                 "converted_major": major(total.converted.get(code), total.currency)}
                for code, amount in total.breakdown.items()]
