"""The Celery app: configured from Django settings (namespace CELERY), tasks autodiscovered."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "subsync.settings")

app = Celery("subsync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="subsync.ping", ignore_result=False)
def ping() -> str:
    """A round trip through the broker and a worker, used by health checks and the smoke test."""
    return "pong"
