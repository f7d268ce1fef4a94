"""Property: any permutation and duplication of one subscription's events ends in the state
of the newest version, with a ledger that is a consistent chain.

Events go through the real pipeline: store_event (dedupe by event id) then process_event (the
task's body), in the generated delivery order.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import (
    BraintreePlan,
    Movement,
    Subscription,
    SubscriptionChange,
    WebhookEvent,
)
from billing.providers.base import get_adapter
from billing.providers.braintree.parse import SUBSCRIPTION_KINDS, dedupe_key
from billing.providers.chargebee.parse import parse_event
from billing.services import intake, processing
from emulator.braintree.notifications import signed_subscription_notification
from emulator.braintree.subscriptions import Customer as BraintreeCustomer
from emulator.braintree.subscriptions import Keys, Modification, Transaction
from emulator.chargebee.events import make_event
from tests.support.braintree_app import form_body

pytestmark = pytest.mark.django_db

SIGN = {Movement.NEW: 1, Movement.EXPANSION: 1, Movement.REACTIVATION: 1,
        Movement.CONTRACTION: -1, Movement.CHURN: -1, Movement.NONE: 0}
_example = itertools.count()

chargebee_state = st.tuples(
    st.sampled_from(["subscription_changed", "subscription_renewed", "subscription_cancelled",
                     "subscription_paused", "subscription_reactivated", "mrr_updated",
                     "subscription_cancellation_scheduled", "payment_failed"]),
    st.sampled_from(["active", "in_trial", "non_renewing", "paused", "cancelled"]),
    st.integers(min_value=0, max_value=20_000),  # unit price, minor units
    st.integers(min_value=1, max_value=5),  # quantity
    st.sampled_from([1, 2]),  # product catalog version
)


@st.composite
def deliveries(draw, state_strategy):
    states = draw(st.lists(state_strategy, min_size=1, max_size=6))
    order = draw(st.permutations(range(len(states))))
    dupes = draw(st.lists(st.integers(0, len(states) - 1), max_size=4))
    positions = [draw(st.integers(0, len(order) + i)) for i in range(len(dupes))]
    sequence = list(order)
    for index, position in zip(dupes, positions, strict=True):
        sequence.insert(position, index)
    return states, sequence


def chargebee_events(states, n):
    sub_id, cus_id = f"sub_prop_{n}", f"cus_prop_{n}"
    built = []
    for i, (event_type, status, price, quantity, catalog) in enumerate(states):
        built.append(make_event(
            event_type, catalog=catalog, subscription_id=sub_id, customer_id=cus_id,
            status=status, resource_version=1_700_000_000_000 + i * 1000,
            occurred_at=1_700_000_000 + i, plan_unit_price=price, quantity=quantity,
            event_id=f"ev_prop_{n}_{i}",
        ))
    return sub_id, built


def deliver_all(provider, bodies, sequence):
    for index in sequence:
        event = bodies[index]
        stored = intake.store_event(provider=provider, event_id=event["event_id"],
                                    event_type=event["event_type"], body=event["body"],
                                    occurred_at=event.get("occurred_at"))
        processing.process_event(event_id=stored.event.pk)


def assert_newest_state_and_consistent_ledger(provider, sub_id, expected, distinct):
    row = Subscription.objects.get(provider=provider, external_id=sub_id)
    assert (row.status, row.mrr, row.source_version) == (
        expected.status.value, expected.mrr, expected.source_version)
    assert WebhookEvent.objects.filter(event_id__in=distinct).count() == len(distinct)
    assert set(WebhookEvent.objects.filter(event_id__in=distinct)
               .values_list("status", flat=True)) <= {"processed", "stale"}
    ledger = list(SubscriptionChange.objects.filter(subscription=row).order_by("id"))
    assert ledger, "the first applied version always writes a ledger row"
    assert ledger[0].mrr_before == 0 and ledger[-1].mrr_after == row.mrr
    for prev, nxt in itertools.pairwise(ledger):
        assert nxt.mrr_before == prev.mrr_after
        assert nxt.source_version > prev.source_version
    assert sum(SIGN[c.movement] * c.movement_amount for c in ledger) == row.mrr


@pytest.fixture
def no_broker(monkeypatch):
    # Processing is called directly below; the enqueue is not under test.
    monkeypatch.setattr(processing.app, "send_task", lambda name, args: None)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=deliveries(chargebee_state))
def test_chargebee_any_order_and_duplication_converges(no_broker, plan):
    states, sequence = plan
    n = next(_example)
    sub_id, built = chargebee_events(states, n)
    bodies = [{"event_id": e["id"], "event_type": e["event_type"], "body": json.dumps(e)}
              for e in built]
    deliver_all("chargebee", bodies, sequence)
    newest = parse_event(event=built[-1]).subscriptions[0]
    assert_newest_state_and_consistent_ledger("chargebee", sub_id, newest,
                                              [e["id"] for e in built])


# -- Braintree: ordered by the notification timestamp ------------------------------------------

braintree_state = st.tuples(
    st.sampled_from(sorted(SUBSCRIPTION_KINDS)),
    st.sampled_from(["Active", "Past Due", "Pending", "Canceled", "Expired"]),
    st.integers(min_value=0, max_value=20_000),  # price, minor units
    st.integers(min_value=0, max_value=3),  # seats add-on quantity (0: none)
)
BRAINTREE_T0 = datetime(2024, 3, 10, 12, 30, tzinfo=UTC)


def braintree_events(states, n):
    """Signed notifications for one subscription, one second apart, as the stored bodies."""
    sub_id, payer = f"bt_sub_prop_{n}", BraintreeCustomer(f"bt_cus_prop_{n}")
    built = []
    for i, (kind, status, price, seats) in enumerate(states):
        timestamp = BRAINTREE_T0 + timedelta(seconds=i)
        form = signed_subscription_notification(
            kind, keys=Keys(), subscription_id=sub_id, status=status, plan_id="basic",
            price=f"{price // 100}.{price % 100:02d}", timestamp=timestamp,
            add_ons=[Modification("seats", "5.00", quantity=seats)] if seats else [],
            # Currency and payer ride on a transaction; the plan comes from the cache table.
            transactions=[Transaction(f"tx_{n}_{i}", "1.00", currency_iso_code="EUR",
                                      customer=payer)],
        )
        built.append({"event_id": dedupe_key(payload=form["bt_payload"]), "event_type": kind,
                      "body": form_body(form), "occurred_at": timestamp})
    return sub_id, built


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=deliveries(braintree_state))
def test_braintree_any_order_and_duplication_converges(no_broker, plan):
    # Cached plan: the worker needs no Braintree API (and no keys) for these notifications.
    BraintreePlan.objects.get_or_create(plan_id="basic", defaults={
        "billing_frequency": 1, "price": 1000, "currency": "EUR",
        "refreshed_at": timezone.now()})
    states, sequence = plan
    n = next(_example)
    sub_id, bodies = braintree_events(states, n)
    deliver_all("braintree", bodies, sequence)
    newest = get_adapter("braintree").parse_event(
        event_type=bodies[-1]["event_type"], body=bodies[-1]["body"]).subscriptions[0]
    assert_newest_state_and_consistent_ledger("braintree", sub_id, newest,
                                              [b["event_id"] for b in bodies])
