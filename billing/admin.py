from django import forms
from django.contrib import admin, messages

from billing import models
from billing.services import forget, replay, retention


class ReadOnlyAdmin(admin.ModelAdmin):
    """For logs and ledgers: visible to admins, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Customers, subscriptions and their items are copies of what the billing provider says, kept
# up to date by its webhooks: an edit here would silently diverge from billing (and be
# overwritten, or not, by the next event). They are shown, raw payloads included, not edited.
@admin.register(models.Customer)
class CustomerAdmin(ReadOnlyAdmin):
    list_display = ("external_id", "provider", "company", "email", "updated_at")
    list_filter = ("provider",)
    search_fields = ("external_id", "email", "company", "last_name")
    actions = ["forget_selected"]

    def has_forget_permission(self, request) -> bool:
        """Erasing is for whoever may delete customers (superusers, or a group given it)."""
        return request.user.has_perm("billing.delete_customer")

    @admin.action(description="Forget the personal data of the selected customers",
                  permissions=["forget"])
    def forget_selected(self, request, queryset):
        """What `manage.py forget_customer` does, for each ticked customer."""
        for customer in queryset:
            report = forget.forget_customer(provider=customer.provider,
                                            external_id=customer.external_id)
            self.message_user(request, " ".join(report.lines()), messages.SUCCESS)


class SubscriptionItemInline(admin.TabularInline):
    model = models.SubscriptionItem
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("external_id", "provider", "customer", "status", "mrr", "currency",
                    "next_renewal_at")
    list_filter = ("provider", "status", "currency")
    search_fields = ("external_id", "customer__external_id", "customer__email", "plan_id")
    raw_id_fields = ("customer",)
    inlines = [SubscriptionItemInline]


@admin.register(models.SubscriptionItem)
class SubscriptionItemAdmin(ReadOnlyAdmin):
    list_display = ("subscription", "kind", "item_id", "quantity", "amount")
    raw_id_fields = ("subscription",)


@admin.register(models.SubscriptionChange)
class SubscriptionChangeAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "subscription", "status_before", "status_after", "movement",
                    "movement_amount", "currency")
    list_filter = ("movement", "currency")
    search_fields = ("subscription__external_id", "customer__external_id")


@admin.register(models.LedgerDay)
class LedgerDayAdmin(ReadOnlyAdmin):
    """The ledger summed per day and currency (written only by the batch writer)."""

    list_display = ("day", "currency", "mrr_delta", "new_amount", "expansion_amount",
                    "contraction_amount", "churn_amount", "reactivation_amount")
    list_filter = ("currency",)
    date_hierarchy = "day"


class ExchangeRateForm(forms.ModelForm):
    class Meta:
        model = models.ExchangeRate
        fields = ("currency", "rate", "valid_from")

    def clean_currency(self) -> str:
        """Accept "eur" as typed; the model insists on the upper-case ISO code."""
        return (self.cleaned_data.get("currency") or "").strip().upper()


@admin.register(models.ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    """Rates are entered by hand: the dashboard converts totals with them."""

    form = ExchangeRateForm
    list_display = ("currency", "rate", "valid_from")
    list_filter = ("currency",)
    search_fields = ("currency",)
    date_hierarchy = "valid_from"
    ordering = ("currency", "-valid_from")


@admin.register(models.WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "provider", "event_type", "event_id", "status", "attempts")
    list_filter = ("provider", "status", "source")
    search_fields = ("event_id", "event_type")
    date_hierarchy = "received_at"
    actions = ["replay_selected"]

    # Events waiting for a worker are on their way already. A `processing` one goes to
    # replay_event, which resets it only once its worker's lease ran out (the worker died):
    # before that a replay would race the worker.
    NOT_REPLAYED = (models.WebhookEvent.State.RECEIVED,)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # An operator has looked: a failed or rejected event may now be pruned in time.
        if object_id and str(object_id).isdigit():
            retention.mark_seen(event_ids=[int(object_id)])
        return super().change_view(request, object_id, form_url, extra_context)

    def has_replay_permission(self, request) -> bool:
        """The event log stays read-only; processing an event again is an operation on it,
        allowed to whoever may change events (superusers, or a group given the permission)."""
        return request.user.has_perm("billing.change_webhookevent")

    @admin.action(description="Process selected events again", permissions=["replay"])
    def replay_selected(self, request, queryset):
        """What `manage.py replay_events --id …` does for the ticked rows: reset each to
        `received` and hand it to the worker. Ticking a `rejected` event names it, so it is
        replayed too (after a fix for that very body)."""
        replayed = skipped = 0
        for event in queryset.order_by("occurred_at", "received_at", "pk"):
            if event.status in self.NOT_REPLAYED:
                skipped += 1
                continue
            outcome = replay.replay_event(event=event)
            if outcome.error:
                skipped += 1
            else:
                replayed += 1
        self.message_user(request, f"{replayed} event(s) handed to the worker to be processed "
                                   "again.", messages.SUCCESS if replayed else messages.WARNING)
        if skipped:
            self.message_user(request, f"{skipped} event(s) left alone: already waiting for or "
                                       "in the worker.", messages.WARNING)


@admin.register(models.Cursor)
class CursorAdmin(admin.ModelAdmin):
    list_display = ("provider", "name", "position", "count", "done", "updated_at")
    list_filter = ("provider", "done")


@admin.register(models.BraintreePlan)
class BraintreePlanAdmin(ReadOnlyAdmin):
    list_display = ("plan_id", "name", "billing_frequency", "price", "currency", "refreshed_at")


@admin.register(models.BraintreeMerchantAccount)
class BraintreeMerchantAccountAdmin(ReadOnlyAdmin):
    list_display = ("merchant_account_id", "currency", "refreshed_at")


@admin.register(models.BraintreePaymentMethodCustomer)
class BraintreePaymentMethodCustomerAdmin(ReadOnlyAdmin):
    list_display = ("token", "customer_id", "email", "company", "refreshed_at")
    search_fields = ("token", "customer_id", "email")
