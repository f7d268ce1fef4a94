from django.contrib import admin

from billing.admin import ReadOnlyAdmin
from crm import models


@admin.register(models.ContractSync)
class ContractSyncAdmin(admin.ModelAdmin):
    list_display = ("subscription", "state", "version", "synced_version", "sf_contract_id",
                    "attempts", "last_error_code", "next_attempt_at", "last_synced_at")
    list_filter = ("state",)
    search_fields = ("subscription__external_id", "sf_contract_id", "sf_account_id")
    raw_id_fields = ("subscription",)
    readonly_fields = ("payload_hash", "claimed_until", "created_at", "updated_at")


@admin.register(models.SyncAttempt)
class SyncAttemptAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "operation", "sobject", "outcome", "error_code", "duration_ms",
                    "api_usage_used", "api_usage_max")
    list_filter = ("outcome", "sobject", "operation")


@admin.register(models.ReconcileRun)
class ReconcileRunAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "outcome", "checked", "in_sync", "drifted", "missing",
                    "orphans", "marked", "api_calls")
    list_filter = ("outcome",)


@admin.register(models.SalesforceOrgState)
class SalesforceOrgStateAdmin(ReadOnlyAdmin):
    list_display = ("key", "api_usage_used", "api_usage_limit", "api_usage_observed_at")


@admin.register(models.ProductSync)
class ProductSyncAdmin(ReadOnlyAdmin):
    list_display = ("ref", "sf_product_id", "last_synced_at")
    search_fields = ("ref", "sf_product_id")


@admin.register(models.PriceEntrySync)
class PriceEntrySyncAdmin(ReadOnlyAdmin):
    list_display = ("product", "currency", "sf_entry_id", "unit_price")
    list_select_related = ("product",)


@admin.register(models.RenewalSync)
class RenewalSyncAdmin(ReadOnlyAdmin):
    list_display = ("ref", "renewal_date", "stage", "sf_opportunity_id", "last_synced_at")
    list_filter = ("stage",)
    search_fields = ("ref", "sf_opportunity_id")
