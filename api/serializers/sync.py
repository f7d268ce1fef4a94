"""crm.selectors results and the actions' answers."""

from __future__ import annotations

from rest_framework import serializers

from api.serializers.money import UtcDateTimeField
from api.serializers.reports import PageInfoSerializer


class SyncSummarySerializer(serializers.Serializer):
    pending = serializers.IntegerField()
    synced = serializers.IntegerField()
    failed = serializers.IntegerField()
    parked = serializers.IntegerField()
    total = serializers.IntegerField()
    dirty = serializers.IntegerField()
    due = serializers.IntegerField()
    retrying = serializers.IntegerField()
    oldest_pending_since = UtcDateTimeField(allow_null=True)
    oldest_pending_age_seconds = serializers.SerializerMethodField()
    now = UtcDateTimeField()

    def get_oldest_pending_age_seconds(self, summary) -> float | None:
        age = summary.oldest_pending_age
        return None if age is None else age.total_seconds()


class ApiUsageSerializer(serializers.Serializer):
    known = serializers.BooleanField()
    used = serializers.IntegerField(allow_null=True)
    limit = serializers.IntegerField(allow_null=True)
    percent = serializers.FloatField(allow_null=True)
    observed_at = UtcDateTimeField(allow_null=True)
    budget_pct = serializers.FloatField()
    over_budget = serializers.BooleanField()


class SyncFailureSerializer(serializers.Serializer):
    sync_id = serializers.IntegerField()
    state = serializers.CharField()
    subscription_id = serializers.IntegerField()
    subscription_ref = serializers.CharField()
    subscription_status = serializers.CharField()
    customer_id = serializers.IntegerField()
    customer_name = serializers.CharField()
    error_code = serializers.CharField()
    error_message = serializers.CharField()
    hint = serializers.CharField()
    attempts = serializers.IntegerField()
    next_attempt_at = UtcDateTimeField(allow_null=True)
    updated_at = UtcDateTimeField()
    sf_account_id = serializers.CharField()
    sf_contract_id = serializers.CharField()
    account_url = serializers.CharField(allow_null=True)
    contract_url = serializers.CharField(allow_null=True)


class SyncFailuresSerializer(serializers.Serializer):
    state = serializers.CharField(help_text="The filter applied: failed, parked, retrying, or "
                                            "'' for failed and parked.")
    page = PageInfoSerializer()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = SyncFailureSerializer(many=True)


class AttemptSerializer(serializers.Serializer):
    attempt_id = serializers.IntegerField()
    operation = serializers.CharField()
    sobject = serializers.CharField()
    outcome = serializers.CharField()
    http_status = serializers.IntegerField(allow_null=True)
    records = serializers.IntegerField()
    error_code = serializers.CharField()
    error_message = serializers.CharField()
    hint = serializers.CharField()
    started_at = UtcDateTimeField()
    duration_ms = serializers.IntegerField(allow_null=True)
    api_usage_used = serializers.IntegerField(allow_null=True)
    api_usage_max = serializers.IntegerField(allow_null=True)


class AttemptsSerializer(serializers.Serializer):
    results = AttemptSerializer(many=True)


class ReconcileRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    started_at = UtcDateTimeField()
    finished_at = UtcDateTimeField(allow_null=True)
    outcome = serializers.CharField()
    contracts_seen = serializers.IntegerField()
    accounts_seen = serializers.IntegerField()
    checked = serializers.IntegerField()
    in_sync = serializers.IntegerField()
    drifted = serializers.IntegerField()
    missing = serializers.IntegerField()
    orphans = serializers.IntegerField()
    marked = serializers.IntegerField()
    api_calls = serializers.IntegerField()
    error_code = serializers.CharField()
    error_message = serializers.CharField()


class ReconcileRunsSerializer(serializers.Serializer):
    results = ReconcileRunSerializer(many=True)


class ActionResultSerializer(serializers.Serializer):
    """What an action did (crm.services.actions.ActionResult). Calling it again does no
    harm: `changed` is then 0 and `message` says why."""

    action = serializers.CharField()
    sync_ids = serializers.ListField(child=serializers.IntegerField())
    changed = serializers.IntegerField(help_text="Rows changed; 0 when nothing was to do.")
    flush_requested = serializers.BooleanField()
    message = serializers.CharField()


class ParkRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500,
                                   help_text="Why, for the audit log.")


class ReplayResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    event = serializers.IntegerField()
    event_id = serializers.CharField()
    previous_status = serializers.CharField()
    status = serializers.CharField()
    changed = serializers.IntegerField(help_text="1 when the event was handed over again, "
                                                 "0 when nothing was done.")
    message = serializers.CharField()
