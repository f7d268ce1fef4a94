"""The push engine's failure branches a healthy org never shows (issue 15, hygiene): a bug in
the middle of a push (INTERNAL_ERROR), a result list of the wrong length, a Bulk API job
still running at its deadline. Each leaves every row due again, with the reason, and a later
flush pushes each once."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from crm.models import ContractSync
from crm.salesforce import bulk
from crm.services import flush
from tests.crm import factories as f
from tests.crm.salesforce.test_client_failures import Proxy

pytestmark = pytest.mark.django_db
State = ContractSync.State


def assert_pushed_once_each(emu, subs) -> None:
    f.make_due()
    flush.flush_due()
    for sub in subs:
        row = f.sync_of(sub)
        assert row.state == State.SYNCED and not row.dirty, row.last_error
    assert emu.count("Contract") == len(subs)
    assert {c["Status"] for c in emu.records("Contract")} == {"Activated"}


def test_a_bug_mid_push_fails_the_rows_with_internal_error_and_loses_nothing(emu, monkeypatch):
    subs = [f.synced_subscription(f"sub_{i}", customer_id=f"cus_{i}") for i in range(2)]

    def broken(batch, items):
        raise RuntimeError("a bug in the contract step")

    with monkeypatch.context() as patch:
        patch.setattr(flush, "_push_contracts", broken)
        with pytest.raises(RuntimeError):
            flush.flush_due()

    for sub in subs:
        row = f.sync_of(sub)
        assert row.last_error_code == "INTERNAL_ERROR" and "a bug" in row.last_error
        assert row.state == State.PENDING and row.dirty and row.attempts == 1
        assert row.claimed_until is None  # not held for a lease: due after its backoff
        assert row.next_attempt_at > timezone.now()
    assert_pushed_once_each(emu, subs)


def test_a_result_list_of_the_wrong_length_stops_the_run_and_loses_nothing(emu, monkeypatch):
    subs = [f.synced_subscription(f"sub_{i}", customer_id=f"cus_{i}") for i in range(2)]
    real_push = flush._push_contracts

    def through_a_broken_proxy(batch, items):
        one = json.dumps([{"id": "800000000000001AAA", "success": True, "created": True}])
        batch.client._session.mount(batch.client.instance_url + "/services/data/",
                                    Proxy(200, one.encode(), "application/json"))
        try:
            real_push(batch, items)
        finally:
            batch.client._session.adapters.pop(batch.client.instance_url + "/services/data/")

    with monkeypatch.context() as patch:
        patch.setattr(flush, "_push_contracts", through_a_broken_proxy)
        report = flush.flush_due()

    assert report.stopped and report.retrying == 2 and report.synced == 0
    for sub in subs:
        row = f.sync_of(sub)
        assert row.last_error_code == "UNEXPECTED_RESPONSE" and row.dirty
    assert emu.count("Contract") == 0
    assert_pushed_once_each(emu, subs)


def test_a_bulk_job_past_its_deadline_is_retried_without_duplicates(emu, settings, monkeypatch):
    """The job did run in the org; only its end was not seen in time. Upserts by external
    id make the retry land on the same records."""
    settings.SUBSYNC_SF_BULK_THRESHOLD = 1
    settings.SUBSYNC_SF_BULK_TIMEOUT_SECONDS = 0
    subs = [f.synced_subscription(f"sub_{i}", customer_id=f"cus_{i}") for i in range(3)]
    with monkeypatch.context() as patch:
        patch.setattr(bulk, "DONE_STATES", frozenset({"Failed", "Aborted"}))
        report = flush.flush_due()

    assert report.stopped and report.retrying == 3
    assert all(f.sync_of(s).last_error_code == "BULK_TIMEOUT" for s in subs)
    assert all(f.sync_of(s).dirty for s in subs)
    assert emu.count("Account") == 3  # the Accounts job had landed
    assert_pushed_once_each(emu, subs)
    assert emu.count("Account") == 3
