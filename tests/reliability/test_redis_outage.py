"""Redis, the broker, stopped while a worker holds unacknowledged messages, then started again:
the worker lives through the outage and the work completes by itself (issue 15).

A real worker on a private Redis (a child redis-server on a free port: the shared one carries
other people's work) drains stored events and blocks applying them on a table lock this test
holds, so its drain message is unacknowledged (acks_late) and more drains sit prefetched.
Redis is killed. Celery's consumer then closes the broken connection, and kombu 5.7's Redis
transport raised an AttributeError giving the unacknowledged messages back: the worker went
into shutdown (alive only while its task ran) and exited (subsync.broker explains and fixes
it). Ten seconds into the outage the worker must be running; Redis is started again on the
same port, empty, as one without a disk comes back, and the lock is dropped. Then, with no
restart: the held batch is applied, the worker runs a task sent on the restarted Redis (it
consumes again, not merely lingers), an event stored after the outage is applied, and the
worker is still running. The waits are convergence checks (issue 15's goal is 60 s after a
fault ends), not speeds.

Needs PostgreSQL (the worker opens the test database) and the redis-server program.
"""

from __future__ import annotations

import json
import shutil
import time

import psycopg
import pytest
from celery.backends.redis import RedisBackend
from django.db import connection

from bench.private_services import PrivateRedis
from billing.models import Subscription, WebhookEvent
from billing.services.drain import DRAIN_TASK
from emulator.chargebee.events import make_event
from subsync.celery import app
from tests.support.processes import child_database_url, start_worker, stop_worker, wait_for

HELD = ("ev_outage_1", "ev_outage_2", "ev_outage_3")
AFTER = "ev_outage_after"
PING_TASK = "subsync.ping"
OUTAGE_SECONDS = 10
CONVERGE_SECONDS = 60

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="the worker must open the test database: runs on PostgreSQL (CI)"),
    pytest.mark.skipif(shutil.which("redis-server") is None,
                       reason="needs the redis-server program for a Redis of the test's own"),
]


@pytest.fixture
def redis(tmp_path):
    server = PrivateRedis(log_dir=tmp_path)
    server.start()
    yield server
    server.destroy()


def store(event_id: str) -> None:
    """A received event, stored without announcing it (that would go to the shared broker);
    the test sends the drain to its own Redis itself."""
    event = make_event("subscription_created", event_id=event_id,
                       subscription_id=event_id.replace("ev_", "sub_"), mrr=2_500)
    WebhookEvent.objects.create(provider="chargebee", event_id=event_id,
                                event_type=event["event_type"], body=json.dumps(event))


def send_drains(broker_url: str, count: int) -> None:
    """Drain tasks on `broker_url`, its default queue declared first: a Redis that restarted
    empty has lost the queue's binding until the worker declares it again."""
    with app.connection_for_write(broker_url) as conn:
        queue = app.amqp.queues[app.conf.task_default_queue]
        queue.bind(conn.default_channel).declare()
        for _ in range(count):
            app.send_task(DRAIN_TASK, connection=conn)


def pinged(broker_url: str, *, within: float) -> bool:
    """Whether a worker runs a ping task sent on `broker_url` within `within` seconds: it is
    connected to the broker and consuming from it (a worker stuck in shutdown, waiting for
    its running task, is alive but consumes nothing). The result comes back through the same
    Redis, the worker's result backend."""
    with app.connection_for_write(broker_url) as conn:
        queue = app.amqp.queues[app.conf.task_default_queue]
        queue.bind(conn.default_channel).declare()
        task_id = app.send_task(PING_TASK, connection=conn).id
    backend = RedisBackend(app=app, url=broker_url)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if backend.get_task_meta(task_id)["status"] == "SUCCESS":
            return True
        time.sleep(0.2)
    return False


def statuses(event_ids) -> dict[str, str]:
    return dict(WebhookEvent.objects.filter(event_id__in=event_ids)
                .values_list("event_id", "status"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
def test_the_worker_lives_through_a_redis_outage_and_the_work_completes(redis):
    for event_id in HELD:
        store(event_id)
    worker = start_worker(broker_url=redis.url(0))

    def running() -> bool:
        return worker.poll() is None

    # Writes to the subscriptions wait for this lock: the worker's batch is held mid-apply.
    lock = psycopg.connect(child_database_url(), autocommit=False)
    try:
        lock.execute("LOCK TABLE billing_customer, billing_subscription IN EXCLUSIVE MODE")
        send_drains(redis.url(0), 3)  # one runs and blocks, the others are prefetched

        def held() -> bool:
            assert running(), worker.communicate()[0]
            return set(statuses(HELD).values()) == {"processing"}

        wait_for(held, timeout=90, what="the worker to claim the events", interval=0.2)
        redis.stop()
        time.sleep(OUTAGE_SECONDS)
        alive_in_outage = running()
        redis.start()  # same port, empty
    finally:
        lock.rollback()
        lock.close()
    try:
        assert alive_in_outage, worker.communicate(timeout=30)[0]

        def applied(event_ids) -> bool:
            assert running(), worker.communicate()[0]
            return set(statuses(event_ids).values()) == {"processed"}

        wait_for(lambda: applied(HELD), timeout=CONVERGE_SECONDS,
                 what="the batch held through the outage to be applied", interval=0.2)

        def reconnected() -> bool:
            assert running(), worker.communicate()[0]
            return pinged(redis.url(0), within=5)

        wait_for(reconnected, timeout=CONVERGE_SECONDS,
                 what="the worker to consume from the restarted Redis", interval=0)
        store(AFTER)
        send_drains(redis.url(0), 1)
        wait_for(lambda: applied([AFTER]), timeout=CONVERGE_SECONDS,
                 what="an event stored after the outage to be applied", interval=0.2)
    finally:
        stop_worker(worker)
    assert sorted(Subscription.objects.filter(external_id__startswith="sub_outage_")
                  .values_list("external_id", flat=True)) == [
        "sub_outage_1", "sub_outage_2", "sub_outage_3", "sub_outage_after"]
