"""A flush whose database connection dies mid-batch (PostgreSQL restarted; the worker lives)
gives back the rows it claimed as soon as the database answers again, instead of leaving them
leased for SUBSYNC_SF_CLAIM_SECONDS (issue 15); the next flush pushes them, and Salesforce
still holds one Account per customer and one Contract per subscription.

The outage is real (tests.support.database_outage: the run's server process is killed and
the database refuses connections for a while); nothing is mocked. What the test chooses is
the moment: our own renewal_opportunities.push_batch, which runs after the batch's Salesforce
writes and before its verdicts are written, is wrapped to start the outage there.
"""

from __future__ import annotations

import logging

import pytest
from django.db import OperationalError
from django.utils import timezone

from crm.models import ContractSync
from crm.services import claims, flush
from subsync import lost_connection
from tests.crm import factories as f
from tests.support.database_outage import outages

pytestmark = pytest.mark.django_db(transaction=True)

State = ContractSync.State
COMPANIES = {f"cus_{n}": f"Acme {n}" for n in range(4)}


@pytest.fixture
def cut_off():
    with outages() as cut:
        yield cut


@pytest.fixture
def subs(flushes):
    made = [f.synced_subscription(f"sub_{ref[4:]}", customer=f.customer(ref, company=name))
            for ref, name in COMPANIES.items()]
    flushes.clear()  # the requests of the changes themselves
    return made


def before_the_verdicts(monkeypatch, action) -> None:
    """Run `action` once, after the first batch's Salesforce writes, before its verdicts."""
    real = flush.renewal_opportunities.push_batch
    done = []

    def push_batch(*args, **kwargs):
        real(*args, **kwargs)
        if not done:
            done.append(True)
            action()

    monkeypatch.setattr(flush.renewal_opportunities, "push_batch", push_batch)


def test_rows_of_a_run_that_lost_its_connection_are_due_again_and_pushed_once(
    emu, subs, flushes, cut_off, monkeypatch, caplog
):
    before_the_verdicts(monkeypatch, lambda: cut_off(1.5))  # the release needs a few tries

    with caplog.at_level(logging.WARNING), pytest.raises(OperationalError):
        flush.flush_due()

    now = timezone.now()
    rows = list(ContractSync.objects.order_by("pk"))
    assert len(rows) == 4
    for row in rows:
        # Given back without a verdict: not leased, due now, no attempt counted, still dirty.
        assert (row.claimed_until, row.claimed_by, row.attempts) == (None, "", 0)
        assert row.state == State.PENDING and row.dirty
        assert row.next_attempt_at <= now
    assert claims.count_due() == 4
    assert flushes == [1]
    assert "gave back 4 Salesforce sync rows" in caplog.text

    report = flush.flush_due()

    assert report.synced == 4 and report.claimed == 4
    for sub, (ref, name) in zip(subs, COMPANIES.items(), strict=True):
        [account] = emu.find("Account", Subsync_Customer_Id__c=f"chargebee:{ref}")
        [contract] = emu.find("Contract", Subsync_Subscription_Id__c=f"chargebee:{sub.external_id}")
        assert account["Name"] == name
        assert contract["AccountId"] == account["Id"] and contract["Status"] == "Activated"
        row = f.sync_of(sub)
        assert row.state == State.SYNCED and not row.dirty and row.claimed_until is None
        assert (row.sf_account_id, row.sf_contract_id) == (account["Id"], contract["Id"])
    assert len(emu.find("Account")) == 4 and len(emu.find("Contract")) == 4


def test_rows_finished_before_the_loss_or_claimed_again_since_are_left_alone(subs):
    """The release touches only rows still holding this run's claim stamp."""
    stamp = timezone.now()
    ids = claims.claim_due(limit=10, lease_seconds=300, now=stamp)
    finished, reclaimed = ids[:2]
    ContractSync.objects.filter(pk=finished).update(claimed_until=None)  # its verdict
    ContractSync.objects.filter(pk=reclaimed).update(claimed_at=timezone.now())  # another run's

    assert claims.release_unfinished(ids=ids, claimed_at=stamp) == len(ids) - 2

    leased = dict(ContractSync.objects.values_list("pk", "claimed_until"))
    assert [pk for pk in ids if leased[pk] is not None] == [reclaimed]


def test_while_the_database_stays_down_the_error_is_raised_and_the_lease_kept(
    emu, subs, flushes, cut_off, monkeypatch, caplog
):
    """The outage outlasts the release's retries (shortened here to half a second)."""
    monkeypatch.setattr(lost_connection, "RETRY_SECONDS", 0.5)
    monkeypatch.setattr(lost_connection, "RETRY_INTERVAL", 0.1)
    outage = []
    before_the_verdicts(monkeypatch, lambda: outage.append(cut_off(30)))
    claimed_from = timezone.now()

    with caplog.at_level(logging.WARNING), pytest.raises(OperationalError):
        flush.flush_due()
    outage[0]()  # the database is back: look at what the run left

    for row in ContractSync.objects.all():
        # Still leased by the run (the lease is the fallback), no verdict, no attempt.
        assert row.claimed_at >= claimed_from and row.claimed_until > timezone.now()
        assert row.attempts == 0 and row.dirty
    assert claims.count_due() == 0
    assert flushes == []
    assert "their lease will free them" in caplog.text
