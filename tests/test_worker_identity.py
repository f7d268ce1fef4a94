"""The worker's identity (subsync.worker_identity): set when a Celery worker starts, recorded
by claims, empty elsewhere; and the start-up release that uses it never raises.

That prefork pool children inherit it is shown with a real worker in
tests/reliability/test_worker_restart.py."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from celery.signals import celeryd_init

from billing.services import intake, processing
from subsync import worker_identity
from tests.support.json_adapter import json_adapter_registered

STARTED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def identity():
    """Restores 'not a worker' afterwards."""
    yield worker_identity
    worker_identity.set_identity(node="", started=None)


def test_outside_a_worker_there_is_no_identity():
    assert worker_identity.node_name() == "" and worker_identity.started_at() is None


def test_the_worker_start_signal_sets_the_node_name_and_start_time(identity):
    celeryd_init.send(sender="celery@host-1", instance=SimpleNamespace(startup_time=STARTED),
                      conf=None, options={})
    assert identity.node_name() == "celery@host-1"
    assert identity.started_at() == STARTED


@pytest.mark.django_db
def test_a_claimed_event_names_its_worker_and_none_outside_one(identity, settings):
    with json_adapter_registered():
        first, second = (intake.store_event(provider="chargebee", event_id=f"ev_{n}",
                                            event_type="subscription_created",
                                            body='{"mrr": 5000, "version": 1}').event
                         for n in (1, 2))
        [outside] = processing.claim_events(ids=[first.pk])
        identity.set_identity(node="celery@host-1", started=STARTED)
        [inside] = processing.claim_events(ids=[second.pk])
    first.refresh_from_db()
    second.refresh_from_db()
    assert (outside.claimed_by, first.claimed_by) == ("", "")
    assert (inside.claimed_by, second.claimed_by) == ("celery@host-1", "celery@host-1")


def test_the_release_gets_this_workers_name_and_start(identity):
    calls = []
    identity.set_identity(node="celery@host-1", started=STARTED)
    identity.release_earlier_claims(lambda **kw: calls.append(kw) or 0, what="things")
    assert calls == [{"node": "celery@host-1", "before": STARTED}]


def test_no_release_outside_a_worker(identity):
    calls = []
    identity.release_earlier_claims(lambda **kw: calls.append(kw) or 0, what="things")
    assert calls == []


def test_a_failing_release_is_logged_not_raised(identity, caplog):
    def broken(**kwargs):
        raise RuntimeError("database down")

    identity.set_identity(node="celery@host-1", started=STARTED + timedelta(seconds=1))
    with caplog.at_level(logging.ERROR, logger="subsync.worker_identity"):
        identity.release_earlier_claims(broken, what="things")
    assert "could not release the things" in caplog.text
    assert "database down" in caplog.text
