"""billing.services.batch.apply_subscription: ordering by version, the per-customer MRR
ledger, the sync flag."""

import itertools
from dataclasses import replace

import pytest

from billing.models import Customer, Movement, Subscription, SubscriptionChange
from billing.normalized import Status
from billing.services.batch import apply_subscription
from crm.models import ContractSync
from tests.support.normalized import newer, subscription

pytestmark = pytest.mark.django_db


def movements():
    return list(SubscriptionChange.objects.order_by("id").values_list("movement",
                                                                       "movement_amount"))


def test_first_paid_subscription_is_stored_with_items_and_a_new_movement():
    result = apply_subscription(subscription=subscription(mrr=5000))
    assert result.applied
    row = Subscription.objects.get()
    assert (row.status, row.mrr, row.currency, row.customer.external_id) == (
        "active", 5000, "USD", "cus_1")
    assert row.items.count() == 1
    assert movements() == [(Movement.NEW, 5000)]
    change = SubscriptionChange.objects.get()
    assert (change.customer_mrr_before, change.customer_mrr_after) == (0, 5000)


def test_older_version_changes_nothing():
    v2 = newer(subscription(mrr=5000), mrr=7000)
    apply_subscription(subscription=v2)
    result = apply_subscription(subscription=subscription(mrr=5000))  # version 1 arrives late
    assert not result.applied
    assert Subscription.objects.get().mrr == 7000
    assert SubscriptionChange.objects.count() == 1


def test_same_version_again_is_applied_idempotently_without_a_ledger_row():
    apply_subscription(subscription=subscription())
    result = apply_subscription(subscription=subscription())
    assert result.applied and result.change is None
    assert SubscriptionChange.objects.count() == 1


def test_trial_then_conversion_then_upgrade_downgrade_and_churn():
    trial = subscription(status=Status.TRIAL, mrr=0)
    apply_subscription(subscription=trial)
    converted = newer(trial, status=Status.ACTIVE, mrr=5000)
    apply_subscription(subscription=converted)
    upgraded = newer(converted, mrr=8000)
    apply_subscription(subscription=upgraded)
    downgraded = newer(upgraded, mrr=6000)
    apply_subscription(subscription=downgraded)
    scheduled = newer(downgraded, status=Status.NON_RENEWING)  # keeps MRR until the term ends
    apply_subscription(subscription=scheduled)
    cancelled = newer(scheduled, status=Status.CANCELLED, mrr=0)
    apply_subscription(subscription=cancelled)
    assert movements() == [
        (Movement.NONE, 0), (Movement.NEW, 5000), (Movement.EXPANSION, 3000),
        (Movement.CONTRACTION, 2000), (Movement.NONE, 0), (Movement.CHURN, 6000),
    ]
    # The ledger is a chain: every row starts where the previous one ended.
    rows = list(SubscriptionChange.objects.order_by("id"))
    for prev, row in itertools.pairwise(rows):
        assert row.mrr_before == prev.mrr_after


def test_movements_are_per_customer_across_subscriptions():
    apply_subscription(subscription=subscription("sub_a", mrr=5000))
    second = subscription("sub_b", mrr=2000)
    apply_subscription(subscription=second)  # a second subscription is expansion, not new
    apply_subscription(subscription=newer(second, status=Status.CANCELLED, mrr=0))
    assert movements() == [(Movement.NEW, 5000), (Movement.EXPANSION, 2000),
                           (Movement.CONTRACTION, 2000)]


def test_a_customer_who_paid_before_comes_back_as_reactivation():
    first = subscription("sub_a", mrr=5000)
    apply_subscription(subscription=first)
    apply_subscription(subscription=newer(first, status=Status.CANCELLED, mrr=0))
    apply_subscription(subscription=subscription("sub_b", mrr=3000, version=10))
    assert movements()[-1] == (Movement.REACTIVATION, 3000)
    assert Customer.objects.get().first_paid_at is not None


def test_in_scope_change_marks_the_contract_sync_dirty_and_out_of_scope_does_not():
    apply_subscription(subscription=subscription("sub_trial", status=Status.TRIAL, mrr=0))
    assert not ContractSync.objects.exists()
    active = subscription("sub_live")
    apply_subscription(subscription=active)
    sync = ContractSync.objects.get()
    assert sync.dirty and sync.state == ContractSync.State.PENDING
    # Once tracked, a cancellation (out of scope) still bumps it so Salesforce hears of it.
    sync.synced_version = sync.version
    sync.save()
    apply_subscription(subscription=newer(active, status=Status.CANCELLED, mrr=0))
    sync.refresh_from_db()
    assert sync.dirty


def test_deleted_subscription_stops_counting():
    sub = subscription(mrr=5000)
    apply_subscription(subscription=sub)
    apply_subscription(subscription=replace(newer(sub), deleted=True))
    row = Subscription.objects.get()
    assert row.mrr == 0 and row.deleted_at is not None
    assert movements()[-1] == (Movement.CHURN, 5000)


def test_a_customer_known_only_by_id_does_not_blank_stored_details():
    apply_subscription(subscription=subscription())
    bare = subscription(version=None)
    bare = replace(bare, source_version=2,
                   customer=replace(bare.customer, email="", source_version=None, raw={}))
    apply_subscription(subscription=bare)
    assert Customer.objects.get().email == "cus_1@example.com"
    assert Subscription.objects.get().source_version == 2
