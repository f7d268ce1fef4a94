"""crm.selectors: what the sync health page and the REST API read, on hand-made rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.selectors.params import InvalidParameters, PageRequest
from crm import selectors
from crm.models import ContractSync, ReconcileRun, SalesforceOrgState, SyncAttempt
from crm.salesforce.usage import ApiUsage
from crm.services.org_state import record_api_usage, record_instance_url
from tests.crm import factories as f

pytestmark = pytest.mark.django_db
State = ContractSync.State
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
INSTANCE = "https://acme.my.salesforce.com"
CONTRACT_ID = "800000000000001AAA"
ACCOUNT_ID = "001000000000001AAA"


def _row(name: str, *, state: str, version: int = 1, synced: int = 0, due: datetime | None,
         **fields) -> ContractSync:
    sub = f.subscription(f"sub_{name}", customer_id=f"cus_{name}")
    return ContractSync.objects.create(subscription=sub, state=state, version=version,
                                       synced_version=synced, next_attempt_at=due, **fields)


# the summary -----------------------------------------------------------------------------


def test_summary_counts_rows_by_state_and_the_oldest_due_pending_row():
    _row("a", state=State.PENDING, due=NOW - timedelta(minutes=10))  # due 10 min ago
    _row("b", state=State.PENDING, due=NOW - timedelta(minutes=2))   # due 2 min ago
    _row("c", state=State.PENDING, due=NOW + timedelta(minutes=5), attempts=2)  # backing off
    _row("d", state=State.SYNCED, version=3, synced=3, due=None)
    _row("e", state=State.SYNCED, version=4, synced=4, due=None)
    _row("f", state=State.FAILED, due=NOW - timedelta(hours=1))      # failed, retried: due
    _row("g", state=State.FAILED, due=None)                          # permanent: waits
    _row("h", state=State.PARKED, due=NOW - timedelta(hours=3))      # dirty, never due

    summary = selectors.sync_summary(now=NOW)

    assert (summary.pending, summary.synced, summary.failed, summary.parked) == (3, 2, 2, 1)
    assert summary.total == 8
    assert summary.dirty == 6  # every row but the two synced ones
    assert summary.due == 3  # a, b, f
    assert summary.retrying == 1  # c
    assert summary.oldest_pending_since == NOW - timedelta(minutes=10)
    assert summary.oldest_pending_age == timedelta(minutes=10)


def test_summary_of_nothing():
    summary = selectors.sync_summary(now=NOW)
    assert summary.total == summary.due == summary.dirty == 0
    assert summary.oldest_pending_since is None and summary.oldest_pending_age is None


# API usage -------------------------------------------------------------------------------


def test_api_usage_with_percentage_and_budget(settings):
    settings.SUBSYNC_SF_API_BUDGET_PCT = 80.0
    record_api_usage(usage=ApiUsage(used=8100, limit=10000), now=NOW)

    usage = selectors.api_usage()

    assert (usage.used, usage.limit, usage.observed_at) == (8100, 10000, NOW)
    assert usage.percent == 81.0
    assert usage.budget_pct == 80.0 and usage.over_budget and usage.known


def test_api_usage_under_budget(settings):
    settings.SUBSYNC_SF_API_BUDGET_PCT = 80.0
    record_api_usage(usage=ApiUsage(used=250, limit=1000), now=NOW)
    usage = selectors.api_usage()
    assert usage.percent == 25.0 and not usage.over_budget


def test_api_usage_never_seen(settings):
    settings.SUBSYNC_SF_API_BUDGET_PCT = 50.0
    usage = selectors.api_usage()
    assert not usage.known and usage.percent is None and not usage.over_budget
    assert usage.budget_pct == 50.0


# links and the target org ----------------------------------------------------------------


def test_record_url_needs_a_known_instance_url():
    assert selectors.salesforce_record_url(sobject="Contract", record_id=CONTRACT_ID) is None
    record_instance_url(instance_url=INSTANCE + "/")
    assert selectors.salesforce_record_url(sobject="Contract", record_id=CONTRACT_ID) == (
        f"{INSTANCE}/lightning/r/Contract/{CONTRACT_ID}/view")


@pytest.mark.parametrize("sobject, record_id", [
    ("Contract", ""), ("Contract", "not an id"), ("Contract", "800/../../x"),
    ("Contract/../..", CONTRACT_ID), ("", CONTRACT_ID),
])
def test_record_url_refuses_what_is_not_a_salesforce_id(sobject, record_id):
    record_instance_url(instance_url=INSTANCE)
    assert selectors.salesforce_record_url(sobject=sobject, record_id=record_id) is None


def test_a_login_at_another_instance_replaces_the_url():
    record_instance_url(instance_url=INSTANCE)
    record_instance_url(instance_url="https://acme2.my.salesforce.com")
    assert SalesforceOrgState.objects.get().instance_url == "https://acme2.my.salesforce.com"


def _configure(settings, *, client_id: str, emulator: bool) -> None:
    settings.SALESFORCE_LOGIN_URL = "https://login.example.test"
    settings.SALESFORCE_AUTH_FLOW = "client_credentials"
    settings.SALESFORCE_CLIENT_ID = client_id
    settings.SALESFORCE_CLIENT_SECRET = "secret" if client_id else ""
    settings.SUBSYNC_SALESFORCE_EMULATOR = emulator


@pytest.mark.parametrize("client_id, emulator, mode", [
    ("emulator", True, "emulator"),
    # The mode comes from the explicit flag, not from the client id `make run` happens to use.
    ("emulator", False, "salesforce"),
    ("3MVG9real", False, "salesforce"),
    ("", False, "not configured"),
])
def test_salesforce_target(settings, client_id, emulator, mode):
    _configure(settings, client_id=client_id, emulator=emulator)
    record_instance_url(instance_url=INSTANCE)

    target = selectors.salesforce_target()

    assert target.mode == mode
    assert target.is_emulator == (mode == "emulator")
    assert target.login_url == "https://login.example.test"
    assert target.instance_url == INSTANCE


# failures --------------------------------------------------------------------------------


def _failures(count: int, *, state: str = State.FAILED, prefix: str = "x") -> list[ContractSync]:
    return [
        _row(f"{prefix}{i}", state=state, due=None, attempts=3,
             last_error_code="FIELD_CUSTOM_VALIDATION_EXCEPTION",
             last_error=f"Contract chargebee:sub_{prefix}{i}: Region is required",
             sf_contract_id=CONTRACT_ID, sf_account_id=ACCOUNT_ID)
        for i in range(count)
    ]


def test_failures_carry_subscription_customer_error_hint_and_links():
    record_instance_url(instance_url=INSTANCE)
    sub = f.subscription("sub_9", customer_id="cus_9")
    sub.customer.company = "Acme Ltd"
    sub.customer.save()
    next_at = NOW + timedelta(hours=1)
    row = ContractSync.objects.create(
        subscription=sub, state=State.FAILED, version=2, attempts=6,
        last_error_code="INVALID_FIELD", next_attempt_at=next_at,
        last_error="Contract chargebee:sub_9: No such column 'Subsync_MRR__c' on sobject of "
                   "type Contract",
        sf_contract_id=CONTRACT_ID, sf_account_id=ACCOUNT_ID)
    _row("ok", state=State.SYNCED, version=1, synced=1, due=None)
    _row("wait", state=State.PENDING, due=NOW)

    page = selectors.sync_failures()

    assert page.total == 1 and page.pages == 1 and page.number == 1
    [failure] = page.items
    assert failure.sync_id == row.pk
    assert failure.subscription_id == sub.pk
    assert failure.subscription_ref == "chargebee:sub_9"
    assert failure.customer_id == sub.customer_id and failure.customer_name == "Acme Ltd"
    assert failure.error_code == "INVALID_FIELD"
    assert "Contract.Subsync_MRR__c" in failure.hint
    assert (failure.attempts, failure.next_attempt_at) == (6, next_at)
    assert failure.contract_url == f"{INSTANCE}/lightning/r/Contract/{CONTRACT_ID}/view"
    assert failure.account_url == f"{INSTANCE}/lightning/r/Account/{ACCOUNT_ID}/view"


def test_failures_filter_by_state_and_page():
    _failures(3, state=State.FAILED, prefix="f")
    _failures(2, state=State.PARKED, prefix="p")
    _row("retry", state=State.PENDING, due=NOW, last_error_code="UNABLE_TO_LOCK_ROW",
         last_error="locked")

    def two_a_page(number: int, state_filter: str = ""):
        return selectors.sync_failures(page=PageRequest(number=number, size=2),
                                       state_filter=state_filter)

    both = two_a_page(1)
    assert (both.total, both.pages, len(both.items), both.has_next) == (5, 3, 2, True)
    last = two_a_page(3)
    assert len(last.items) == 1 and not last.has_next and last.has_previous
    seen = {r.sync_id for p in (1, 2, 3) for r in two_a_page(p).items}
    assert len(seen) == 5
    # A page past the end (a bookmark to a list that has since shrunk) is empty, not clamped.
    beyond = two_a_page(4)
    assert (beyond.items, beyond.total, beyond.number) == ([], 5, 4)

    assert selectors.sync_failures(state_filter="parked").total == 2
    assert selectors.sync_failures(state_filter="failed").total == 3
    [retrying] = selectors.sync_failures(state_filter="retrying").items
    assert retrying.error_code == "UNABLE_TO_LOCK_ROW"


def test_the_failures_query_reads_state_and_page():
    state, page = selectors.read_failures_query({"state": "parked", "page": "3",
                                                 "page_size": "20"})
    assert (state, page) == ("parked", PageRequest(number=3, size=20))
    assert selectors.read_failures_query({}) == ("", PageRequest(number=1, size=50))


@pytest.mark.parametrize(("query", "bad"), [
    ({"page": "abc"}, {"page"}),
    ({"page": "0", "page_size": "x"}, {"page", "page_size"}),
    ({"page_size": str(selectors.MAX_PAGE_SIZE + 1)}, {"page_size"}),
    ({"state": "nonsense", "page": "-4"}, {"state", "page"}),
    ({"state": "FAILED"}, {"state"}),
])
def test_the_failures_query_names_what_it_cannot_read(query, bad):
    with pytest.raises(InvalidParameters) as refused:
        selectors.read_failures_query(query)
    assert set(refused.value.errors) == bad


def test_failures_cost_the_same_queries_for_one_row_or_many():
    record_instance_url(instance_url=INSTANCE)
    _failures(1, prefix="a")
    with CaptureQueriesContext(connection) as one:
        assert len(selectors.sync_failures().items) == 1
    _failures(30, prefix="b")
    with CaptureQueriesContext(connection) as many:
        assert len(selectors.sync_failures().items) == 31
    assert len(many) == len(one) == 3  # count, page, instance URL


def test_summary_is_one_query():
    _failures(5)
    with CaptureQueriesContext(connection) as queries:
        selectors.sync_summary()
    assert len(queries) == 1


# the call log and reconciliations ---------------------------------------------------------


def test_recent_attempts_newest_first_with_hints():
    old = SyncAttempt.objects.create(operation="upsert", sobject="Account",
                                     records=["chargebee:cus_1", "chargebee:cus_2"],
                                     outcome=SyncAttempt.Outcome.SUCCESS)
    new = SyncAttempt.objects.create(operation="upsert", sobject="Contract",
                                     records=["chargebee:sub_1"],
                                     outcome=SyncAttempt.Outcome.FAILED,
                                     error_code="UNABLE_TO_LOCK_ROW", error_message="locked")
    SyncAttempt.objects.filter(pk=old.pk).update(started_at=NOW - timedelta(minutes=1))
    SyncAttempt.objects.filter(pk=new.pk).update(started_at=NOW)

    with CaptureQueriesContext(connection) as queries:
        first, second = selectors.recent_attempts(limit=10)
    assert len(queries) == 1
    assert (first.attempt_id, first.records, first.error_code) == (new.pk, 1, "UNABLE_TO_LOCK_ROW")
    assert "retries by itself" in first.hint
    assert (second.attempt_id, second.records, second.hint) == (old.pk, 2, "")
    assert len(selectors.recent_attempts(limit=1)) == 1


def test_reconcile_runs_newest_first():
    for day in (1, 3, 2):
        ReconcileRun.objects.create(started_at=datetime(2026, 5, day, 3, tzinfo=UTC))
    runs = selectors.reconcile_runs(limit=2)
    assert [run.started_at.day for run in runs] == [3, 2]
    assert selectors.latest_reconcile_run().started_at.day == 3
