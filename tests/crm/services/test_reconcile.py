"""Reconciliation against the emulator: drift is found and pushed back, missing contracts are
recreated, orphans are reported and left alone, a dry run changes nothing."""

from __future__ import annotations

from io import StringIO

import pytest
import requests
from celery.schedules import crontab
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from simple_salesforce import Salesforce

from crm import tasks
from crm.models import ContractSync, ReconcileRun, SyncAttempt
from crm.services import flush, reconcile
from tests.crm import factories as f

pytestmark = pytest.mark.django_db
State = ContractSync.State


@pytest.fixture
def admin(emu):
    """An admin editing the org by hand, through simple-salesforce like any other client."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(emu.ca_path)
    yield Salesforce(instance_url=emu.url, session_id=emu.issue_token(), session=session,
                     version="62.0")
    session.close()


def _contract(emu, ref: str) -> dict:
    [record] = emu.find("Contract", Subsync_Subscription_Id__c=ref)
    return record


def _pushed(count: int) -> list:
    subs = [f.synced_subscription(f"sub_{i}", customer_id=f"cus_{i}",
                                  customer=f.customer(f"cus_{i}", company=f"Company {i}"))
            for i in range(count)]
    flush.flush_due()
    assert all(f.sync_of(s).state == State.SYNCED for s in subs)
    return subs


def _run(*args) -> str:
    out = StringIO()
    call_command("reconcile_salesforce", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_an_org_matching_billing_is_in_sync_and_nothing_is_marked(emu):
    _pushed(3)
    result = reconcile.reconcile()

    assert (result.contracts_seen, result.accounts_seen, result.checked) == (3, 3, 3)
    assert (result.in_sync, result.drifted, result.missing, result.orphans) == (3, 0, 0, 0)
    assert result.marked == 0 and result.ok
    assert not ContractSync.objects.filter(version__gt=1).exists()
    run = ReconcileRun.objects.get(pk=result.run_id)
    assert run.outcome == ReconcileRun.Outcome.OK and run.in_sync == 3
    assert run.api_calls == result.api_calls == 2  # two SOQL queries (describe is cached)
    assert set(SyncAttempt.objects.filter(operation="query").values_list("sobject", flat=True)) \
        == {"Contract", "Account"}


def test_edited_contracts_and_accounts_are_found_and_fixed_by_the_next_flush(emu, admin):
    subs = _pushed(3)
    edited = _contract(emu, "chargebee:sub_0")
    admin.Contract.update(edited["Id"], {"Subsync_MRR__c": 1.0, "Subsync_Plan__c": None,
                                         "Description": "typed by hand"})
    [account] = emu.find("Account", Subsync_Customer_Id__c="chargebee:cus_1")
    admin.Account.update(account["Id"], {"Name": "Renamed by sales"})

    result = reconcile.reconcile()
    assert (result.in_sync, result.drifted, result.marked) == (1, 2, 2)
    drift = {item["subscription"]: item for item in result.samples["drifted"]}
    assert drift["chargebee:sub_0"]["contract"] == edited["Id"]
    assert drift["chargebee:sub_0"]["fields"]["Subsync_MRR__c"] == {"salesforce": 1.0,
                                                                     "billing": 50.0}
    assert drift["chargebee:sub_0"]["fields"]["Subsync_Plan__c"]["billing"] == "pro-monthly"
    assert set(drift["chargebee:sub_0"]["fields"]) == {
        "Subsync_MRR__c", "Subsync_Plan__c", "Description"}
    assert drift["chargebee:sub_1"]["fields"] == {
        "Account.Name": {"salesforce": "Renamed by sales", "billing": "Company 1"}}
    for sub in subs[:2]:
        row = f.sync_of(sub)
        assert row.dirty and row.state == State.PENDING and row.payload_hash == ""
    assert not f.sync_of(subs[2]).dirty

    report = flush.flush_due()  # the payload is unchanged for billing, yet it is sent again
    assert report.synced == 2
    fixed = _contract(emu, "chargebee:sub_0")
    assert fixed["Id"] == edited["Id"] and fixed["Subsync_MRR__c"] == 50.0
    assert fixed["Subsync_Plan__c"] == "pro-monthly"
    assert fixed["Description"].startswith("Chargebee subscription sub_0")
    assert emu.record("Account", account["Id"])["Name"] == "Company 1"
    assert emu.count("Contract") == 3

    again = reconcile.reconcile()
    assert (again.in_sync, again.drifted, again.marked) == (3, 0, 0)


def test_missing_contracts_are_recreated_and_orphans_are_only_reported(emu, admin):
    subs = _pushed(2)
    # An admin kept sub_0's contract as history by clearing its external id ...
    old = _contract(emu, "chargebee:sub_0")
    admin.Contract.update(old["Id"], {"Subsync_Subscription_Id__c": None})
    # ... a subscription was never tracked at all (say, imported before subsync) ...
    untracked = f.subscription("sub_new", customer_id="cus_new")
    # ... and someone created a contract for a subscription billing does not know.
    [owner] = emu.find("Account", Subsync_Customer_Id__c="chargebee:cus_1")
    ghost = admin.Contract.create({"AccountId": owner["Id"], "StartDate": "2026-01-01",
                                   "ContractTerm": 12,
                                   "Subsync_Subscription_Id__c": "chargebee:ghost"})

    result = reconcile.reconcile()
    assert (result.missing, result.orphans, result.in_sync, result.drifted) == (2, 1, 1, 0)
    assert {m["subscription"] for m in result.samples["missing"]} == {
        "chargebee:sub_0", "chargebee:sub_new"}
    assert result.samples["orphans"] == [{"contract": ghost["id"],
                                          "external_id": "chargebee:ghost",
                                          "account": "chargebee:cus_1", "status": "Draft"}]
    row = f.sync_of(subs[0])
    assert row.dirty and row.sf_contract_id == "" and row.sf_contract_status == ""
    assert f.sync_of(untracked).dirty

    flush.flush_due()
    new = _contract(emu, "chargebee:sub_0")
    assert new["Id"] != old["Id"] and new["Status"] == "Activated"
    assert _contract(emu, "chargebee:sub_new")["Status"] == "Activated"
    assert emu.record("Contract", ghost["id"])["Subsync_Subscription_Id__c"] == "chargebee:ghost"
    assert reconcile.reconcile().missing == 0


def test_a_known_contract_out_of_scope_is_compared_too(emu, admin):
    sub = f.subscription("sub_trial", status="trial")  # never tracked, never pushed
    owner = admin.Account.create({"Name": "Someone", "Subsync_Customer_Id__c": "chargebee:cus_1"})
    admin.Contract.create({"AccountId": owner["id"], "StartDate": "2026-01-01", "ContractTerm": 1,
                           "Subsync_Subscription_Id__c": "chargebee:sub_trial"})
    result = reconcile.reconcile()
    assert (result.orphans, result.drifted) == (0, 1)
    assert f.sync_of(sub).dirty  # tracked from now on: the push tells Salesforce it is a trial
    flush.flush_due()
    contract = _contract(emu, "chargebee:sub_trial")
    assert contract["Subsync_Status__c"] == "trial" and contract["Status"] == "Draft"


def test_a_dry_run_reports_and_changes_nothing(emu, admin):
    subs = _pushed(2)
    admin.Contract.update(_contract(emu, "chargebee:sub_0")["Id"], {"Subsync_MRR__c": 2.0})
    before = list(ContractSync.objects.values_list("version", "payload_hash").order_by("id"))

    result = reconcile.reconcile(dry_run=True)
    assert result.drifted == 1 and result.marked == 0 and result.run_id is None
    assert not ReconcileRun.objects.exists()
    assert list(ContractSync.objects.values_list("version", "payload_hash").order_by("id")) \
        == before
    assert not f.sync_of(subs[0]).dirty


def test_a_broken_org_fails_the_run_and_it_is_stored(start_salesforce):
    emu = start_salesforce()
    _pushed(1)
    emu.drop_field("Contract", "Subsync_MRR__c")
    result = reconcile.reconcile()
    assert not result.ok and result.error_code == "INVALID_FIELD"
    run = ReconcileRun.objects.get()
    assert run.outcome == ReconcileRun.Outcome.FAILED and "Subsync_MRR__c" in run.error_message
    with pytest.raises(CommandError, match="salesforce_check"):
        _run()


def test_renamed_fields_and_bad_names(emu, settings):
    settings.SUBSYNC_SF_FIELD_MAP = {"Contract.Subsync_Plan__c": ""}
    _pushed(1)
    assert reconcile.reconcile().in_sync == 1
    settings.SUBSYNC_SF_EXTRA_FIELDS = {"Account": {"Type; DELETE": "x"}}
    result = reconcile.reconcile()
    assert result.error_code == "INVALID_FIELD" and "SUBSYNC_SF_EXTRA_FIELDS" in \
        result.error_message


# command and task ------------------------------------------------------------------------


def test_the_command_prints_a_readable_summary(emu, admin):
    _pushed(2)
    admin.Contract.update(_contract(emu, "chargebee:sub_1")["Id"], {"ContractTerm": 3})
    dry = _run("--dry-run")
    assert "dry run: nothing changed" in dry
    assert "2 subscriptions: 1 in sync, 1 drifted, 0 missing" in dry
    assert "would mark  1 subscriptions" in dry
    assert "drifted     chargebee:sub_1" in dry and "ContractTerm: Salesforce 3, billing 12" in dry

    out = _run("--push")
    assert "marked      1 subscriptions for a push" in out
    assert '"synced": 1' in out
    assert _contract(emu, "chargebee:sub_1")["ContractTerm"] == 12
    assert ReconcileRun.objects.count() == 1


def test_without_credentials_the_command_says_what_is_missing(settings):
    settings.SALESFORCE_CLIENT_ID = ""
    with pytest.raises(CommandError, match="SALESFORCE_CLIENT_ID"):
        _run()


def test_the_nightly_task_reconciles_and_is_scheduled(emu):
    _pushed(1)
    summary = tasks.reconcile_salesforce()
    assert summary["in_sync"] == 1 and "samples" not in summary
    assert tasks.reconcile_salesforce.acks_late
    entry = django_settings.CELERY_BEAT_SCHEDULE["reconcile-salesforce"]
    assert entry["task"] == "crm.tasks.reconcile_salesforce"
    assert entry["schedule"] == crontab(hour=3, minute=17)


def test_differences_ignore_what_a_push_cannot_change():
    from crm.mapping import FieldConfig, Payload

    config = FieldConfig()
    payload = Payload(account_ref="chargebee:c", contract_ref="chargebee:s",
                      account={"Subsync_Customer_Id__c": "chargebee:c", "Name": "A"},
                      contract={"Subsync_Subscription_Id__c": "chargebee:s",
                                "CurrencyIsoCode": "EUR", "Subsync_MRR__c": 10,
                                "Subsync_Plan__c": None},
                      activate=True, digest="")
    account = {"Name": "A"}
    activated = {"Status": "Activated", "CurrencyIsoCode": "USD", "Subsync_MRR__c": 10.0,
                 "Subsync_Plan__c": "", "Account": {"Subsync_Customer_Id__c": "chargebee:c"}}
    assert reconcile.differences(payload, activated, account, config=config) == {}
    draft = {**activated, "Status": "Draft"}
    assert set(reconcile.differences(payload, draft, account, config=config)) == {
        "CurrencyIsoCode", "Status"}
    moved = {**activated, "Account": {"Subsync_Customer_Id__c": "chargebee:other"}}
    assert reconcile.differences(payload, moved, None, config=config) == {
        "AccountId": {"salesforce": "chargebee:other", "billing": "chargebee:c"},
        "Account": {"salesforce": None, "billing": "chargebee:c"}}
