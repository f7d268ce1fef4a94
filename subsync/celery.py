"""The Celery app: configured from Django settings (namespace CELERY), tasks autodiscovered."""

import os

from celery import Celery
from celery.signals import celeryd_init, task_postrun, task_prerun

from subsync.worker_identity import set_identity

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "subsync.settings")

app = Celery("subsync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="subsync.ping", ignore_result=False)
def ping() -> str:
    """A round trip through the broker and a worker, used by health checks and the smoke test."""
    return "pong"


@task_prerun.connect
@task_postrun.connect
def close_old_db_connections(sender=None, **kwargs) -> None:
    """Between tasks as between requests: drop a connection that broke or outlived CONN_MAX_AGE.

    Celery's own fixup would close it after every task (see CELERY_DB_REUSE_MAX in settings);
    reconnecting cost more than most tasks. Eager calls run inside the caller's transaction
    and are left alone.
    """
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@celeryd_init.connect
def remember_worker_identity(sender=None, instance=None, **kwargs) -> None:
    """In the worker's main process, before the pool forks (its children inherit it): the
    node name its claims record, and when it started (subsync.worker_identity)."""
    set_identity(node=sender or "", started=getattr(instance, "startup_time", None))
