"""Settings come from the environment; production safety refuses unsafe defaults."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import json, django; from django.conf import settings; django.setup();"
    "db = settings.DATABASES['default'];"
    "print(json.dumps({'engine': db['ENGINE'], 'name': str(db['NAME']), 'host': db.get('HOST'),"
    "'broker': settings.CELERY_BROKER_URL, 'debug': settings.DEBUG,"
    "'secure_cookie': settings.SESSION_COOKIE_SECURE, 'hsts': settings.SECURE_HSTS_SECONDS,"
    "'ssl_redirect': settings.SECURE_SSL_REDIRECT, 'hosts': settings.ALLOWED_HOSTS,"
    "'sync_statuses': settings.SUBSYNC_SYNC_STATUSES,"
    "'sf_version': settings.SALESFORCE_API_VERSION,"
    "'currency': settings.SUBSYNC_REPORTING_CURRENCY,"
    "'options': db.get('OPTIONS', {}),"
    "'transport': getattr(settings, 'CELERY_BROKER_TRANSPORT', None),"
    "'max_retries': settings.CELERY_BROKER_CONNECTION_MAX_RETRIES}, default=str))"
)


def load(tmp_path, **overrides):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_", "CELERY_", "SECRET_KEY", "DEBUG", "SUBSYNC_"))}
    env.update(DJANGO_SETTINGS_MODULE="subsync.settings", SUBSYNC_VAR_DIR=str(tmp_path))
    env.update(overrides)
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    return proc


def test_defaults_are_embedded_sqlite_and_filesystem_broker(tmp_path):
    proc = load(tmp_path, SECRET_KEY="x" * 50)
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads(proc.stdout)
    assert cfg["engine"] == "django.db.backends.sqlite3"
    assert cfg["name"] == str(tmp_path / "subsync.sqlite3")
    assert cfg["broker"] == "filesystem://"
    assert (tmp_path / "celery" / "queue").is_dir()
    assert cfg["debug"] is False
    assert cfg["secure_cookie"] is True and cfg["hsts"] > 0
    assert cfg["ssl_redirect"] is False
    assert cfg["sync_statuses"] == ["active", "non_renewing", "past_due"]
    assert cfg["sf_version"] == "62.0" and cfg["currency"] == "USD"


def test_database_and_broker_urls_are_read_from_the_environment(tmp_path):
    proc = load(
        tmp_path, SECRET_KEY="x" * 50, DATABASE_URL="postgres://u@db.example:5432/subsync",
        CELERY_BROKER_URL="redis://cache.example:6379/2", ALLOWED_HOSTS="a.example,b.example",
        SUBSYNC_SYNC_STATUSES="active,trial", SUBSYNC_REPORTING_CURRENCY="EUR",
    )
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads(proc.stdout)
    assert cfg["engine"] == "django.db.backends.postgresql"
    assert (cfg["name"], cfg["host"]) == ("subsync", "db.example")
    assert cfg["broker"] == "redis://cache.example:6379/2"
    assert cfg["hosts"] == ["a.example", "b.example"]
    assert cfg["sync_statuses"] == ["active", "trial"]
    assert cfg["currency"] == "EUR"


@pytest.mark.parametrize(("url", "transport"), [
    ("redis://cache.example:6379/2", "subsync.broker:Transport"),
    ("rediss://cache.example:6380/2?ssl_cert_reqs=required", "subsync.broker:Transport"),
    ("filesystem://", None),
    ("memory://", None),
])
def test_a_redis_broker_uses_our_transport_and_every_broker_is_retried_for_ever(
        tmp_path, url, transport):
    """subsync.broker keeps a Redis outage from ending the worker; no retry limit either."""
    proc = load(tmp_path, SECRET_KEY="x" * 50, CELERY_BROKER_URL=url)
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads(proc.stdout)
    assert (cfg["transport"], cfg["max_retries"]) == (transport, None)


def test_refuses_to_start_without_secret_key_when_debug_is_off(tmp_path):
    proc = load(tmp_path)
    assert proc.returncode != 0
    assert "SECRET_KEY is not set" in proc.stderr


def test_debug_allows_the_development_key_and_relaxes_cookies(tmp_path):
    proc = load(tmp_path, DEBUG="true")
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads(proc.stdout)
    assert cfg["debug"] is True
    assert cfg["secure_cookie"] is False and cfg["hsts"] == 0


def test_prepared_statements_can_be_turned_off_for_postgresql(tmp_path):
    """On PostgreSQL, OPTIONS prepare_threshold is psycopg's 5 (Django's own default, None,
    prepares nothing) unless DATABASE_PREPARED_STATEMENTS=false makes it None; SQLite has no
    such option."""
    postgres = dict(SECRET_KEY="x" * 50, DATABASE_URL="postgres://u@db.example:5432/subsync")
    options = {}
    for name, overrides in {
        "default": postgres,
        "true": {**postgres, "DATABASE_PREPARED_STATEMENTS": "true"},
        "false": {**postgres, "DATABASE_PREPARED_STATEMENTS": "false"},
        "sqlite": {"SECRET_KEY": "x" * 50, "DATABASE_PREPARED_STATEMENTS": "false"},
    }.items():
        proc = load(tmp_path, **overrides)
        assert proc.returncode == 0, proc.stderr
        options[name] = json.loads(proc.stdout)["options"]

    assert "prepare_threshold" in options["false"]
    assert options["false"]["prepare_threshold"] is None
    assert options["default"]["prepare_threshold"] == 5
    assert options["true"]["prepare_threshold"] == 5
    assert "prepare_threshold" not in options["sqlite"]
    assert options["sqlite"]["transaction_mode"] == "IMMEDIATE"  # the probe reads OPTIONS


def test_event_retention_below_a_week_is_refused(tmp_path):
    for value in ("1", "6"):
        proc = load(tmp_path, SECRET_KEY="x" * 50, SUBSYNC_EVENT_RETENTION_DAYS=value)
        assert proc.returncode != 0
        assert "SUBSYNC_EVENT_RETENTION_DAYS must be 0" in proc.stderr
    for value in ("0", "7"):
        proc = load(tmp_path, SECRET_KEY="x" * 50, SUBSYNC_EVENT_RETENTION_DAYS=value)
        assert proc.returncode == 0, proc.stderr


def test_beat_schedule_runs_each_periodic_task_of_both_apps():
    """One block builds the schedule; each entry names a task the worker has registered."""
    from django.conf import settings

    from subsync.celery import app

    app.loader.import_default_modules()  # what a worker does at start: the apps' tasks
    tasks = {name: entry["task"] for name, entry in settings.CELERY_BEAT_SCHEDULE.items()}

    assert tasks == {
        "requeue-stuck-webhook-events": "billing.tasks.requeue_stuck_events",
        "poll-chargebee-events": "billing.tasks.poll_chargebee_events",
        "reconcile-braintree-subscriptions": "billing.tasks.reconcile_braintree_subscriptions",
        "prune-webhook-events": "billing.tasks.prune_webhook_events",
        "prune-sync-attempts": "crm.tasks.prune_sync_attempts",
        "sweep-salesforce": "crm.tasks.sweep_salesforce",
        "reconcile-salesforce": "crm.tasks.reconcile_salesforce",
        "refresh-overview-figures": "billing.tasks.refresh_overview_figures",
    }
    assert set(tasks.values()) <= set(app.tasks)
