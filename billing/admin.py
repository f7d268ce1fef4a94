from django.contrib import admin

from billing import models


class ReadOnlyAdmin(admin.ModelAdmin):
    """For logs and ledgers: visible to admins, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("external_id", "provider", "company", "email", "updated_at")
    list_filter = ("provider",)
    search_fields = ("external_id", "email", "company", "last_name")


class SubscriptionItemInline(admin.TabularInline):
    model = models.SubscriptionItem
    extra = 0


@admin.register(models.Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("external_id", "provider", "customer", "status", "mrr", "currency",
                    "next_renewal_at")
    list_filter = ("provider", "status", "currency")
    search_fields = ("external_id", "customer__external_id", "customer__email", "plan_id")
    raw_id_fields = ("customer",)
    inlines = [SubscriptionItemInline]


@admin.register(models.SubscriptionItem)
class SubscriptionItemAdmin(admin.ModelAdmin):
    list_display = ("subscription", "kind", "item_id", "quantity", "amount")
    raw_id_fields = ("subscription",)


@admin.register(models.SubscriptionChange)
class SubscriptionChangeAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "subscription", "status_before", "status_after", "movement",
                    "movement_amount", "currency")
    list_filter = ("movement", "currency")
    search_fields = ("subscription__external_id", "customer__external_id")


@admin.register(models.WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "provider", "event_type", "event_id", "status", "attempts")
    list_filter = ("provider", "status", "source")
    search_fields = ("event_id", "event_type")
    date_hierarchy = "received_at"


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
