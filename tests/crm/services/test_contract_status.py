"""New Contracts are sent `Status: Draft` explicitly, never left to the org's picklist
default (issue 15, gap 3): the emulator runs as an org without a default (Status required on
insert) and as one whose default is another value."""

from __future__ import annotations

import pytest

from crm.models import ContractSync
from crm.services import flush
from tests.crm import factories as f

pytestmark = pytest.mark.django_db

State = ContractSync.State


def _contract(emu, sub) -> dict:
    [record] = emu.find("Contract", Subsync_Subscription_Id__c=f"{sub.provider}:{sub.external_id}")
    return record


def test_an_org_that_requires_status_on_insert_gets_activated_contracts(start_salesforce):
    emu = start_salesforce(contract_status_default=None)
    sub = f.synced_subscription("sub_1")

    report = flush.flush_due()

    assert report.synced == 1 and report.failed == 0
    assert _contract(emu, sub)["Status"] == "Activated"
    row = f.sync_of(sub)
    assert row.state == State.SYNCED and row.sf_contract_status == "Activated"


def test_a_new_contract_is_draft_whatever_the_org_default(start_salesforce, monkeypatch):
    """Activation left out, the contract shows what the create sent."""
    emu = start_salesforce(contract_status_default="In Approval Process")
    monkeypatch.setattr(flush, "_activate", lambda batch, items: None)
    sub = f.synced_subscription("sub_1")

    flush.flush_due()

    assert _contract(emu, sub)["Status"] == "Draft"
    assert f.sync_of(sub).sf_contract_status == "Draft"


def test_an_activated_contract_the_row_never_learnt_of_is_updated_not_refused(emu):
    """A worker killed after the activation, before its commit: the row knows no contract,
    so the push says Draft; Salesforce refuses Draft for an Activated contract, and that one
    contract is sent again without a Status."""
    sub = f.synced_subscription("sub_1", mrr=5000)
    flush.flush_due()
    ContractSync.objects.filter(subscription=sub).update(sf_contract_id="",
                                                         sf_contract_status="")
    f.changed(sub, mrr=7700)

    report = flush.flush_due()

    assert report.synced == 1 and report.failed == 0 and report.retrying == 0
    contract = _contract(emu, sub)
    assert contract["Status"] == "Activated" and contract["Subsync_MRR__c"] == 77.0
    assert emu.count("Contract") == 1
    row = f.sync_of(sub)
    assert row.state == State.SYNCED
    assert (row.sf_contract_id, row.sf_contract_status) == (contract["Id"], "Activated")
