"""Customers, subscriptions (with the timeline) and webhook events."""

from __future__ import annotations

from rest_framework import serializers

from api.serializers.money import MoneyField, UtcDateTimeField


class CustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    provider = serializers.CharField()
    external_id = serializers.CharField()
    name = serializers.CharField(source="display_name",
                                 help_text="Company, else full name, else email, else id.")
    company = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    email = serializers.CharField()
    first_paid_at = UtcDateTimeField(allow_null=True)
    created_at = UtcDateTimeField()
    updated_at = UtcDateTimeField()


class SubscriptionRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    provider = serializers.CharField()
    external_id = serializers.CharField()
    status = serializers.CharField()
    plan_id = serializers.CharField()
    mrr = MoneyField(amount="mrr")
    renewal_at = UtcDateTimeField(allow_null=True)
    updated_at = UtcDateTimeField()
    customer_id = serializers.IntegerField()
    customer_name = serializers.CharField()
    customer_email = serializers.CharField()


class CustomerDetailSerializer(CustomerSerializer):
    subscriptions = SubscriptionRowSerializer(many=True)


class ItemSerializer(serializers.Serializer):
    kind = serializers.CharField()
    item_id = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_amount = serializers.IntegerField(help_text="Minor units per unit per period.")
    amount = serializers.IntegerField(help_text="Minor units per period.")
    recurring = serializers.BooleanField()


class ContractSyncSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    sf_account_id = serializers.CharField()
    sf_contract_id = serializers.CharField()
    sf_contract_status = serializers.CharField()
    version = serializers.IntegerField()
    synced_version = serializers.IntegerField()
    attempts = serializers.IntegerField()
    last_error_code = serializers.CharField()
    last_error = serializers.CharField()
    next_attempt_at = UtcDateTimeField(allow_null=True)
    last_synced_at = UtcDateTimeField(allow_null=True)


class TimelineEntrySerializer(serializers.Serializer):
    when = UtcDateTimeField()
    kind = serializers.ChoiceField(choices=["change", "event", "sync"])
    title = serializers.CharField()
    detail = serializers.CharField()
    status = serializers.CharField()
    event_id = serializers.IntegerField(allow_null=True)
    change_id = serializers.IntegerField(allow_null=True)
    attempt_id = serializers.IntegerField(allow_null=True)


class SubscriptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    provider = serializers.CharField()
    external_id = serializers.CharField()
    status = serializers.CharField()
    provider_status = serializers.CharField()
    plan_id = serializers.CharField()
    price_id = serializers.CharField()
    mrr = MoneyField(amount="mrr")
    billing_period = serializers.IntegerField()
    billing_period_unit = serializers.CharField()
    started_at = UtcDateTimeField(allow_null=True)
    trial_end = UtcDateTimeField(allow_null=True)
    current_term_start = UtcDateTimeField(allow_null=True)
    current_term_end = UtcDateTimeField(allow_null=True)
    contract_term_start = UtcDateTimeField(allow_null=True)
    contract_term_end = UtcDateTimeField(allow_null=True)
    next_renewal_at = UtcDateTimeField(allow_null=True)
    cancelled_at = UtcDateTimeField(allow_null=True)
    cancel_reason = serializers.CharField()
    deleted_at = UtcDateTimeField(allow_null=True)
    created_at = UtcDateTimeField()
    updated_at = UtcDateTimeField()
    customer = CustomerSerializer()
    items = ItemSerializer(many=True, source="items.all")


class SubscriptionDetailSerializer(serializers.Serializer):
    subscription = SubscriptionSerializer()
    renewal_at = UtcDateTimeField(allow_null=True)
    contract_sync = ContractSyncSerializer(allow_null=True)
    timeline = TimelineEntrySerializer(many=True, help_text="Newest first, bounded.")


class EventRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    provider = serializers.CharField()
    event_id = serializers.CharField()
    event_type = serializers.CharField()
    source = serializers.CharField()
    occurred_at = UtcDateTimeField(allow_null=True)
    received_at = UtcDateTimeField()
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    error = serializers.CharField()
    processed_at = UtcDateTimeField(allow_null=True)


class EventDetailSerializer(serializers.Serializer):
    event = EventRowSerializer()
    headers = serializers.DictField(child=serializers.CharField(),
                                    help_text="As received; credentials shown as (hidden).")
    body = serializers.CharField(help_text="As stored.")
    body_pretty = serializers.CharField()
    body_format = serializers.ChoiceField(choices=["json", "xml", "raw"])
    body_note = serializers.CharField()
    traceback = serializers.CharField()
    subscription_ids = serializers.ListField(child=serializers.IntegerField())


class EventCountsSerializer(serializers.Serializer):
    counts = serializers.DictField(child=serializers.IntegerField(),
                                   help_text="Events per status (every status, 0 when none).")
