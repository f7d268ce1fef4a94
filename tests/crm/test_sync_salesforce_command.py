"""python manage.py sync_salesforce against the emulator."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from crm.models import ContractSync, SyncAttempt
from crm.salesforce.client import SalesforceClient
from crm.salesforce.config import SalesforceConfig
from tests.crm import factories as f

pytestmark = pytest.mark.django_db
State = ContractSync.State


def _run(*args) -> str:
    out = StringIO()
    call_command("sync_salesforce", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_dry_run_prints_the_payloads_and_calls_nothing(emu):
    f.synced_subscription("sub_1", customer=f.customer("cus_1", company="Acme"))
    f.subscription("sub_2", customer_id="cus_2", status="trial")
    lines = [json.loads(line) for line in _run("--all", "--dry-run").splitlines()]
    assert [line["subscription"] for line in lines] == ["chargebee:sub_1"]
    assert lines[0]["account"] == {"Subsync_Customer_Id__c": "chargebee:cus_1", "Name": "Acme"}
    assert lines[0]["contract"]["Subsync_Subscription_Id__c"] == "chargebee:sub_1"
    assert lines[0]["activate"] is True
    assert emu.call_count == 0 and emu.org.token_requests == 0
    assert not SyncAttempt.objects.exists()


def test_one_subscription_is_pushed_right_away(emu):
    sub = f.subscription("sub_1")
    other = f.synced_subscription("sub_2", customer_id="cus_2")
    out = _run("--subscription", "chargebee:sub_1")
    assert "chargebee:sub_1: synced" in out
    assert f.sync_of(sub).state == State.SYNCED
    assert f.sync_of(other).dirty  # not selected


def test_all_marks_everything_in_scope_and_force_pushes_unchanged_payloads(emu):
    subs = [f.subscription(f"sub_{i}", customer_id=f"cus_{i}") for i in range(3)]
    f.subscription("sub_trial", customer_id="cus_t", status="trial")
    report = json.loads(_run("--all").splitlines()[-1])
    assert report["synced"] == 3
    assert all(f.sync_of(s).state == State.SYNCED for s in subs)
    assert emu.count("Contract") == 3

    emu.clear_calls()
    again = json.loads(_run("--all").splitlines()[-1])
    assert (again["unchanged"], again["synced"]) == (3, 0)
    assert emu.call_count == 0
    assert json.loads(_run("--all", "--force").splitlines()[-1])["synced"] == 3
    assert emu.count("Contract") == 3


def test_repairing_a_customer_change_on_an_activated_contract(emu):
    sub = f.synced_subscription("sub_1", customer_id="cus_old")
    _run()
    old = f.sync_of(sub).sf_contract_id
    f.changed(sub, customer=f.customer("cus_new"))
    _run()
    assert f.sync_of(sub).last_error_code == "ACTIVATED_CONTRACT_ACCOUNT_CHANGED"

    # What the message tells the admin to do: keep the old contract as history, then ...
    admin = SalesforceClient(config=SalesforceConfig.from_settings())
    [cleared] = admin.update_collection(
        sobject="Contract", records=[{"Id": old, "Subsync_Subscription_Id__c": None}]
    )
    assert cleared.success
    _run("--subscription", "chargebee:sub_1", "--forget-contract")

    row = f.sync_of(sub)
    assert row.state == State.SYNCED and row.sf_contract_id != old
    [new] = emu.find("Contract", Subsync_Subscription_Id__c="chargebee:sub_1")
    [owner] = emu.find("Account", Subsync_Customer_Id__c="chargebee:cus_new")
    assert new["AccountId"] == owner["Id"] and new["Status"] == "Activated"


def test_without_credentials_the_command_says_what_is_missing(settings):
    settings.SALESFORCE_CLIENT_ID = ""
    with pytest.raises(CommandError, match="SALESFORCE_CLIENT_ID"):
        _run("--all")
