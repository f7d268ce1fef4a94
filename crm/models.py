"""What Salesforce has been told: one ContractSync per subscription, one SyncAttempt per call.

A ContractSync is dirty while `version > synced_version`: every relevant change bumps `version`
in the same transaction as the change, and a push marks `synced_version` with the version it
actually sent, so a change that lands during a push keeps the row dirty.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q


class ContractSync(models.Model):
    class State(models.TextChoices):
        PENDING = "pending"
        SYNCED = "synced"
        FAILED = "failed"
        PARKED = "parked"

    subscription = models.OneToOneField(
        "billing.Subscription", on_delete=models.CASCADE, related_name="contract_sync"
    )
    sf_account_id = models.CharField(max_length=18, blank=True)
    sf_contract_id = models.CharField(max_length=18, blank=True)
    sf_contract_status = models.CharField(max_length=40, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    version = models.PositiveBigIntegerField(default=0)
    synced_version = models.PositiveBigIntegerField(default=0)
    payload_hash = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error_code = models.CharField(max_length=64, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Lease of the worker pushing this row; an expired lease (a killed worker) frees the row.
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Who made the last claim and when: a worker that starts frees the rows its node name
    # leased before it started, without waiting for the lease (crm.services.claims).
    claimed_by = models.CharField(max_length=255, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(synced_version__lte=F("version")), name="sync_version_not_ahead"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="sync_state_due_idx"),
        ]

    def __str__(self) -> str:
        return f"sync of {self.subscription_id} ({self.state})"

    @property
    def dirty(self) -> bool:
        return self.version > self.synced_version


class SyncAttempt(models.Model):
    """One Salesforce call, written before the call and completed after it (Healthchecks)."""

    class Outcome(models.TextChoices):
        STARTED = "started"
        SUCCESS = "success"
        PARTIAL = "partial"
        FAILED = "failed"

    operation = models.CharField(max_length=64)
    sobject = models.CharField(max_length=40, blank=True)
    records = models.JSONField(default=list, blank=True, help_text="External ids involved")
    results = models.JSONField(default=list, blank=True, help_text="Outcome per record")
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.STARTED)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    api_usage_used = models.PositiveIntegerField(null=True, blank=True)
    api_usage_max = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["started_at"], name="attempt_started_idx")]

    def __str__(self) -> str:
        return f"{self.operation} {self.sobject} {self.outcome}"


class SalesforceOrgState(models.Model):
    """Small facts about the Salesforce org shared by every process (one row, key "default").

    The latest daily API usage seen on any response (read by the budget guard and the
    dashboard), the instance URL of the last login (for links to its records), and until when
    a requested flush covers new changes (the debounce).
    """

    key = models.CharField(max_length=32, unique=True, default="default")
    api_usage_used = models.PositiveIntegerField(null=True, blank=True)
    api_usage_limit = models.PositiveIntegerField(null=True, blank=True)
    api_usage_observed_at = models.DateTimeField(null=True, blank=True)
    flush_requested_until = models.DateTimeField(null=True, blank=True)
    # Where the org's records live (the login's instance_url), for links to them.
    instance_url = models.URLField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"Salesforce org state ({self.api_usage_used}/{self.api_usage_limit})"


class ReconcileRun(models.Model):
    """One comparison of Salesforce with billing (crm.services.reconcile), for the dashboard.

    Counts plus a few examples of each kind of difference (`samples`: lists under "drifted",
    "missing" and "orphans"), small enough to keep one row per night for years.
    """

    class Outcome(models.TextChoices):
        OK = "ok"
        FAILED = "failed"

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.OK)
    contracts_seen = models.PositiveIntegerField(default=0)
    accounts_seen = models.PositiveIntegerField(default=0)
    checked = models.PositiveIntegerField(default=0, help_text="Subscriptions compared")
    in_sync = models.PositiveIntegerField(default=0)
    drifted = models.PositiveIntegerField(default=0)
    missing = models.PositiveIntegerField(default=0,
                                          help_text="In scope, no Contract in Salesforce")
    orphans = models.PositiveIntegerField(default=0, help_text="Contracts billing does not know")
    marked = models.PositiveIntegerField(default=0, help_text="Sync rows made due for a push")
    api_calls = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    samples = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["started_at"], name="reconcile_started_idx")]

    def __str__(self) -> str:
        return f"reconciliation {self.started_at:%Y-%m-%d %H:%M} ({self.outcome})"


class ProductSync(models.Model):
    """A plan or add-on pushed as a Product2 (crm.services.products), by its external id."""

    ref = models.CharField(max_length=255, unique=True, help_text="<provider>:<item id>")
    sf_product_id = models.CharField(max_length=18, blank=True)
    payload_hash = models.CharField(max_length=64, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"product {self.ref}"


class PriceEntrySync(models.Model):
    """A product's entry in the standard price book, per currency ("" without multi-currency).

    Entries have no external id, so knowing their ids here is what keeps them from being
    created twice; a lost answer is repaired by a query before any insert.
    """

    product = models.ForeignKey(ProductSync, on_delete=models.CASCADE, related_name="entries")
    currency = models.CharField(max_length=3, blank=True)
    sf_entry_id = models.CharField(max_length=18)
    unit_price = models.CharField(max_length=32, blank=True, help_text="List price sent")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["product", "currency"],
                                               name="price_entry_unique_currency")]

    def __str__(self) -> str:
        return f"{self.product.ref} {self.currency or 'org currency'}"


class RenewalSync(models.Model):
    """One renewal Opportunity (crm.services.renewal_opportunities): a subscription has one
    per term end, open until the term renews (won) or the subscription ends (lost)."""

    class Stage(models.TextChoices):
        OPEN = "open"
        WON = "won"
        LOST = "lost"

    subscription = models.ForeignKey("billing.Subscription", on_delete=models.CASCADE,
                                     related_name="renewal_syncs")
    ref = models.CharField(max_length=255, unique=True,
                           help_text="<provider>:<subscription id>:<renewal date>")
    renewal_date = models.DateField()
    stage = models.CharField(max_length=8, choices=Stage.choices, default=Stage.OPEN)
    sf_opportunity_id = models.CharField(max_length=18, blank=True)
    payload_hash = models.CharField(max_length=64, blank=True)
    # line ref -> {"id": OpportunityLineItem id, "hash": digest of its quantity, total and
    # schedule as last pushed}
    lines = models.JSONField(default=dict, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["subscription", "stage"], name="renewal_sub_stage_idx")]

    def __str__(self) -> str:
        return f"renewal {self.ref} ({self.stage})"
