"""billing.services.batch: the statements a batch runs do not grow with the events in it.

That is what makes a webhook storm cheap to apply; a field read lazily from each row (a
deferred column touched by accident) would show here as one more query per subscription.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.services.batch import Change, apply_changes
from tests.support.normalized import newer, subscription

pytestmark = pytest.mark.django_db


def statements_to_renew(count: int, *, start: int) -> int:
    """Store `count` subscriptions, then count the queries of one batch that changes all."""
    first = [subscription(f"sub_{start + n}", customer_id=f"cus_{start + n}",
                          raw={"version": 1, "n": n}) for n in range(count)]
    apply_changes([Change(subscriptions=(sub,)) for sub in first])
    renewed = [newer(sub, mrr=sub.mrr + 100, raw={"version": 2, "n": n})
               for n, sub in enumerate(first)]
    with CaptureQueriesContext(connection) as queries:
        apply_changes([Change(subscriptions=(sub,)) for sub in renewed])
    return len(queries)


def test_a_batch_of_many_changes_runs_as_many_statements_as_a_batch_of_two():
    assert statements_to_renew(12, start=100) == statements_to_renew(2, start=0)


def test_the_snapshot_is_replaced_though_the_stored_one_is_not_read():
    from billing.models import Subscription

    statements_to_renew(3, start=0)

    assert sorted(row.raw["n"] for row in Subscription.objects.all()) == [0, 1, 2]
    assert {row.raw["version"] for row in Subscription.objects.all()} == {2}


def test_changed_items_are_stored_exactly_and_unchanged_ones_left_alone():
    from billing.models import SubscriptionItem
    from billing.normalized import ItemKind, NormalizedItem

    plan = NormalizedItem(kind=ItemKind.PLAN, item_id="pro", quantity=3, unit_amount=1000,
                          amount=3000)
    setup = NormalizedItem(kind=ItemKind.CHARGE, item_id="setup", quantity=1, unit_amount=500,
                           amount=500, recurring=False)
    first = subscription("sub_a", items=(plan, setup))
    other = subscription("sub_b", customer_id="cus_b", items=(plan,))
    apply_changes([Change(subscriptions=(first,)), Change(subscriptions=(other,))])
    untouched = set(SubscriptionItem.objects.filter(subscription__external_id="sub_b")
                    .values_list("pk", flat=True))
    seats = NormalizedItem(kind=ItemKind.ADDON, item_id="seats", quantity=7, unit_amount=250,
                           amount=1750)

    apply_changes([Change(subscriptions=(newer(first, items=(plan, seats)),)),
                   Change(subscriptions=(newer(other, mrr=other.mrr),))])

    def stored(external_id):
        return list(SubscriptionItem.objects.filter(subscription__external_id=external_id)
                    .order_by("pk").values_list("kind", "item_id", "quantity", "unit_amount",
                                                "amount", "recurring"))

    assert stored("sub_a") == [("plan", "pro", 3, 1000, 3000, True),
                               ("addon", "seats", 7, 250, 1750, True)]
    assert set(SubscriptionItem.objects.filter(subscription__external_id="sub_b")
               .values_list("pk", flat=True)) == untouched
