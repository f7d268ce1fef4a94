"""A customer's own change reaches Salesforce: the Account its subscriptions push is renamed.

Chargebee's customer_changed (and a Braintree customer update) carries the customer alone, no
subscription. Found by the fault campaign (bench/faults.py): a company renamed after the first
push left the Account's old name in Salesforce, while every sync row said it was in step.
Through the billing batch (billing.services.batch.apply_changes) and the emulator over HTTPS.
"""

from __future__ import annotations

import pytest

from billing.normalized import NormalizedCustomer, Provider
from billing.services.batch import Change, apply_changes
from crm.models import ContractSync
from crm.services import flush
from tests.crm import factories as f

pytestmark = pytest.mark.django_db


def _account_name(emu, ref: str) -> str:
    [record] = emu.find("Account", Subsync_Customer_Id__c=ref)
    return record["Name"]


def _rename(external_id: str, company: str, *, version: int) -> None:
    apply_changes([Change(customers=(NormalizedCustomer(
        provider=Provider.CHARGEBEE, external_id=external_id, email=f"{external_id}@example.com",
        company=company, source_version=version),))])


def test_a_customer_renamed_after_the_push_renames_its_account(emu):
    owner = f.customer("cus_1", company="Acme Ltd", source_version=1)
    subs = [f.synced_subscription(f"sub_{i}", customer=owner) for i in (1, 2)]
    other = f.synced_subscription("sub_9", customer_id="cus_9",
                                  customer=f.customer("cus_9", company="Other Inc"))
    flush.flush_due()
    assert _account_name(emu, "chargebee:cus_1") == "Acme Ltd"
    versions = {sub.pk: f.sync_of(sub).version for sub in [*subs, other]}

    _rename("cus_1", "Acme Holdings", version=2)

    # Both of the customer's subscriptions push its Account: both are due again; the other
    # customer's row is left alone.
    for sub in subs:
        row = f.sync_of(sub)
        assert row.dirty and row.version == versions[sub.pk] + 1
    assert not f.sync_of(other).dirty and f.sync_of(other).version == versions[other.pk]

    flush.flush_due()
    assert _account_name(emu, "chargebee:cus_1") == "Acme Holdings"
    assert emu.count("Account") == 2 and emu.count("Contract") == 3
    assert all(f.sync_of(sub).state == ContractSync.State.SYNCED for sub in subs)


def test_an_older_customer_event_changes_nothing_and_bumps_nothing(emu):
    owner = f.customer("cus_1", company="Acme Ltd", source_version=5)
    sub = f.synced_subscription("sub_1", customer=owner)
    flush.flush_due()
    version = f.sync_of(sub).version

    _rename("cus_1", "Acme (old name)", version=4)  # delivered late: older than what we hold

    assert not f.sync_of(sub).dirty and f.sync_of(sub).version == version
    flush.flush_due()
    assert _account_name(emu, "chargebee:cus_1") == "Acme Ltd"
