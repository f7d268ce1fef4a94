"""Dashboard pages, under / (login required, staff only; actions are POST)."""

from django.urls import path

from dashboard.views import (
    auth,
    churn,
    definitions,
    events,
    movements,
    overview,
    renewals,
    subscriptions,
    sync,
)

app_name = "dashboard"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("definitions/", definitions.definitions, name="definitions"),
    path("renewals/", renewals.renewal_report, name="renewals"),
    path("renewals.csv", renewals.renewal_csv, name="renewals-csv"),
    path("churn/", churn.churn_page, name="churn"),
    path("movements/", movements.movement_list, name="movements"),
    path("subscriptions/", subscriptions.subscription_list, name="subscriptions"),
    path("subscriptions/<int:pk>/", subscriptions.subscription_page, name="subscription"),
    path("subscriptions/<int:pk>/push/", subscriptions.push, name="subscription-push"),
    path("sync/", sync.sync_health, name="sync"),
    path("sync/retry-failed/", sync.retry_failed, name="sync-retry-all"),
    path("sync/<int:pk>/retry/", sync.retry, name="sync-retry"),
    path("sync/<int:pk>/park/", sync.park, name="sync-park"),
    path("sync/<int:pk>/unpark/", sync.unpark, name="sync-unpark"),
    path("events/", events.event_list, name="events"),
    path("events/<int:pk>/", events.event_page, name="event"),
    path("events/<int:pk>/replay/", events.replay, name="event-replay"),
]
