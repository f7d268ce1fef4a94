"""billing.services.upsert: existing rows written back, and new rows inserted, in one statement.

On PostgreSQL it sends binary arrays through a server-side-binding cursor; elsewhere, and
when queries are watched, it is Django's bulk_create(update_conflicts). Both must leave the
same rows behind: the changed fields written, the others as they were.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.forms.models import model_to_dict

from billing.models import Customer, StatusChoices, Subscription, SubscriptionChange
from billing.normalized import Status
from billing.services.batch import apply_subscription
from billing.services.upsert import insert_rows, update_rows
from subsync.db import binds_server_side
from tests.support.normalized import subscription

pytestmark = pytest.mark.django_db

FIELDS = ["status", "mrr", "plan_id", "cancelled_at", "cancel_reason", "raw", "customer",
          "updated_at"]


def stored(count: int) -> list[Subscription]:
    for n in range(count):
        apply_subscription(subscription=subscription(f"sub_{n}", customer_id=f"cus_{n % 2}",
                                                      raw={"n": n, "tags": ["a", "b"]}))
    return list(Subscription.objects.order_by("pk"))


def change(rows: list[Subscription]) -> None:
    other = Customer.objects.order_by("pk").last()
    for n, row in enumerate(rows):
        row.status = "cancelled" if n % 2 else "active"
        row.mrr = 1000 + n
        row.plan_id = f'plan "{n}", with {{braces}} and \\ backslash'
        row.cancelled_at = datetime(2026, 5, n + 1, 12, 30, tzinfo=UTC) if n % 2 else None
        row.cancel_reason = "" if n % 2 == 0 else "not_paid"
        row.raw = {"n": n, "nested": {"null": None, "list": [1, "x"]}}
        row.customer = other
        row.deleted_at = datetime(2030, 1, 1, tzinfo=UTC)  # not among FIELDS: not written


def snapshot() -> list[dict]:
    return [{k: v for k, v in model_to_dict(row).items() if k != "updated_at"}
            for row in Subscription.objects.order_by("pk")]


@contextmanager
def watched():
    """An execute_wrapper, as a tracing library installs: queries go through Django."""
    seen: list[str] = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield seen


def test_changed_fields_are_written_and_the_others_kept():
    rows = stored(4)
    change(rows)

    update_rows(Subscription, rows, FIELDS)

    after = list(Subscription.objects.order_by("pk"))
    assert [r.mrr for r in after] == [1000, 1001, 1002, 1003]
    assert [r.status for r in after] == ["active", "cancelled", "active", "cancelled"]
    assert after[1].cancelled_at == datetime(2026, 5, 2, 12, 30, tzinfo=UTC)
    assert after[0].cancelled_at is None
    assert after[3].plan_id == 'plan "3", with {braces} and \\ backslash'
    assert after[2].raw == {"n": 2, "nested": {"null": None, "list": [1, "x"]}}
    assert {r.customer_id for r in after} == {Customer.objects.order_by("pk").last().pk}
    assert all(r.deleted_at is None for r in after)  # not in FIELDS
    assert Subscription.objects.count() == 4


def test_a_column_that_is_null_in_every_row():
    rows = stored(3)
    for row in rows:
        row.cancelled_at = None
        row.mrr = 7

    update_rows(Subscription, rows, ["cancelled_at", "mrr"])

    assert list(Subscription.objects.values_list("cancelled_at", "mrr")) == [(None, 7)] * 3


def test_the_fast_statement_and_djangos_leave_the_same_rows():
    if connection.vendor != "postgresql":
        pytest.skip("compares the binary statement with Django's: runs on PostgreSQL (CI)")
    rows = stored(6)
    originals = snapshot()
    change(rows)
    update_rows(Subscription, rows, FIELDS)
    fast = snapshot()

    for row, original in zip(Subscription.objects.order_by("pk"), originals, strict=True):
        for name, value in original.items():  # back to the start
            setattr(row, "customer_id" if name == "customer" else name, value)
        row.save()
    assert snapshot() == originals
    rows = list(Subscription.objects.order_by("pk"))
    change(rows)
    with watched():
        update_rows(Subscription, rows, FIELDS)

    assert snapshot() == fast != originals


def test_watched_queries_go_through_django():
    rows = stored(2)
    change(rows)
    with watched() as seen:
        assert not binds_server_side(connection)
        update_rows(Subscription, rows, FIELDS)

    assert any("ON CONFLICT" in sql for sql in seen)
    assert Subscription.objects.filter(mrr__in=[1000, 1001]).count() == 2


def test_on_postgresql_unwatched_writes_bind_server_side():
    if connection.vendor != "postgresql":
        pytest.skip("server-side binding: runs on PostgreSQL (CI)")
    assert binds_server_side(connection)


def ledger_rows(subscriptions: list[Subscription]) -> list[SubscriptionChange]:
    return [SubscriptionChange(
        subscription=sub, customer=sub.customer, occurred_at=datetime(2026, 2, 3, tzinfo=UTC),
        source_version=None if n % 2 else 10 + n, status_before="" if n % 2 else "active",
        status_after="cancelled", mrr_before=500 * (n + 1), mrr_after=0,
        customer_mrr_before=500 * (n + 1), currency="EUR", movement="churn",
        movement_amount=500 * (n + 1)) for n, sub in enumerate(subscriptions)]


def ledger_snapshot(pks: list[int]) -> list[dict]:
    return [{k: v for k, v in model_to_dict(row).items() if k not in ("id", "recorded_at")}
            for row in SubscriptionChange.objects.filter(pk__in=pks).order_by("pk")]


def test_new_rows_get_their_ids_and_are_stored_as_django_stores_them():
    subscriptions = stored(4)
    before = SubscriptionChange.objects.count()
    fast = ledger_rows(subscriptions)
    insert_rows(SubscriptionChange, fast)
    with watched():
        django = ledger_rows(subscriptions)
        insert_rows(SubscriptionChange, django)

    assert SubscriptionChange.objects.count() == before + 8
    assert all(row.pk and not row._state.adding for row in fast)
    assert len({row.pk for row in fast}) == 4
    assert ledger_snapshot([r.pk for r in fast]) == ledger_snapshot([r.pk for r in django])
    assert SubscriptionChange.objects.get(pk=fast[1].pk).movement_amount == 1000


def test_a_relation_to_a_row_inserted_just_before_gets_its_id():
    customer = Customer.objects.create(provider="chargebee", external_id="cus_new")
    new = Subscription(provider="chargebee", external_id="sub_new", customer=customer,
                       status="active", currency="USD", mrr=100)
    change_row = SubscriptionChange(subscription=new, customer=customer, status_after="active",
                                    occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
                                    currency="USD", mrr_after=100, movement="new",
                                    movement_amount=100)

    insert_rows(Subscription, [new])
    insert_rows(SubscriptionChange, [change_row])

    assert new.pk and change_row.subscription_id == new.pk
    assert SubscriptionChange.objects.get(pk=change_row.pk).subscription == new


def test_values_not_already_in_the_drivers_types_go_through_the_field():
    """A str for an integer, a TextChoices member, a naive datetime and a date are what
    Django's own conversion makes of them, on both paths (passed as they are, they would be
    refused or stored differently)."""
    rows = stored(2)
    for row in rows:
        row.mrr = "2500"
        row.status = StatusChoices.CANCELLED
        row.cancel_reason = Status.ACTIVE
    rows[0].cancelled_at = datetime(2026, 5, 1, 12, 30)  # naive: taken as UTC, with a warning
    rows[1].cancelled_at = datetime(2026, 5, 2, 8, 0, tzinfo=UTC)

    with pytest.warns(RuntimeWarning, match="naive datetime"):
        update_rows(Subscription, rows, FIELDS)

    stored_rows = list(Subscription.objects.order_by("pk"))
    assert [row.mrr for row in stored_rows] == [2500, 2500]
    assert {(row.status, row.cancel_reason) for row in stored_rows} == {("cancelled", "active")}
    assert [row.cancelled_at for row in stored_rows] == [
        datetime(2026, 5, 1, 12, 30, tzinfo=UTC), datetime(2026, 5, 2, 8, 0, tzinfo=UTC)]
