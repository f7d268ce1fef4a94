"""The Redis broker path end to end: a real `celery -A subsync worker` on the Redis broker
(and the Redis cache its drain flags live in), fed by a real webhook request.

The other end-to-end tests use the embedded filesystem or memory transport; CI runs on Redis,
so this is the path production takes. Runs when CELERY_BROKER_URL is Redis and the database
is PostgreSQL (the worker must open the test database); skipped otherwise.
"""

from __future__ import annotations

import base64
import json

import pytest
from django.conf import settings
from django.db import connection

from billing.models import Subscription, WebhookEvent
from emulator.chargebee.events import make_event
from tests.support.processes import start_worker, stop_worker, wait_for

USER, PASSWORD = "hooks", "redis-path-password"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")),
                       reason="the Redis broker path: runs when CELERY_BROKER_URL is Redis (CI)"),
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="the worker must open the test database: runs on PostgreSQL (CI)"),
]


@pytest.fixture
def worker():
    """A real worker process on the test database and the Redis broker, stopped afterwards."""
    proc = start_worker()
    yield proc
    stop_worker(proc)


@pytest.mark.django_db(transaction=True)
def test_a_webhook_is_applied_by_a_real_worker_over_redis(client, settings, worker):
    settings.CHARGEBEE_WEBHOOK_USERNAME, settings.CHARGEBEE_WEBHOOK_PASSWORD = USER, PASSWORD
    auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    event = make_event("subscription_created", event_id="ev_redis", subscription_id="sub_redis",
                       mrr=4_200)

    response = client.post("/webhooks/chargebee/", data=json.dumps(event),
                           content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200

    def applied() -> bool:
        assert worker.poll() is None, worker.communicate()[0]
        return WebhookEvent.objects.filter(event_id="ev_redis", status="processed").exists()

    wait_for(applied, timeout=90, what="the worker to apply the event", interval=0.2)
    assert Subscription.objects.get(external_id="sub_redis").mrr == 4_200
