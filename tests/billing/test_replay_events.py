"""`manage.py replay_events`: stored events processed again, rejected ones only on request."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError

from billing.models import Subscription, WebhookEvent
from billing.services import intake, processing
from emulator.chargebee.events import make_event

pytestmark = pytest.mark.django_db


def store(event_id: str, **kwargs) -> WebhookEvent:
    body = make_event("subscription_created", event_id=event_id,
                      subscription_id=f"sub_{event_id}", **kwargs)
    return intake.store_event(provider="chargebee", event_id=event_id,
                              event_type=body["event_type"], body=json.dumps(body)).event


def database_down(message: str):
    """Stands in for apply_parsed_events while the database is unreachable."""

    def apply(*args, **kwargs):
        raise OperationalError(message)

    return apply


def failed(event_id: str, monkeypatch) -> WebhookEvent:
    """An event whose processing failed on a transient error (the database went away)."""
    event = store(event_id)
    with monkeypatch.context() as patch:
        patch.setattr(processing, "apply_parsed_events",
                      database_down("server closed the connection unexpectedly"))
        with pytest.raises(processing.EventProcessingError):
            processing.process_event(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == "failed" and "OperationalError" in event.error
    return event


def processed(event_id: str) -> WebhookEvent:
    event = store(event_id)
    processing.process_event(event_id=event.pk)
    event.refresh_from_db()
    return event


def rejected(event_id: str) -> WebhookEvent:
    body = {**make_event("subscription_created", event_id=event_id), "api_version": "v1"}
    return intake.store_event(provider="chargebee", event_id=event_id,
                              event_type="subscription_created", body=json.dumps(body),
                              rejected_error="event api_version is 'v1'").event


def replay(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("replay_events", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def status(event: WebhookEvent) -> str:
    event.refresh_from_db()
    return event.status


def test_failed_events_are_reset_and_enqueued(sent, monkeypatch,
                                              django_capture_on_commit_callbacks):
    event = failed("ev_failed", monkeypatch)
    done = processed("ev_done")

    with django_capture_on_commit_callbacks(execute=True):
        out, _ = replay()

    assert "chargebee ev_failed (subscription_created): failed -> received" in out
    assert "enqueued 1 event(s)" in out
    assert sent == [event.pk]
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("received", 0)
    assert status(done) == "processed"


def test_sync_processes_inline_and_prints_the_outcome(sent, monkeypatch):
    event = failed("ev_failed", monkeypatch)

    out, _ = replay("--sync")

    assert "chargebee ev_failed (subscription_created): failed -> processed" in out
    assert "replayed 1 event(s)" in out
    assert status(event) == "processed"
    assert Subscription.objects.filter(external_id="sub_ev_failed").exists()
    assert sent == []


def test_sync_failure_is_printed_and_stays_on_the_row(sent, monkeypatch):
    event = failed("ev_failed", monkeypatch)
    monkeypatch.setattr(processing, "apply_parsed_events", database_down("still down"))

    out, _ = replay("--sync")

    assert "failed -> failed (still down)" in out
    event.refresh_from_db()
    assert event.status == "failed" and "still down" in event.error


def test_dry_run_lists_and_changes_nothing(sent, monkeypatch):
    event = failed("ev_failed", monkeypatch)

    out, _ = replay("--dry-run")

    assert "would replay chargebee ev_failed (subscription_created): failed" in out
    assert "would replay 1 event(s)" in out
    assert status(event) == "failed" and sent == []


def test_filters_by_provider_status_and_date(sent, monkeypatch):
    failed("ev_failed", monkeypatch)
    done = processed("ev_done")

    assert "would replay 0" in replay("--dry-run", "--provider", "braintree")[0]
    assert "would replay 0" in replay("--dry-run", "--since", "2999-01-01")[0]
    out, _ = replay("--status", "processed", "--sync")

    assert "ev_done" in out and "ev_failed" not in out
    assert status(done) == "processed"  # the same version again changes nothing


def test_rejected_events_are_never_picked_by_filters(sent):
    event = rejected("ev_v1")

    assert "0 event(s)" in replay()[0]
    with pytest.raises(CommandError, match="--id"):
        replay("--status", "rejected")
    assert status(event) == "rejected"


def test_a_rejected_event_is_replayed_when_named_by_id(sent):
    event = rejected("ev_v1")

    out, _ = replay("--id", "ev_v1", "--sync")

    assert "ev_v1 (subscription_created): rejected -> failed" in out
    event.refresh_from_db()
    assert event.status == "failed" and "v2" in event.error  # still unusable, now says why


def test_ids_select_events_of_any_status_and_unknown_ids_are_reported(sent, monkeypatch):
    failed("ev_failed", monkeypatch)
    processed("ev_done")

    out, err = replay("--id", "ev_done", "--id", "ev_missing", "--dry-run")

    assert "would replay chargebee ev_done (subscription_created): processed" in out
    assert "ev_failed" not in out
    assert "no stored event 'ev_missing' matches" in err
