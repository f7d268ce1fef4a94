"""Rows held back by a Salesforce outage come due as soon as Salesforce answers again
(issue 15: converge within a minute of any fault ending, on the default backoff).

The rule (crm.services.claims.bring_forward_after_outage): when a flush run reaches
Salesforce and nothing stops it, the rows whose last error was a failure of the org or the
network (5xx, timeout, expired session, ...) and whose backoff lies ahead become due now,
with their attempts unchanged, and one flush is requested for them. A per-record lock
(UNABLE_TO_LOCK_ROW) and a permanent failure keep their schedule; REQUEST_LIMIT_EXCEEDED rows
come forward only while usage is under the budget (SUBSYNC_SF_API_BUDGET_PCT).

Everything runs against the emulator over HTTPS. Only the Celery send of the follow-up flush
is recorded instead of sent (the `tasks` fixture): no worker consumes the broker here.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import ContractSync
from crm.services import flush
from crm.services.sync_state import FLUSH_TASK
from tests.crm import factories as f
from tests.crm.salesforce.test_client_failures import Proxy

pytestmark = pytest.mark.django_db
State = ContractSync.State

# The first retry of the default backoff is 60 s with jitter down to half of it.
FIRST_BACKOFF = timedelta(seconds=30)

# fault injected on the Account upsert -> the code the rows are left with
OUTAGES = {
    "503": ({"kind": "server_error", "status": 503}, "SERVER_UNAVAILABLE"),
    "timeout": ({"kind": "latency", "seconds": 1.0}, "TIMEOUT"),
    # refused again right after logging in again: the session fault hits both tries
    "expired session": ({"kind": "invalid_session", "count": 2}, "INVALID_SESSION_ID"),
}


def held_by(emu, fault: dict, names: list[str]) -> list:
    """Subscriptions whose first push met `fault` on the Account upsert (the run stops)."""
    subs = [f.synced_subscription(name, customer_id=f"cus_{name}") for name in names]
    emu.inject(path="composite/sobjects/Account/", **fault)
    assert flush.flush_due().stopped
    return subs


def flushes_requested(tasks) -> int:
    return sum(1 for name, _ in tasks if name == FLUSH_TASK)


def assert_synced_once(emu, subs) -> None:
    for sub in subs:
        row = f.sync_of(sub)
        assert row.state == State.SYNCED and not row.dirty, row.last_error
        ref = f"{sub.provider}:{sub.external_id}"
        [contract] = emu.find("Contract", Subsync_Subscription_Id__c=ref)
        assert contract["Status"] == "Activated" and row.sf_contract_id == contract["Id"]
        customer = f"chargebee:{sub.customer.external_id}"
        assert len(emu.find("Account", Subsync_Customer_Id__c=customer)) == 1


@pytest.mark.parametrize("outage", list(OUTAGES))
def test_rows_held_by_an_outage_come_due_when_another_push_succeeds(emu, settings, tasks,
                                                                   outage):
    settings.SALESFORCE_TIMEOUT = 0.3  # the latency fault (1 s) is a timeout
    fault, code = OUTAGES[outage]
    held = held_by(emu, fault, ["sub_1", "sub_2"])
    for sub in held:
        row = f.sync_of(sub)
        assert row.last_error_code == code and row.attempts == 1
        assert row.next_attempt_at > timezone.now() + FIRST_BACKOFF

    # The outage is over; a new change is pushed, and that success frees the held rows.
    fresh = f.synced_subscription("sub_3", customer_id="cus_sub_3")
    report = flush.flush_due()
    assert report.claimed == 1 and report.synced == 1
    now = timezone.now()
    for sub in held:
        row = f.sync_of(sub)
        assert row.next_attempt_at <= now and row.attempts == 1  # attempts kept
        assert row.state == State.PENDING and row.last_error_code == code
    assert flushes_requested(tasks) == 1

    # The follow-up flush pushes them, each once.
    assert flush.flush_due().synced == 2
    assert_synced_once(emu, [*held, fresh])
    assert emu.count("Contract") == 3 and emu.count("Account") == 3


def test_a_locked_row_and_a_permanent_failure_keep_their_schedule(start_salesforce, tasks):
    emu = start_salesforce(multi_currency=True)
    locked = f.synced_subscription("sub_locked", customer_id="cus_locked")
    emu.inject("unable_to_lock_row", path="Contract/Subsync", records=1)
    flush.flush_due()
    odd = f.synced_subscription("sub_brl", customer_id="cus_brl", currency="BRL")
    flush.flush_due()  # a currency the org lacks: permanent
    [held] = held_by(emu, {"kind": "server_error", "status": 503}, ["sub_held"])
    lock_due = f.sync_of(locked).next_attempt_at
    assert f.sync_of(locked).last_error_code == "UNABLE_TO_LOCK_ROW"
    assert lock_due > timezone.now()
    assert f.sync_of(odd).state == State.FAILED and f.sync_of(odd).next_attempt_at is None

    f.synced_subscription("sub_fine", customer_id="cus_fine")
    assert flush.flush_due().synced == 1

    assert f.sync_of(held).next_attempt_at <= timezone.now()
    row = f.sync_of(locked)
    assert row.next_attempt_at == lock_due and row.attempts == 1
    row = f.sync_of(odd)
    assert row.state == State.FAILED and row.next_attempt_at is None and row.attempts == 1
    # The held row's flush, and one for the lock's own retry (due 5-10 s after it failed,
    # sooner than the beat sweeper), sent by the flush that locked it.
    assert flushes_requested(tasks) == 2
    assert [options["countdown"] for _, options in tasks if options["countdown"] > 1] == [
        pytest.approx((lock_due - timezone.now()).total_seconds(), abs=2)]

    report = flush.flush_due()
    assert report.claimed == 1 and report.synced == 1  # the held row alone
    assert f.sync_of(held).state == State.SYNCED


def test_rows_that_gave_up_on_an_outage_come_back_too(emu, settings, tasks):
    """`failed` after SUBSYNC_SF_MAX_ATTEMPTS on a transient error is still retried (its
    backoff runs on): it comes forward like a pending row, still counted as failed."""
    settings.SUBSYNC_SF_MAX_ATTEMPTS = 1
    [sub] = held_by(emu, {"kind": "server_error", "status": 503}, ["sub_1"])
    row = f.sync_of(sub)
    assert row.state == State.FAILED and row.attempts == 1
    assert row.next_attempt_at > timezone.now() + FIRST_BACKOFF

    f.synced_subscription("sub_2", customer_id="cus_2")
    flush.flush_due()
    row = f.sync_of(sub)
    assert row.state == State.FAILED and row.attempts == 1
    assert row.next_attempt_at <= timezone.now()

    flush.flush_due()
    assert_synced_once(emu, [sub])


def test_a_row_failing_again_in_a_run_is_not_brought_back_by_that_run(emu, tasks,
                                                                      monkeypatch):
    """The run is answered (not stopped), but the held row fails again, each of its records
    refused with UNKNOWN_EXCEPTION (a transient code of the org): it keeps its new backoff
    and no flush is asked for, or a lasting failure would loop flush after flush. The
    emulator never refuses a single record that way, so a proxy answers the Contract upsert
    (Proxy, as in the client's failure tests); the Accounts go to the emulator."""
    [sub] = held_by(emu, {"kind": "server_error", "status": 503}, ["sub_1"])
    f.make_due()
    refused = json.dumps([{"success": False, "errors": [
        {"statusCode": "UNKNOWN_EXCEPTION", "message": "An unexpected error occurred"}]}])
    real_push = flush._push_contracts

    def through_a_proxy(batch, items):
        prefix = batch.client.instance_url + "/services/data/"
        batch.client._session.mount(prefix, Proxy(200, refused.encode(), "application/json"))
        try:
            real_push(batch, items)
        finally:
            batch.client._session.adapters.pop(prefix)

    monkeypatch.setattr(flush, "_push_contracts", through_a_proxy)
    report = flush.flush_due()
    assert not report.stopped and report.retrying == 1

    row = f.sync_of(sub)
    assert row.last_error_code == "UNKNOWN_EXCEPTION" and row.attempts == 2
    assert row.next_attempt_at > timezone.now() + 2 * FIRST_BACKOFF
    assert flushes_requested(tasks) == 0


@pytest.mark.parametrize(("budget_pct", "comes_forward"), [(80, True), (1, False)])
def test_rows_refused_by_the_request_limit_come_forward_only_under_the_budget(
        start_salesforce, settings, tasks, budget_pct, comes_forward):
    emu = start_salesforce(daily_limit=100)
    known = f.synced_subscription("sub_known", customer_id="cus_known")
    flush.flush_due()
    [limited] = held_by(emu, {"kind": "request_limit"}, ["sub_limited"])
    assert f.sync_of(limited).last_error_code == "REQUEST_LIMIT_EXCEEDED"

    # An existing Contract is pushed whatever the budget; usage is then about 7 of 100
    # calls: over a 1% budget, under 80%.
    settings.SUBSYNC_SF_API_BUDGET_PCT = budget_pct
    f.changed(known, mrr=7700)
    assert flush.flush_due().synced == 1

    row = f.sync_of(limited)
    assert (row.next_attempt_at <= timezone.now()) is comes_forward
    assert row.attempts == 1
    assert flushes_requested(tasks) == int(comes_forward)
