"""store_event outside any transaction, as the webhook views and the poller call it.

There the INSERT commits on its own (no BEGIN/COMMIT around it); a duplicate must still be told
apart, leave the connection usable, and enqueue nothing new.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection

from billing.models import WebhookEvent
from billing.services import intake
from emulator.chargebee.events import make_event

pytestmark = pytest.mark.django_db(transaction=True)


def store(body):
    return intake.store_event(provider="chargebee", event_id=body["id"],
                              event_type=body["event_type"], body=json.dumps(body))


def test_first_delivery_is_stored_and_enqueued_at_once(sent):
    assert not connection.in_atomic_block
    result = store(make_event("subscription_created", event_id="ev_auto_1"))

    assert result.created and sent == [result.event.pk]
    assert WebhookEvent.objects.get().event_id == "ev_auto_1"


def test_duplicate_is_recognised_and_the_connection_stays_usable(sent):
    body = make_event("subscription_created", event_id="ev_auto_2")
    first = store(body)

    second = store(body)

    assert (first.created, second.created, second.requeued) == (True, False, False)
    assert second.event.pk == first.event.pk
    assert sent == [first.event.pk]
    assert WebhookEvent.objects.count() == 1  # the connection still answers


def test_redelivery_of_a_failed_event_is_requeued(sent):
    body = make_event("subscription_created", event_id="ev_auto_3")
    first = store(body)
    WebhookEvent.objects.filter(pk=first.event.pk).update(status="failed")

    again = store(body)

    assert again.requeued
    assert WebhookEvent.objects.get().status == "received"
    assert sent == [first.event.pk, first.event.pk]


def test_a_connection_broken_since_its_last_use_is_replaced_and_the_event_stored(sent):
    """The database restarted between two deliveries (here: our server process is killed).
    Without health checks, the first statement finds out; the INSERT reconnects once."""
    if connection.vendor != "postgresql":
        pytest.skip("kills a PostgreSQL server process: runs on PostgreSQL (CI)")
    import psycopg

    connection.ensure_connection()
    doomed = connection.connection.info.backend_pid
    settings = connection.settings_dict
    with psycopg.connect(host=settings["HOST"], port=settings["PORT"] or 5432,
                         user=settings["USER"], password=settings["PASSWORD"] or None,
                         dbname=settings["NAME"], autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [doomed])

    result = store(make_event("subscription_created", event_id="ev_after_restart"))

    assert result.created and sent == [result.event.pk]
    assert connection.connection.info.backend_pid != doomed
    assert WebhookEvent.objects.filter(event_id="ev_after_restart").count() == 1
