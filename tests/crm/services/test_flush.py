"""The push engine against the emulator: real HTTPS, real simple-salesforce, real org rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import ContractSync, SyncAttempt
from crm.salesforce.client import SalesforceClient
from crm.selectors import latest_api_usage
from crm.services import flush
from tests.crm import factories as f

pytestmark = pytest.mark.django_db

State = ContractSync.State
ACCOUNTS = "/composite/sobjects/Account/"
CONTRACTS = "/composite/sobjects/Contract/"
ACTIVATION = "/composite/sobjects"


def _paths(emu) -> list[str]:
    return [path.split("/v62.0")[1] for _, path in emu.calls]


def _contract(emu, sub) -> dict:
    [record] = emu.find("Contract", Subsync_Subscription_Id__c=f"{sub.provider}:{sub.external_id}")
    return record


def _account(emu, customer_ref: str) -> dict:
    [record] = emu.find("Account", Subsync_Customer_Id__c=customer_ref)
    return record


# create, update, activate, skip ---------------------------------------------------------


def test_a_new_subscription_becomes_an_account_and_an_activated_contract(emu):
    sub = f.synced_subscription("sub_1", customer_id="cus_1",
                                customer=f.customer("cus_1", company="Acme"))
    report = flush.flush_due()

    account = _account(emu, "chargebee:cus_1")
    contract = _contract(emu, sub)
    assert account["Name"] == "Acme"
    assert contract["AccountId"] == account["Id"]
    assert contract["Status"] == "Activated"
    assert contract["StartDate"] == "2026-01-01" and contract["ContractTerm"] == 12
    assert contract["Subsync_MRR__c"] == 50.0 and contract["Subsync_Status__c"] == "active"
    row = f.sync_of(sub)
    assert row.state == State.SYNCED and not row.dirty
    assert (row.sf_account_id, row.sf_contract_id) == (account["Id"], contract["Id"])
    assert row.sf_contract_status == "Activated"
    assert row.last_synced_at is not None and row.claimed_until is None
    # describe (once per org), Accounts, Contracts (created Draft), then one activation.
    assert _paths(emu) == ["/sobjects/Contract/describe", ACCOUNTS + "Subsync_Customer_Id__c",
                           CONTRACTS + "Subsync_Subscription_Id__c", ACTIVATION]
    assert report.synced == 1 and report.calls == 4


def test_every_call_is_logged_with_its_outcome_and_the_api_usage(emu):
    f.synced_subscription("sub_1")
    flush.flush_due()
    attempts = list(SyncAttempt.objects.order_by("id"))
    assert [(a.operation, a.sobject) for a in attempts] == [
        ("login", ""), ("describe", "Contract"), ("upsert", "Account"),
        ("upsert", "Contract"), ("update", "Contract"),
    ]
    assert all(a.outcome == SyncAttempt.Outcome.SUCCESS for a in attempts)
    upsert = attempts[3]
    assert upsert.records == ["chargebee:sub_1"]
    assert upsert.results[0]["success"] and upsert.results[0]["created"]
    assert upsert.http_status == 200 and upsert.duration_ms is not None
    assert (upsert.api_usage_used, upsert.api_usage_max) == (3, emu.daily_limit)
    usage = latest_api_usage()
    assert (usage.used, usage.limit) == (emu.api_usage, emu.daily_limit)


def test_the_attempt_row_exists_before_the_call_is_made(emu, monkeypatch):
    f.synced_subscription("sub_1")
    seen = []
    original = SalesforceClient.upsert_collection

    def spy(self, **kwargs):
        seen.append(SyncAttempt.objects.filter(sobject=kwargs["sobject"]).last().outcome)
        return original(self, **kwargs)

    monkeypatch.setattr(SalesforceClient, "upsert_collection", spy)
    flush.flush_due()
    assert seen == [SyncAttempt.Outcome.STARTED, SyncAttempt.Outcome.STARTED]


def test_a_change_updates_the_contract_without_activating_it_again(emu):
    sub = f.synced_subscription("sub_1")
    flush.flush_due()
    emu.clear_calls()
    f.changed(sub, mrr=9900, plan_id="pro-yearly")
    report = flush.flush_due()

    contract = _contract(emu, sub)
    assert contract["Subsync_MRR__c"] == 99.0 and contract["Subsync_Plan__c"] == "pro-yearly"
    assert contract["Status"] == "Activated"
    assert emu.count("Contract") == 1 and emu.count("Account") == 1
    assert _paths(emu) == [ACCOUNTS + "Subsync_Customer_Id__c",
                           CONTRACTS + "Subsync_Subscription_Id__c"]
    assert report.calls == 2 and f.sync_of(sub).state == State.SYNCED


def test_an_unchanged_payload_is_marked_synced_without_any_call(emu):
    sub = f.synced_subscription("sub_1")
    flush.flush_due()
    emu.clear_calls()
    f.changed(sub, raw={"irrelevant": True})  # a change that Salesforce does not see
    assert f.sync_of(sub).dirty

    report = flush.flush_due()
    assert emu.call_count == 0 and report.calls == 0
    assert (report.unchanged, report.synced) == (1, 0)
    row = f.sync_of(sub)
    assert row.state == State.SYNCED and not row.dirty
    assert flush.flush_due().claimed == 0 and emu.call_count == 0


def test_a_cancellation_updates_the_activated_contract_and_sets_no_forbidden_status(emu):
    sub = f.synced_subscription("sub_1")
    flush.flush_due()
    emu.clear_calls()
    cancelled = timezone.now()
    f.changed(sub, status="cancelled", cancelled_at=cancelled, next_renewal_at=None)
    flush.flush_due()

    contract = _contract(emu, sub)
    assert contract["Subsync_Status__c"] == "cancelled"
    assert contract["Subsync_Cancelled_Date__c"] == cancelled.date().isoformat()
    assert contract["Subsync_Renewal_Date__c"] is None
    assert contract["Status"] == "Activated"
    assert ACTIVATION not in _paths(emu)
    assert f.sync_of(sub).state == State.SYNCED


def test_a_subscription_that_leaves_scope_before_its_first_push_costs_nothing(emu):
    sub = f.synced_subscription("sub_1")
    f.changed(sub, status="cancelled")
    report = flush.flush_due()
    assert emu.call_count == 0 and emu.count("Contract") == 0
    assert report.out_of_scope == 1 and f.sync_of(sub).state == State.SYNCED


def test_one_customer_with_two_subscriptions_gets_one_account(emu):
    owner = f.customer("cus_1", company="Acme")
    first = f.synced_subscription("sub_1", customer=owner)
    second = f.synced_subscription("sub_2", customer=owner)
    flush.flush_due()

    account = _account(emu, "chargebee:cus_1")
    assert emu.count("Account") == 1
    owners = {_contract(emu, sub)["AccountId"] for sub in (first, second)}
    assert owners == {account["Id"]}
    upsert = SyncAttempt.objects.get(operation="upsert", sobject="Account")
    assert upsert.records == ["chargebee:cus_1"]


def test_a_thousand_subscriptions_take_five_batches_of_three_calls(emu, settings):
    f.many(1000)
    report = flush.flush_due(time_budget=600)

    assert ContractSync.objects.filter(state=State.SYNCED).count() == 1000
    assert emu.count("Contract") == 1000 and emu.count("Account") == 1000
    assert all(c["Status"] == "Activated" for c in emu.records("Contract"))
    # 1 describe + 5 x (Accounts, Contracts, activation)
    assert emu.call_count == report.calls == 16
    assert report.batches == 5


# multi-currency --------------------------------------------------------------------------


def test_multi_currency_org_gets_the_contract_currency(start_salesforce):
    emu = start_salesforce(multi_currency=True)
    eur = f.synced_subscription("sub_eur", currency="EUR", mrr=12345)
    jpy = f.synced_subscription("sub_jpy", customer_id="cus_2", currency="JPY", mrr=5000)
    flush.flush_due()
    assert _contract(emu, eur)["CurrencyIsoCode"] == "EUR"
    assert _contract(emu, eur)["Subsync_MRR__c"] == 123.45
    assert _contract(emu, jpy)["CurrencyIsoCode"] == "JPY"
    assert _contract(emu, jpy)["Subsync_MRR__c"] == 5000


def test_single_currency_org_is_never_sent_a_currency(emu):
    sub = f.synced_subscription("sub_jpy", currency="JPY", mrr=5000)
    flush.flush_due()
    contract = _contract(emu, sub)
    assert "CurrencyIsoCode" not in contract and contract["Subsync_MRR__c"] == 5000
    assert f.sync_of(sub).state == State.SYNCED


def test_a_currency_the_org_lacks_fails_only_that_record_permanently(start_salesforce):
    emu = start_salesforce(multi_currency=True)
    fine = f.synced_subscription("sub_usd")
    odd = f.synced_subscription("sub_brl", customer_id="cus_2", currency="BRL")
    report = flush.flush_due()

    assert f.sync_of(fine).state == State.SYNCED
    row = f.sync_of(odd)
    assert row.state == State.FAILED and row.next_attempt_at is None
    assert row.last_error_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert "BRL" in row.last_error
    assert report.failed == 1 and report.synced == 1
    assert emu.count("Contract") == 1
    assert flush.flush_due().claimed == 0  # a permanent failure is not retried as it is ...

    f.changed(odd, currency="EUR")  # ... but the next change is pushed
    flush.flush_due()
    assert f.sync_of(odd).state == State.SYNCED
    assert _contract(emu, odd)["CurrencyIsoCode"] == "EUR"


# faults ----------------------------------------------------------------------------------


def _assert_all_synced_once(emu, subs) -> None:
    for sub in subs:
        row = f.sync_of(sub)
        assert row.state == State.SYNCED and not row.dirty, row.last_error
        contract = _contract(emu, sub)  # exactly one per subscription
        assert contract["Status"] == "Activated"
        assert row.sf_contract_id == contract["Id"]
    assert emu.count("Contract") == len(subs)


def test_a_server_error_backs_off_stops_the_run_and_loses_nothing(emu):
    subs = [f.synced_subscription(f"sub_{i}", customer_id=f"cus_{i}") for i in range(3)]
    emu.inject("server_error", status=503, path="Account")
    before = timezone.now()
    report = flush.flush_due()

    assert report.stopped and report.retrying == 3
    for sub in subs:
        row = f.sync_of(sub)
        assert row.state == State.PENDING and row.dirty and row.attempts == 1
        assert row.last_error_code == "SERVER_UNAVAILABLE"
        assert row.next_attempt_at >= before + timedelta(seconds=30)
        assert row.claimed_until is None
    assert flush.flush_due().claimed == 0  # backing off

    f.make_due()
    flush.flush_due()
    _assert_all_synced_once(emu, subs)
    assert all(f.sync_of(s).attempts == 0 for s in subs)


def test_a_timeout_is_retried_without_duplicating_records(emu, settings):
    settings.SALESFORCE_TIMEOUT = 0.3
    subs = [f.synced_subscription(f"sub_{i}", customer_id=f"cus_{i}") for i in range(2)]
    emu.inject("latency", seconds=1.0, path="Contract/Subsync")
    flush.flush_due()
    assert all(f.sync_of(s).last_error_code == "TIMEOUT" for s in subs)
    assert all(f.sync_of(s).state == State.PENDING for s in subs)

    # The org may still apply the request it was too slow to answer; the retry upserts the
    # same external ids, so whichever lands first, there is one contract per subscription.
    f.make_due()
    flush.flush_due()
    _assert_all_synced_once(emu, subs)


def test_a_locked_row_fails_only_its_record_and_the_batch_goes_on(emu):
    locked = f.synced_subscription("sub_1", customer_id="cus_1")
    fine = f.synced_subscription("sub_2", customer_id="cus_2")
    emu.inject("unable_to_lock_row", path="Contract/Subsync", records=1)
    report = flush.flush_due()

    assert not report.stopped
    assert f.sync_of(fine).state == State.SYNCED
    row = f.sync_of(locked)
    assert row.state == State.PENDING and row.last_error_code == "UNABLE_TO_LOCK_ROW"
    # A lock is retried soon (first backoff 5-10 s: base 10 s with jitter), not in a minute.
    assert row.next_attempt_at > timezone.now()
    assert row.next_attempt_at <= timezone.now() + timedelta(seconds=10)
    f.make_due(row)
    flush.flush_due()
    _assert_all_synced_once(emu, [locked, fine])


def test_an_expired_session_mid_run_logs_in_again_and_continues(emu):
    subs = [f.synced_subscription(f"sub_{i}", customer_id=f"cus_{i}") for i in range(3)]
    emu.inject("invalid_session", path="Contract/Subsync")
    report = flush.flush_due()

    assert report.synced == 3 and not report.stopped
    assert emu.org.token_requests == 2
    _assert_all_synced_once(emu, subs)


def test_request_limit_exceeded_below_the_daily_limit_backs_off_briefly_and_loses_nothing(emu):
    """The org has nearly all of its daily calls left, so another limit (concurrent long
    requests) refused the call: the usual backoff, not the hour a spent daily limit waits
    (that case: test_daily_limit_reached_then_reset)."""
    subs = [f.synced_subscription(f"sub_{i}", customer_id=f"cus_{i}") for i in range(2)]
    emu.inject("request_limit", path="Contract/Subsync")
    before = timezone.now()
    report = flush.flush_due()

    assert report.stopped
    assert emu.count("Account") == 2 and emu.count("Contract") == 0
    for sub in subs:
        row = f.sync_of(sub)
        assert row.dirty and row.state == State.PENDING
        assert row.last_error_code == "REQUEST_LIMIT_EXCEEDED"
        assert before < row.next_attempt_at < before + timedelta(hours=1)

    f.make_due()
    flush.flush_due()
    _assert_all_synced_once(emu, subs)
    assert emu.count("Account") == 2


def test_daily_limit_reached_then_reset(start_salesforce):
    emu = start_salesforce(daily_limit=3)  # describe, Accounts, Contracts: no activation left
    subs = [f.synced_subscription(f"sub_{i}", customer_id=f"cus_{i}") for i in range(2)]
    before = timezone.now()
    flush.flush_due()

    drafts = [_contract(emu, sub) for sub in subs]
    assert all(c["Status"] == "Draft" for c in drafts)
    for sub in subs:
        row = f.sync_of(sub)
        assert row.dirty and row.last_error_code == "REQUEST_LIMIT_EXCEEDED"
        assert row.next_attempt_at >= before + timedelta(hours=1)  # the daily limit is spent
        assert row.sf_contract_id and row.sf_contract_status == "Draft"

    emu.reset_usage()  # the rolling 24 hours have passed
    f.make_due()
    flush.flush_due()
    _assert_all_synced_once(emu, subs)
    assert emu.count("Account") == 2


def test_transient_failures_turn_failed_after_max_attempts_but_are_still_retried(emu, settings):
    settings.SUBSYNC_SF_MAX_ATTEMPTS = 2
    sub = f.synced_subscription("sub_1")
    for _ in range(2):
        emu.inject("server_error", status=502, path="Account")
        f.make_due()
        flush.flush_due()
    row = f.sync_of(sub)
    assert row.state == State.FAILED and row.attempts == 2 and row.next_attempt_at is not None
    f.make_due()
    flush.flush_due()
    _assert_all_synced_once(emu, [sub])


def test_a_login_failure_leaves_rows_untouched_and_backs_off(emu, settings):
    settings.SALESFORCE_CLIENT_SECRET = "wrong"
    sub = f.synced_subscription("sub_1")
    report = flush.flush_due()

    row = f.sync_of(sub)
    assert report.stopped and row.attempts == 0 and row.state == State.PENDING and row.dirty
    assert row.last_error_code == "AUTHENTICATION_FAILED"
    assert row.next_attempt_at > timezone.now() + timedelta(minutes=10)
    assert SyncAttempt.objects.get(operation="login").outcome == SyncAttempt.Outcome.FAILED
    assert emu.call_count == 0


# budget guard ----------------------------------------------------------------------------


def test_over_budget_only_existing_contracts_are_pushed(start_salesforce, settings):
    settings.SUBSYNC_SF_API_BUDGET_PCT = 30
    emu = start_salesforce(daily_limit=10)
    known = f.synced_subscription("sub_1")
    flush.flush_due()  # 4 calls: 40% of the day's budget
    emu.clear_calls()

    f.changed(known, mrr=7700)
    new = f.synced_subscription("sub_2", customer_id="cus_2")
    report = flush.flush_due()

    assert report.deferred == 1 and report.synced == 1
    assert _contract(emu, known)["Subsync_MRR__c"] == 77.0
    waiting = f.sync_of(new)
    assert waiting.state == State.PENDING and waiting.dirty
    assert waiting.last_error_code == "API_BUDGET"
    assert "30% budget" in waiting.last_error and "SUBSYNC_SF_API_BUDGET_PCT" in waiting.last_error
    assert emu.count("Contract") == 1

    # Usage falls (a new day): the next flush refreshes the stale usage with one call.
    emu.reset_usage()
    settings.SUBSYNC_SF_USAGE_REFRESH_SECONDS = 0
    f.make_due(waiting)
    flush.flush_due()
    assert f.sync_of(new).state == State.SYNCED
    assert SyncAttempt.objects.filter(operation="limits").exists()


# concurrency with billing ----------------------------------------------------------------


def test_a_change_during_the_push_keeps_the_row_dirty(emu, monkeypatch):
    sub = f.synced_subscription("sub_1", mrr=1000)
    original = SalesforceClient.upsert_collection

    def change_then_upsert(self, **kwargs):
        if kwargs["sobject"] == "Contract" and sub.mrr == 1000:
            f.changed(sub, mrr=2000)  # a webhook landing mid-push
        return original(self, **kwargs)

    monkeypatch.setattr(SalesforceClient, "upsert_collection", change_then_upsert)
    flush.flush_due(time_budget=0)  # one batch only

    row = f.sync_of(sub)
    assert row.dirty and row.state == State.PENDING
    assert row.sf_contract_id and row.sf_contract_status == "Activated"
    assert _contract(emu, sub)["Subsync_MRR__c"] == 10.0  # what was pushed: the old version

    flush.flush_due()
    assert _contract(emu, sub)["Subsync_MRR__c"] == 20.0
    assert not f.sync_of(sub).dirty and emu.count("Contract") == 1


def test_a_customer_change_on_an_activated_contract_fails_with_an_actionable_message(emu):
    sub = f.synced_subscription("sub_1", customer_id="cus_old")
    flush.flush_due()
    before = _contract(emu, sub)

    f.changed(sub, customer=f.customer("cus_new", company="New Owner"))
    report = flush.flush_due()

    row = f.sync_of(sub)
    assert report.failed == 1
    assert row.state == State.FAILED and row.next_attempt_at is None
    assert row.last_error_code == "ACTIVATED_CONTRACT_ACCOUNT_CHANGED"
    assert before["Id"] in row.last_error and "chargebee:cus_new" in row.last_error
    assert "sync_salesforce --subscription chargebee:sub_1 --forget-contract" in row.last_error
    assert _contract(emu, sub)["AccountId"] == before["AccountId"]
