"""The benchmark's Chargebee deliveries are what the app accepts and applies, mixed as promised.

A benchmark whose requests were refused, or whose events the app ignored or failed on, would
measure nothing: these deliveries go through the real webhook view and the worker's task
function, in the order the benchmark sends them (re-sends and disorder included).
"""

import random
from collections import Counter

import pytest

from bench.chargebee_mix import ChargebeeMix
from bench.mix import plan
from billing.models import Subscription, WebhookEvent
from billing.tasks import process_webhook_event

pytestmark = pytest.mark.django_db

USER, PASSWORD = "bench-hooks", "bench-hooks-password"


def mix(run_id="t", subscriptions=8, seed=7):
    return ChargebeeMix(run_id=run_id, subscriptions=subscriptions, username=USER,
                        password=PASSWORD, rng=random.Random(seed), start=1_700_000_000)


def test_chargebee_mix_deliveries_are_accepted_and_applied_newest_first(
    client, settings, sent, django_capture_on_commit_callbacks
):
    settings.CHARGEBEE_WEBHOOK_USERNAME, settings.CHARGEBEE_WEBHOOK_PASSWORD = USER, PASSWORD
    run = plan(total=120, generators=[(1.0, mix())], duplicate_share=0.05,
               rng=random.Random(3))
    outcomes = Counter()
    with django_capture_on_commit_callbacks(execute=True):
        for delivery in run.deliveries:
            response = client.post(delivery.path, data=delivery.body,
                                   content_type="application/json",
                                   HTTP_AUTHORIZATION=delivery.headers["Authorization"])
            assert response.status_code == 200, response.content
            outcomes[response.json()["status"]] += 1
    assert outcomes == {"accepted": run.distinct, "duplicate": run.duplicates}
    for pk in sent:
        process_webhook_event(pk)

    statuses = Counter(WebhookEvent.objects.values_list("status", flat=True))
    assert set(statuses) == {"processed", "stale", "ignored"}  # a mix, and nothing failed
    newest = {}
    for delivery in run.deliveries:
        if delivery.version is not None:
            newest[delivery.subscription_id] = max(newest.get(delivery.subscription_id, 0),
                                                   delivery.version)
    stored = dict(Subscription.objects.values_list("external_id", "source_version"))
    assert stored == newest


def test_plan_resends_a_share_later_and_keeps_every_distinct_delivery():
    made = mix(subscriptions=50).make
    run = plan(total=1000, generators=[(1.0, mix(subscriptions=50))], duplicate_share=0.05,
               rng=random.Random(1))

    assert (len(run.deliveries), run.distinct, run.duplicates) == (1000, 950, 50)
    ids = [d.event_id for d in run.deliveries]
    assert len(set(ids)) == 950
    assert sorted(set(ids)) == sorted(d.event_id for d in made(950))
    first_seen = {}
    for position, event_id in enumerate(ids):
        first_seen.setdefault(event_id, position)
    repeats = [p for p, e in enumerate(ids) if first_seen[e] != p]
    assert len(repeats) == 50  # every re-send comes after its original


def test_plan_shares_deliveries_between_generators():
    run = plan(total=300, generators=[(2.0, mix(run_id="a")), (1.0, mix(run_id="b"))],
               duplicate_share=0, rng=random.Random(1))

    by_run = Counter(d.event_id.split("_")[1] for d in run.deliveries)
    assert by_run == {"a": 200, "b": 100}
    first_half = Counter(d.event_id.split("_")[1] for d in run.deliveries[:150])
    assert first_half["b"] > 30  # interleaved, not one provider after the other
