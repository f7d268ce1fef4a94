"""crm.services.actions: push now, retry, park and unpark, as an operator does them."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import ContractSync
from crm.services import actions, claims, flush
from crm.services.sync_state import note_subscription_changed, request_flush
from tests.crm import factories as f

pytestmark = pytest.mark.django_db
State = ContractSync.State


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="not-logged")


def _set(row: ContractSync, **fields) -> ContractSync:
    ContractSync.objects.filter(pk=row.pk).update(**fields)
    row.refresh_from_db()
    return row


def _failed(name: str = "sub_1", **fields) -> ContractSync:
    row = f.sync_of(f.synced_subscription(name, customer_id=f"cus_{name}"))
    values = {"state": State.FAILED, "attempts": 6, "next_attempt_at": None,
              "payload_hash": "abc", "last_error_code": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
              "last_error": "Region is required"}
    values.update(fields)
    return _set(row, **values)


def _is_due_now(row: ContractSync) -> bool:
    row.refresh_from_db()
    return (row.state == State.PENDING and row.dirty and row.attempts == 0
            and row.payload_hash == "" and row.next_attempt_at <= timezone.now())


def _flushes(callbacks) -> int:
    return sum(1 for callback in callbacks if callback is request_flush)


# push now --------------------------------------------------------------------------------


def test_push_now_makes_the_row_due_with_its_digest_forgotten_and_asks_for_a_flush(
        admin, django_capture_on_commit_callbacks):
    sub = f.synced_subscription("sub_1")
    row = _set(f.sync_of(sub), state=State.SYNCED, synced_version=1, payload_hash="abc",
               next_attempt_at=None)

    for _ in range(2):  # twice does what once does
        with django_capture_on_commit_callbacks() as callbacks:
            result = actions.push_now(subscription=sub, user=admin)
        assert (result.action, result.sync_ids, result.changed) == ("push_now", (row.pk,), 1)
        assert result.flush_requested and _flushes(callbacks) == 1
        assert _is_due_now(row)
    assert claims.claim_due(limit=10, lease_seconds=60) == [row.pk]


def test_push_now_of_a_subscription_salesforce_never_had_and_out_of_scope(admin):
    sub = f.subscription("sub_trial", status="trial")
    result = actions.push_now(subscription=sub, user=admin)
    assert (result.changed, result.sync_ids, result.flush_requested) == (0, (), False)
    assert not ContractSync.objects.exists()


def test_push_now_leaves_a_parked_row_parked(admin, django_capture_on_commit_callbacks):
    sub = f.synced_subscription("sub_1")
    row = _set(f.sync_of(sub), state=State.PARKED)
    with django_capture_on_commit_callbacks() as callbacks:
        result = actions.push_now(subscription=sub, user=admin)
    assert (result.changed, result.flush_requested, _flushes(callbacks)) == (0, False, 0)
    row.refresh_from_db()
    assert row.state == State.PARKED
    assert claims.claim_due(limit=10, lease_seconds=60) == []


# retry -----------------------------------------------------------------------------------


def test_retry_makes_a_failed_row_due_now(admin, django_capture_on_commit_callbacks):
    row = _failed()
    for _ in range(2):
        with django_capture_on_commit_callbacks() as callbacks:
            result = actions.retry_sync(sync=row, user=admin)
        assert (result.action, result.changed, result.flush_requested) == ("retry", 1, True)
        assert _flushes(callbacks) == 1
        assert _is_due_now(row)


def test_retry_skips_the_backoff_of_a_row_waiting_to_be_retried(admin):
    row = _failed(state=State.PENDING, next_attempt_at=timezone.now() + timedelta(hours=2))
    assert actions.retry_sync(sync=row, user=admin).changed == 1
    assert _is_due_now(row)


@pytest.mark.parametrize("state", [State.SYNCED, State.PARKED])
def test_retry_leaves_synced_and_parked_rows_alone(admin, state,
                                                   django_capture_on_commit_callbacks):
    row = _failed(state=state)
    with django_capture_on_commit_callbacks() as callbacks:
        result = actions.retry_sync(sync=row, user=admin)
    assert (result.changed, result.flush_requested, _flushes(callbacks)) == (0, False, 0)
    row.refresh_from_db()
    assert (row.state, row.attempts, row.payload_hash) == (state, 6, "abc")


def test_retry_all_makes_every_failed_row_due_and_nothing_else(admin):
    failed = [_failed(f"sub_{i}") for i in range(3)]
    parked = _failed("sub_parked", state=State.PARKED)
    synced = _failed("sub_synced", state=State.SYNCED, synced_version=1)

    result = actions.retry_all_failed(user=admin)

    assert result.changed == 3 and result.flush_requested
    assert sorted(result.sync_ids) == sorted(row.pk for row in failed)
    assert all(_is_due_now(row) for row in failed)
    parked.refresh_from_db()
    synced.refresh_from_db()
    assert (parked.state, synced.state) == (State.PARKED, State.SYNCED)

    again = actions.retry_all_failed(user=admin)  # nothing failed any more
    assert (again.changed, again.sync_ids, again.flush_requested) == (0, (), False)
    assert all(_is_due_now(row) for row in failed)


# park and unpark -------------------------------------------------------------------------


def test_a_parked_row_is_never_claimed_even_after_billing_changes_it(admin):
    sub = f.synced_subscription("sub_1")
    row = f.sync_of(sub)

    first = actions.park(sync=row, user=admin, reason="Region rule, ask Bob")
    second = actions.park(sync=row, user=admin, reason="again")
    assert (first.changed, second.changed) == (1, 0)

    f.changed(sub, mrr=9900)  # a billing change while parked
    row.refresh_from_db()
    assert row.state == State.PARKED and row.dirty
    assert claims.claim_due(limit=10, lease_seconds=60) == []
    assert claims.count_due() == 0


def test_unpark_makes_the_row_due_now(admin, django_capture_on_commit_callbacks):
    row = _failed(state=State.PARKED)
    with django_capture_on_commit_callbacks() as callbacks:
        result = actions.unpark(sync=row, user=admin)
    assert (result.changed, result.flush_requested, _flushes(callbacks)) == (1, True, 1)
    assert _is_due_now(row)

    again = actions.unpark(sync=row, user=admin)
    assert (again.changed, again.flush_requested) == (0, False)
    assert _is_due_now(row)
    assert claims.claim_due(limit=10, lease_seconds=60) == [row.pk]


def test_a_parked_row_is_not_pushed_and_is_once_unparked(admin, emu):
    parked = f.sync_of(f.synced_subscription("sub_parked", customer_id="cus_p"))
    f.synced_subscription("sub_free", customer_id="cus_f")
    actions.park(sync=parked, user=admin, reason="")

    flush.flush_due()
    assert [r["Subsync_Subscription_Id__c"] for r in emu.find("Contract")] == [
        "chargebee:sub_free"]

    actions.unpark(sync=parked, user=admin)
    flush.flush_due()
    parked.refresh_from_db()
    assert parked.state == State.SYNCED and not parked.dirty
    assert emu.count("Contract") == 2


def test_a_row_parked_while_it_is_pushed_stays_parked(admin, emu):
    row = f.sync_of(f.synced_subscription("sub_1"))
    [claimed] = claims.claim_due(limit=10, lease_seconds=60)
    actions.park(sync=row, user=admin, reason="")

    flush.push_claimed(client=flush.get_client(), ids=[claimed])

    row.refresh_from_db()
    assert row.state == State.PARKED and row.sf_contract_id  # pushed, verdict kept, parked
    note_subscription_changed(subscription=row.subscription)
    row.refresh_from_db()
    assert row.state == State.PARKED


# the log ---------------------------------------------------------------------------------


def test_each_action_logs_one_line_with_the_user_and_the_ids(admin, caplog, settings):
    settings.SALESFORCE_CLIENT_SECRET = "s3cret-value"
    row = _failed()
    caplog.set_level(logging.INFO, logger="crm.services.actions")

    actions.park(sync=row, user=admin, reason="wait for\nthe admin")
    actions.unpark(sync=row, user=admin)
    actions.retry_sync(sync=row, user=admin)
    actions.retry_all_failed(user=admin)
    actions.push_now(subscription=row.subscription, user=admin)

    lines = [r.getMessage() for r in caplog.records if r.name == "crm.services.actions"]
    assert len(lines) == 5
    for line, action in zip(lines, ["park", "unpark", "retry", "retry_all", "push_now"],
                            strict=True):
        assert f"action {action} by alice" in line
        assert "\n" not in line and "s3cret" not in line
    assert f"sync ids {row.pk}" in lines[0] and "'wait for\\nthe admin'" in lines[0]
