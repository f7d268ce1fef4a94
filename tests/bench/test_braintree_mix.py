"""The benchmark's Braintree deliveries are what the app accepts and applies.

A benchmark whose requests were refused or ignored would measure nothing: these deliveries go
through the real webhook view and the worker's task function, with the plan cache seeded the
way bench/webhooks.py seeds it.
"""

import random

import pytest
from django.utils import timezone

from bench.braintree_mix import PLANS, BraintreeMix
from billing.models import BraintreePlan, Subscription, WebhookEvent
from billing.tasks import process_webhook_event
from emulator.braintree.subscriptions import Keys
from tests.support.braintree_app import configure

pytestmark = pytest.mark.django_db


def test_braintree_mix_deliveries_are_accepted_and_applied_newest_first(client, settings, sent):
    keys = Keys()
    configure(settings, keys=keys)
    for plan_id, months, price in PLANS:
        BraintreePlan.objects.create(plan_id=plan_id, billing_frequency=months,
                                     price=int(float(price) * 100), currency="USD",
                                     refreshed_at=timezone.now())
    mix = BraintreeMix(run_id="t", subscriptions=5, keys=keys, rng=random.Random(7),
                       start=1_700_000_000)
    deliveries = mix.make(40)
    for delivery in deliveries:
        response = client.post(delivery.path, data=delivery.body,
                               content_type=delivery.headers["Content-Type"])
        assert response.status_code == 200, response.content
    stored = dict(WebhookEvent.objects.values_list("event_id", "pk"))
    assert set(stored) == {d.event_id for d in deliveries}
    for delivery in deliveries:
        process_webhook_event(stored[delivery.event_id])
    assert not WebhookEvent.objects.exclude(status__in=["processed", "stale"]).exists()
    newest = {}
    for delivery in deliveries:
        newest[delivery.subscription_id] = max(newest.get(delivery.subscription_id, 0),
                                               delivery.version)
    for sub_id, version in newest.items():
        assert Subscription.objects.get(provider="braintree", external_id=sub_id
                                        ).source_version == version
