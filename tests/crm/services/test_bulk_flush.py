"""The push engine's Bulk API 2.0 path: many due rows become three ingest jobs, not 3 x N/200
collection calls, and the results are applied to ContractSync exactly like collections."""

from __future__ import annotations

import pytest
from django.utils import timezone

from crm.models import ContractSync, SyncAttempt
from crm.services import flush
from tests.crm import factories as f

pytestmark = pytest.mark.django_db
State = ContractSync.State
JOB_STEPS = ["create_job", "upload", "close", "poll", "results"]


def _contract(emu, sub) -> dict:
    [record] = emu.find("Contract", Subsync_Subscription_Id__c=f"{sub.provider}:{sub.external_id}")
    return record


def test_2500_new_subscriptions_take_three_bulk_jobs_and_end_activated(emu):
    f.many(2500)
    report = flush.flush_due(time_budget=600)

    assert report.bulk_batches == report.batches == 1
    assert report.synced == 2500 and report.failed == report.retrying == 0
    assert ContractSync.objects.filter(state=State.SYNCED).count() == 2500
    assert emu.count("Account") == 2500 and emu.count("Contract") == 2500
    assert {c["Status"] for c in emu.records("Contract")} == {"Activated"}
    rows = ContractSync.objects.all()
    assert all(r.sf_contract_id and r.sf_account_id and r.sf_contract_status == "Activated"
               and not r.dirty for r in rows)
    # describe + (create, upload, close, poll, results) for Accounts, Contracts, activation
    assert emu.call_count == report.calls == 16
    assert not any("/composite/" in path for _, path in emu.calls)
    attempts = list(SyncAttempt.objects.exclude(operation__in=["login", "describe"])
                    .order_by("id").values_list("operation", "sobject", "outcome"))
    expected = [(f"bulk_{op}.{step}", sobject, "success")
                for op, sobject in (("upsert", "Account"), ("upsert", "Contract"),
                                    ("update", "Contract")) for step in JOB_STEPS]
    assert attempts == expected
    results = SyncAttempt.objects.get(operation="bulk_upsert.results", sobject="Contract")
    assert len(results.results) == 2500 and all(r["created"] for r in results.results)


def test_at_the_threshold_collections_are_used(emu, settings):
    settings.SUBSYNC_SF_BULK_THRESHOLD = 300
    f.many(300)
    report = flush.flush_due()
    assert report.bulk_batches == 0 and report.batches == 2
    assert report.synced == 300


def test_per_record_failures_in_bulk_jobs_are_handled_like_in_collections(start_salesforce,
                                                                          settings):
    settings.SUBSYNC_SF_BULK_THRESHOLD = 3
    emu = start_salesforce(multi_currency=True)
    subs = [f.synced_subscription(f"sub_{i}", customer_id=f"cus_{i}") for i in range(4)]
    odd = f.synced_subscription("sub_brl", customer_id="cus_brl", currency="BRL")
    # The first Account row of the Accounts job cannot be locked (transient).
    emu.inject("unable_to_lock_row", path="/jobs/ingest/", records=1)
    before = timezone.now()
    report = flush.flush_due()

    assert report.bulk_batches == 1 and not report.stopped
    locked = f.sync_of(subs[0])
    assert locked.state == State.PENDING and locked.dirty
    assert locked.last_error_code == "UNABLE_TO_LOCK_ROW" and locked.attempts == 1
    assert locked.next_attempt_at > before and "Account chargebee:cus_0" in locked.last_error
    failed = f.sync_of(odd)
    assert failed.state == State.FAILED and failed.next_attempt_at is None
    assert failed.last_error_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert "BRL" in failed.last_error
    assert all(f.sync_of(s).state == State.SYNCED for s in subs[1:])
    assert (report.synced, report.retrying, report.failed) == (3, 1, 1)
    contracts = SyncAttempt.objects.get(operation="bulk_upsert.results", sobject="Contract")
    assert contracts.outcome == SyncAttempt.Outcome.PARTIAL
    assert contracts.error_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"

    # The retry (now only one row is due: collections) creates the missing contract once.
    f.make_due(locked)
    flush.flush_due()
    assert f.sync_of(subs[0]).state == State.SYNCED
    assert _contract(emu, subs[0])["Status"] == "Activated"
    assert emu.count("Contract") == 4


def test_a_job_that_fails_as_a_whole_fails_every_row_it_carried(start_salesforce, settings):
    settings.SUBSYNC_SF_BULK_THRESHOLD = 1
    emu = start_salesforce()
    emu.drop_field("Contract", "Subsync_Plan__c")
    subs = [f.synced_subscription(f"sub_{i}", customer_id=f"cus_{i}") for i in range(3)]
    report = flush.flush_due()

    assert report.failed == 3 and not report.stopped
    for sub in subs:
        row = f.sync_of(sub)
        assert row.state == State.FAILED and row.last_error_code == "BULK_JOB_FAILED"
        assert "Subsync_Plan__c" in row.last_error
        assert row.sf_account_id  # the Accounts job went through
    assert emu.count("Contract") == 0 and emu.count("Account") == 3


def test_an_outage_during_a_bulk_job_stops_the_run_and_loses_nothing(emu, settings):
    settings.SUBSYNC_SF_BULK_THRESHOLD = 1
    subs = [f.synced_subscription(f"sub_{i}", customer_id=f"cus_{i}") for i in range(3)]
    emu.inject("server_error", method="POST", path="/jobs/ingest$")
    report = flush.flush_due()

    assert report.stopped and report.retrying == 3
    assert all(f.sync_of(s).last_error_code == "SERVER_UNAVAILABLE" for s in subs)
    assert all(f.sync_of(s).dirty for s in subs)
    f.make_due()
    flush.flush_due()
    assert all(f.sync_of(s).state == State.SYNCED for s in subs)
    assert {c["Status"] for c in emu.records("Contract")} == {"Activated"}
    assert emu.count("Contract") == 3


def test_changes_to_existing_contracts_go_through_bulk_without_reactivating(emu, settings):
    subs = [f.synced_subscription(f"sub_{i}", customer_id=f"cus_{i}") for i in range(4)]
    flush.flush_due()  # collections: a handful
    settings.SUBSYNC_SF_BULK_THRESHOLD = 2
    for sub in subs:
        f.changed(sub, mrr=sub.mrr + 100, next_renewal_at=None)
    emu.clear_calls()
    report = flush.flush_due()

    assert report.bulk_batches == 1 and report.synced == 4
    assert not any("bulk_update" in op for op in SyncAttempt.objects.values_list(
        "operation", flat=True))
    for sub in subs:
        contract = _contract(emu, sub)
        assert contract["Subsync_MRR__c"] == 51.0
        assert contract["Subsync_Renewal_Date__c"] is None  # cleared with #N/A
        assert contract["Status"] == "Activated"
    assert emu.count("Contract") == 4


# how long one flush goes on -----------------------------------------------------------------


def test_a_flush_clears_a_backlog_but_leaves_changes_arriving_meanwhile_to_their_own_flush(
        emu, monkeypatch):
    from crm.salesforce.client import SalesforceClient

    f.many(450)
    late, contract_upserts = [], []
    original = SalesforceClient.upsert_collection

    def upsert_then_change(self, **kwargs):
        if kwargs["sobject"] == "Contract":
            contract_upserts.append(len(kwargs["records"]))
            if len(contract_upserts) == 3:  # a webhook lands while the last batch is pushed
                late.append(f.synced_subscription("sub_late", customer_id="cus_late"))
        return original(self, **kwargs)

    monkeypatch.setattr(SalesforceClient, "upsert_collection", upsert_then_change)
    report = flush.flush_due()
    assert contract_upserts == [200, 200, 50] and report.synced == 450  # caught up: stop
    assert f.sync_of(late[0]).dirty  # it committed during the push and asked for a flush

    assert flush.flush_due().synced == 1
    assert not f.sync_of(late[0]).dirty
