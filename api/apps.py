from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        # Tells drf-spectacular how our token authentication appears in the schema.
        from api import schema  # noqa: F401
