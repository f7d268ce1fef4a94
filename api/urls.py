"""/api/: the v1 endpoints, the OpenAPI schema and its browsable docs (docs/api.md).

DRF authenticates these views itself (token or session) and refuses anonymous requests with a
401 in the API's error shape, so Django's LoginRequiredMiddleware, which would redirect them
to the dashboard's login page, lets them through (said explicitly here, not left to DRF's own
marking). The browsable docs send an anonymous visitor to the login page instead: they are
for people in a browser.
"""

from django.contrib.auth.decorators import login_not_required, login_required
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from api.docs import SwaggerDocs
from api.errors import not_found
from api.views import records, reports, sync

app_name = "api"


def api(view_class):
    return login_not_required(view_class.as_view())


v1 = [
    path("customers/", api(records.CustomerList), name="customers"),
    path("customers/<int:pk>/", api(records.CustomerDetail), name="customer"),
    path("subscriptions/", api(records.SubscriptionList), name="subscriptions"),
    path("subscriptions/<int:pk>/", api(records.SubscriptionDetail), name="subscription"),
    path("subscriptions/<int:pk>/push/", api(records.PushSubscription),
         name="subscription-push"),
    path("renewals/", api(reports.RenewalReport), name="renewals"),
    path("renewals/rows/", api(reports.RenewalRows), name="renewal-rows"),
    path("renewals/summary/", api(reports.RenewalsSummary), name="renewals-summary"),
    path("metrics/summary/", api(reports.MetricsSummary), name="metrics-summary"),
    path("metrics/mrr/", api(reports.MrrSeries), name="metrics-mrr"),
    path("metrics/movements/", api(reports.Movements), name="metrics-movements"),
    path("metrics/churn-rates/", api(reports.ChurnRates), name="metrics-churn-rates"),
    path("metrics/nrr/", api(reports.NetRevenueRetention), name="metrics-nrr"),
    path("metrics/churn/", api(reports.Churn), name="metrics-churn"),
    path("metrics/churn/subscriptions/", api(reports.ChurnedSubscriptions),
         name="metrics-churned"),
    path("sync/summary/", api(sync.SyncSummary), name="sync-summary"),
    path("sync/failures/", api(sync.SyncFailures), name="sync-failures"),
    path("sync/api-usage/", api(sync.ApiUsage), name="sync-api-usage"),
    path("sync/reconcile-runs/", api(sync.ReconcileRuns), name="sync-reconcile-runs"),
    path("sync/attempts/", api(sync.Attempts), name="sync-attempts"),
    path("sync/retry-failed/", api(sync.RetryFailed), name="sync-retry-failed"),
    path("sync/<int:pk>/retry/", api(sync.Retry), name="sync-retry"),
    path("sync/<int:pk>/park/", api(sync.Park), name="sync-park"),
    path("sync/<int:pk>/unpark/", api(sync.Unpark), name="sync-unpark"),
    path("events/", api(records.EventList), name="events"),
    path("events/counts/", api(records.EventCounts), name="event-counts"),
    path("events/<int:pk>/", api(records.EventDetail), name="event"),
    path("events/<int:pk>/replay/", api(records.ReplayEvent), name="event-replay"),
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", api(SpectacularAPIView), name="schema"),
    path("docs/", login_required(SwaggerDocs.as_view(url_name="api:schema")), name="docs"),
    re_path(r"^.*$", login_not_required(not_found)),
]
