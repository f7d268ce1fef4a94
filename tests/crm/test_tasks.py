"""Tasks (called directly, never eagerly through a broker) and the debounced flush request."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from crm import tasks
from crm.models import ContractSync, SalesforceOrgState
from subsync.celery import app
from tests.crm import factories as f

pytestmark = pytest.mark.django_db
State = ContractSync.State


@pytest.fixture
def sent(monkeypatch):
    calls = []
    monkeypatch.setattr(app, "send_task",
                        lambda name, args=None, kwargs=None, **options: calls.append(
                            (name, options)))
    return calls


def test_flush_task_pushes_what_is_due(emu):
    sub = f.synced_subscription("sub_1")
    result = tasks.flush_salesforce()
    assert result["synced"] == 1
    assert f.sync_of(sub).state == State.SYNCED and emu.count("Contract") == 1


def test_sweeper_retries_failed_rows_whose_backoff_elapsed(emu):
    sub = f.synced_subscription("sub_1")
    emu.inject("server_error", path="Account")
    tasks.flush_salesforce()
    assert tasks.sweep_salesforce()["claimed"] == 0  # still backing off
    f.make_due()
    assert tasks.sweep_salesforce()["synced"] == 1
    assert f.sync_of(sub).state == State.SYNCED


def test_tasks_are_late_acking_and_the_sweeper_runs_every_minute():
    assert tasks.flush_salesforce.acks_late and tasks.sweep_salesforce.acks_late
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-salesforce"]
    assert entry == {"task": "crm.tasks.sweep_salesforce", "schedule": 60.0}


def test_without_credentials_the_engine_is_disabled_with_a_clear_log_line(settings, caplog):
    settings.SALESFORCE_CLIENT_ID = ""
    settings.SALESFORCE_CLIENT_SECRET = ""
    settings.SALESFORCE_AUTH_FLOW = "client_credentials"
    sub = f.synced_subscription("sub_1")
    with caplog.at_level(logging.WARNING):
        assert tasks.flush_salesforce() is None
    assert "Salesforce sync is disabled" in caplog.text
    assert "SALESFORCE_CLIENT_ID" in caplog.text
    assert f.sync_of(sub).dirty  # waits, nothing lost


def test_a_burst_of_changes_enqueues_one_flush_after_commit(emu, sent,
                                                           django_capture_on_commit_callbacks):
    sub = f.subscription("sub_1")
    with django_capture_on_commit_callbacks(execute=False) as pending:
        f.changed(sub, mrr=1)
    assert sent == []  # nothing before the commit
    for callback in pending:
        callback()
    for mrr in (2, 3, 4):
        with django_capture_on_commit_callbacks(execute=True):
            f.changed(sub, mrr=mrr)
    assert sent == [("crm.tasks.flush_salesforce",
                     {"countdown": settings.SUBSYNC_SF_DEBOUNCE_SECONDS})]
    assert f.sync_of(sub).version == 4

    # Once the window has closed, the next change asks for a new flush.
    SalesforceOrgState.objects.update(flush_requested_until=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        f.changed(sub, mrr=5)
    assert len(sent) == 2


def test_no_flush_is_requested_without_credentials(settings, sent,
                                                   django_capture_on_commit_callbacks):
    settings.SALESFORCE_CLIENT_ID = ""
    with django_capture_on_commit_callbacks(execute=True):
        f.synced_subscription("sub_1")
    assert sent == []


def test_a_broker_failure_does_not_break_the_billing_change(emu, monkeypatch,
                                                            django_capture_on_commit_callbacks):
    def down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(app, "send_task", down)
    with django_capture_on_commit_callbacks(execute=True):
        sub = f.synced_subscription("sub_1")
    assert f.sync_of(sub).dirty  # the sweeper will push it
