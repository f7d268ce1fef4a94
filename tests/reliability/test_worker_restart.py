"""A Celery worker SIGKILLed mid-batch and restarted under the same node name: the events it
held are processed at once, not after their 5-minute lease (issue 15).

A real worker (Redis broker, the test database) drains three stored events in one batch and
blocks applying them on a table lock this test holds: it has claimed them (`processing`,
named by its node name, which shows that the prefork pool child inherited the identity set
in the main process). Its whole process group is SIGKILLed, the lock dropped, and a worker
started with the same --hostname. The lease stays at its default (300 s) and beat is not
running, so without the start-up release (subsync.worker_identity, worker_ready) nothing
would take the events back within this test's timeout; the 60 s wait below is a convergence
check (the goal of issue 15), not a speed figure.

Needs Redis as the broker and PostgreSQL (the worker opens the test database): CI.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import uuid

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from billing.models import Subscription, WebhookEvent
from emulator.chargebee.events import make_event
from tests.support.processes import child_database_url, start_worker, stop_worker, wait_for

USER, PASSWORD = "hooks", "restart-test-password"
EVENTS = ("ev_restart_1", "ev_restart_2", "ev_restart_3")
CONVERGE_SECONDS = 60

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")),
                       reason="a real worker on the Redis broker: runs when CELERY_BROKER_URL "
                              "is Redis (CI)"),
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="the worker must open the test database: runs on PostgreSQL (CI)"),
]


def deliver(client, n: int) -> None:
    event = make_event("subscription_created", event_id=EVENTS[n],
                       subscription_id=f"sub_restart_{n}", mrr=1_000 * (n + 1))
    auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    response = client.post("/webhooks/chargebee/", data=json.dumps(event),
                           content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200


def statuses() -> dict[str, tuple[str, str]]:
    return {event_id: (status, by) for event_id, status, by in
            WebhookEvent.objects.filter(event_id__in=EVENTS)
            .values_list("event_id", "status", "claimed_by")}


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
def test_a_restarted_worker_processes_what_its_killed_predecessor_held(client, settings):
    settings.CHARGEBEE_WEBHOOK_USERNAME, settings.CHARGEBEE_WEBHOOK_PASSWORD = USER, PASSWORD
    assert settings.SUBSYNC_STUCK_EVENT_SECONDS == 300  # the default lease: no shortcut
    node = f"restart-{uuid.uuid4().hex[:8]}@test"
    for n in range(len(EVENTS)):
        deliver(client, n)  # stored, and a drain requested: queued until a worker starts

    # Writes to the subscriptions wait for this lock: the worker's batch is held mid-apply.
    lock = psycopg.connect(child_database_url(), autocommit=False)
    workers = []
    try:
        lock.execute("LOCK TABLE billing_customer, billing_subscription IN EXCLUSIVE MODE")
        workers.append(start_worker(hostname=node))

        def held() -> bool:
            assert workers[0].poll() is None, workers[0].communicate()[0]
            return all(found == ("processing", node) for found in statuses().values())

        wait_for(held, timeout=90, what="the worker to claim the events", interval=0.2)
        os.killpg(workers[0].pid, signal.SIGKILL)
        workers[0].wait(timeout=10)
    finally:
        lock.rollback()
        lock.close()
    assert workers[0].returncode == -signal.SIGKILL
    assert statuses() == {event_id: ("processing", node) for event_id in EVENTS}

    workers.append(start_worker(hostname=node))
    try:
        def applied() -> bool:
            assert workers[1].poll() is None, workers[1].communicate()[0]
            return all(status == "processed" for status, _ in statuses().values())

        wait_for(applied, timeout=CONVERGE_SECONDS, what="the restarted worker to apply "
                 "the events its predecessor held", interval=0.2)
    finally:
        stop_worker(workers[1])
    assert sorted(Subscription.objects.filter(external_id__startswith="sub_restart_")
                  .values_list("external_id", "mrr")) == [
        ("sub_restart_0", 1_000), ("sub_restart_1", 2_000), ("sub_restart_2", 3_000)]
    # Each applied once: the killed attempt counted, then one more.
    assert list(WebhookEvent.objects.filter(event_id__in=EVENTS)
                .values_list("attempts", flat=True)) == [2, 2, 2]
