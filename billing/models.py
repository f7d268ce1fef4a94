"""What the billing providers told us, stored once per provider object.

Customer and Subscription hold the newest known state (ordered by the provider's version);
SubscriptionChange is the append-only ledger that churn and MRR history are computed from;
WebhookEvent keeps every raw delivery, stored before it is trusted.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from billing.normalized import ItemKind, PeriodUnit, Provider, Status

ProviderChoices = models.TextChoices("ProviderChoices", [(p.name, p.value) for p in Provider])
StatusChoices = models.TextChoices("StatusChoices", [(s.name, s.value) for s in Status])
PeriodUnitChoices = models.TextChoices(
    "PeriodUnitChoices", [(u.name, u.value) for u in PeriodUnit]
)
ItemKindChoices = models.TextChoices("ItemKindChoices", [(k.name, k.value) for k in ItemKind])


class Movement(models.TextChoices):
    NEW = "new"
    EXPANSION = "expansion"
    CONTRACTION = "contraction"
    CHURN = "churn"
    REACTIVATION = "reactivation"
    NONE = "none"


class Customer(models.Model):
    provider = models.CharField(max_length=16, choices=ProviderChoices.choices)
    external_id = models.CharField(max_length=255)
    email = models.EmailField(max_length=254, blank=True)
    company = models.CharField(max_length=255, blank=True)
    first_name = models.CharField(max_length=255, blank=True)
    last_name = models.CharField(max_length=255, blank=True)
    source_version = models.BigIntegerField(null=True, blank=True)
    # Set the first time the customer's MRR rises above zero: tells `new` from `reactivation`.
    first_paid_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "external_id"], name="customer_unique_per_provider"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.external_id}"

    @property
    def display_name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return self.company or full or self.email or self.external_id


class Subscription(models.Model):
    provider = models.CharField(max_length=16, choices=ProviderChoices.choices)
    external_id = models.CharField(max_length=255)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=16, choices=StatusChoices.choices)
    provider_status = models.CharField(max_length=64, blank=True)
    plan_id = models.CharField(max_length=255, blank=True)
    price_id = models.CharField(max_length=255, blank=True)
    currency = models.CharField(max_length=3)
    mrr = models.BigIntegerField(default=0, help_text="Minor units per month")
    billing_period = models.PositiveSmallIntegerField(default=1)
    billing_period_unit = models.CharField(
        max_length=8, choices=PeriodUnitChoices.choices, default=PeriodUnit.MONTH.value
    )
    started_at = models.DateTimeField(null=True, blank=True)
    trial_end = models.DateTimeField(null=True, blank=True)
    current_term_start = models.DateTimeField(null=True, blank=True)
    current_term_end = models.DateTimeField(null=True, blank=True)
    next_renewal_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=255, blank=True)
    contract_term_start = models.DateTimeField(null=True, blank=True)
    contract_term_end = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    source_version = models.BigIntegerField(
        null=True, blank=True, help_text="The provider's ordering key; older events are stale"
    )
    raw = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "external_id"], name="subscription_unique_per_provider"
            ),
            models.CheckConstraint(condition=Q(mrr__gte=0), name="subscription_mrr_not_negative"),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="subscription_currency_iso"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in Status]),
                name="subscription_status_known",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_renewal_at"], name="sub_status_renewal_idx"),
            models.Index(fields=["next_renewal_at"], name="sub_renewal_idx"),
            models.Index(fields=["cancelled_at"], name="sub_cancelled_idx"),
            models.Index(fields=["provider", "status"], name="sub_provider_status_idx"),
            # The renewal date (contract term end, else current term end) that the renewals
            # report and the overview's quarter tiles select a window of.
            models.Index(Coalesce("contract_term_end", "current_term_end"),
                         name="sub_renewal_at_idx"),
            # The subscriptions list's default order (last updated first): a page is read
            # from it instead of sorting every subscription.
            models.Index(fields=["updated_at", "id"], name="sub_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.external_id}"


class SubscriptionItem(models.Model):
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=16, choices=ItemKindChoices.choices)
    item_id = models.CharField(max_length=255)
    quantity = models.PositiveIntegerField(default=1)
    unit_amount = models.BigIntegerField(default=0, help_text="Minor units per unit per period")
    amount = models.BigIntegerField(default=0, help_text="Minor units per period")
    recurring = models.BooleanField(default=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.item_id} x{self.quantity}"


class WebhookEvent(models.Model):
    """One delivery from a provider, stored raw before anything trusts it (dj-stripe style)."""

    class State(models.TextChoices):
        RECEIVED = "received"
        PROCESSING = "processing"
        PROCESSED = "processed"
        IGNORED = "ignored"
        STALE = "stale"
        FAILED = "failed"
        REJECTED = "rejected"

    class Source(models.TextChoices):
        WEBHOOK = "webhook"
        POLL = "poll"
        BACKFILL = "backfill"
        RECONCILE = "reconcile"  # a difference found by comparing with the provider

    provider = models.CharField(max_length=16, choices=ProviderChoices.choices)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=128, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.WEBHOOK)
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=State.choices, default=State.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # When the current (or last) attempt started: the lease of the worker holding a
    # `processing` event. The stuck-event requeue goes by it, not by `received_at`, so an old
    # event being retried right now is not handed out twice.
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The Celery worker (node name) that made the last claim; "" outside a worker. A worker
    # that starts gives back the `processing` events its node name held before it started
    # (billing.services.give_back.release_claims): its earlier incarnation died with them.
    claimed_by = models.CharField(max_length=255, blank=True, default="")
    # When the delayed retry of a `failed` event is due; empty when none is coming (given up,
    # permanent error, or not failed). The retry is a Celery message with a countdown, which
    # a broker outage or a killed worker holding it can lose; the stuck-event requeue sends
    # the event's task again once this time is well past (billing.services.requeue).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When an operator first opened the event (dashboard or admin). Failed and rejected events
    # wait for an operator; once seen, they are pruned after SUBSYNC_FAILED_EVENT_RETENTION_DAYS
    # (billing.services.retention).
    seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"], name="webhook_event_unique_per_provider"
            ),
        ]
        indexes = [
            # Only events still waiting for work or for an operator: what claims, the stuck-
            # event requeue and replays look for. Done events (nearly all rows) stay out of
            # it, so it stays small however many are kept, and marking an event done adds no
            # entry to it.
            models.Index(fields=["status", "received_at"], name="event_open_received_idx",
                         condition=Q(status__in=["received", "processing", "failed"])),
            models.Index(fields=["received_at"], name="event_received_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.event_id}"


class SubscriptionChange(models.Model):
    """Append-only ledger: one row per applied change of a subscription.

    `movement` classifies the change per customer (metrics.md); `movement_amount` is its size
    in minor units of `currency` (always >= 0). Customer MRR before/after sums the customer's
    subscriptions in this change's currency.
    """

    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="changes"
    )
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="changes")
    event = models.ForeignKey(
        WebhookEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="changes"
    )
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    source_version = models.BigIntegerField(null=True, blank=True)
    status_before = models.CharField(max_length=16, blank=True)
    status_after = models.CharField(max_length=16, choices=StatusChoices.choices)
    mrr_before = models.BigIntegerField(default=0)
    mrr_after = models.BigIntegerField(default=0)
    customer_mrr_before = models.BigIntegerField(default=0)
    customer_mrr_after = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    movement = models.CharField(max_length=16, choices=Movement.choices, default=Movement.NONE)
    movement_amount = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(movement_amount__gte=0), name="change_movement_amount_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(movement="none", movement_amount=0)
                | (~Q(movement="none") & ~Q(mrr_before=F("mrr_after"))),
                name="change_movement_consistent",
            ),
        ]
        indexes = [
            models.Index(fields=["movement", "occurred_at"], name="change_movement_time_idx"),
            models.Index(fields=["customer", "occurred_at"], name="change_customer_time_idx"),
            # A period of churned rows (the churn page) and of movements of any kind (the
            # movements page, newest first): small slices of the ledger by time alone.
            models.Index(fields=["occurred_at", "id"], name="change_churned_time_idx",
                         condition=Q(status_after__in=[Status.CANCELLED.value,
                                                       Status.EXPIRED.value])),
            models.Index(fields=["occurred_at", "id"], name="change_moved_time_idx",
                         condition=~Q(movement="none")),
        ]

    def __str__(self) -> str:
        return f"{self.subscription} {self.status_before}->{self.status_after} {self.movement}"


# Subscriptions counted as active (they are the ones that count towards MRR, trials aside).
ACTIVE_STATUSES = (Status.ACTIVE.value, Status.PAST_DUE.value, Status.NON_RENEWING.value)


class LedgerDay(models.Model):
    """The ledger summed per day (UTC) and currency: what the metrics read instead of the ledger.

    Why: the dashboard's history is "now minus the changes since", summed per day and currency;
    summing a million ledger rows on every page view took over a second, reading a few thousand
    of these takes milliseconds. Written only by billing.services.ledger_days, in the same
    transaction as the ledger rows it adds up (so the two never disagree), and rebuilt from the
    ledger by rebuild_ledger_days(). Each column is the sum, over the ledger rows of that day
    and currency, of: mrr_after - mrr_before (`mrr_delta`); +1 for a subscription that became
    active, -1 for one that stopped being (`active_delta`, ACTIVE_STATUSES); and per movement
    kind, its movement_amount and a count of rows.
    """

    day = models.DateField()
    currency = models.CharField(max_length=3)
    mrr_delta = models.BigIntegerField(default=0)
    active_delta = models.IntegerField(default=0)
    new_amount = models.BigIntegerField(default=0)
    new_count = models.IntegerField(default=0)
    expansion_amount = models.BigIntegerField(default=0)
    expansion_count = models.IntegerField(default=0)
    contraction_amount = models.BigIntegerField(default=0)
    contraction_count = models.IntegerField(default=0)
    churn_amount = models.BigIntegerField(default=0)
    churn_count = models.IntegerField(default=0)
    reactivation_amount = models.BigIntegerField(default=0)
    reactivation_count = models.IntegerField(default=0)

    class Meta:
        ordering = ["day", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["day", "currency"], name="ledger_day_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.currency} {self.mrr_delta:+d}"


def validate_positive_rate(value: Decimal) -> None:
    if value is not None and value <= 0:
        raise ValidationError("A rate must be greater than 0.", code="rate_not_positive")


class ExchangeRate(models.Model):
    """How many units of the reporting currency (SUBSYNC_REPORTING_CURRENCY) one unit of
    `currency` is worth, from `valid_from` until the next row of that currency.

    Entered by hand in the admin: totals across currencies convert with the rate in force on
    the day of the movement (history) or today (current MRR). A currency without a rate is
    reported as missing, never taken as 1 (billing.selectors.fx).
    """

    currency = models.CharField(
        max_length=3,
        validators=[RegexValidator(r"^[A-Z]{3}$", "An upper-case ISO 4217 code, e.g. EUR.")],
        help_text="ISO 4217 code, e.g. EUR",
    )
    rate = models.DecimalField(
        max_digits=20, decimal_places=10, validators=[validate_positive_rate],
        help_text="Units of the reporting currency per ONE unit of this currency "
                  "(e.g. EUR 1.08 when reporting in USD)",
    )
    valid_from = models.DateField(help_text="In force from this day (UTC) until the next rate")

    class Meta:
        ordering = ["currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["currency", "valid_from"], name="exchange_rate_unique_per_day"
            ),
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rate_positive"),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="exchange_rate_currency_iso"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.rate} from {self.valid_from}"


class Cursor(models.Model):
    """Where a long-running read of a provider got to: a backfill's page, the poller's last event.

    Written after each page so that an interrupted run resumes where it stopped.
    """

    provider = models.CharField(max_length=16, choices=ProviderChoices.choices)
    name = models.CharField(max_length=64, help_text="e.g. backfill:subscriptions, poll:events")
    position = models.CharField(max_length=255, blank=True)
    count = models.PositiveBigIntegerField(default=0)
    done = models.BooleanField(default=False)
    params = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "name"], name="cursor_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.name} at {self.position or 'start'}"


# -- Braintree look-up cache ------------------------------------------------------------------
# A Braintree subscription carries no currency, no customer and no billing frequency. The
# worker looks them up once and keeps the answers here, so that later events (in any worker,
# after any restart) need no API call. Written only by billing.providers.braintree.cache.


class BraintreePlan(models.Model):
    """A Braintree plan as last listed: its cycle length in months and list price."""

    plan_id = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=255, blank=True)
    billing_frequency = models.PositiveSmallIntegerField(default=1, help_text="Months per cycle")
    price = models.BigIntegerField(default=0, help_text="Minor units per cycle")
    currency = models.CharField(max_length=3, blank=True)
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"braintree plan {self.plan_id}"


class BraintreeMerchantAccount(models.Model):
    """The currency a Braintree merchant account settles in (it never changes)."""

    merchant_account_id = models.CharField(max_length=255, unique=True)
    currency = models.CharField(max_length=3)
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"braintree merchant account {self.merchant_account_id} ({self.currency})"


class BraintreePaymentMethodCustomer(models.Model):
    """Who owns a Braintree payment method token, with the customer's details as last read."""

    token = models.CharField(max_length=255, unique=True)
    customer_id = models.CharField(max_length=255)
    email = models.CharField(max_length=254, blank=True)
    company = models.CharField(max_length=255, blank=True)
    first_name = models.CharField(max_length=255, blank=True)
    last_name = models.CharField(max_length=255, blank=True)
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"braintree payment method {self.token} -> {self.customer_id}"
