from django.contrib import admin
from django.urls import include, path

from subsync import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("", include("billing.urls")),
    path("", include("dashboard.urls")),
]
