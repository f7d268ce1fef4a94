"""The one write dispatcher (crm.services.record_writes.write): a collection call up to 200
records, one `/composite` call of up to five collections up to 1,000 (one API call toward the
daily limit, counted by the emulator as the platform counts it), Bulk API beyond that or when
asked. Through simple-salesforce over HTTPS against the emulator."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from crm.models import SyncAttempt
from crm.salesforce.client import SalesforceClient
from crm.salesforce.factory import get_client
from crm.services import record_writes
from crm.services.flush import FlushReport

pytestmark = pytest.mark.django_db
EXT = "Subsync_Customer_Id__c"


@dataclass
class _Run:
    client: SalesforceClient
    report: FlushReport


@pytest.fixture
def run(emu) -> _Run:
    client = get_client()
    client.authenticate()
    return _Run(client=client, report=FlushReport())


def _accounts(count: int, *, start: int = 0) -> tuple[list[dict], list[str]]:
    refs = [f"chargebee:cus_{i}" for i in range(start, start + count)]
    return [{EXT: ref, "Name": f"Customer {ref}"} for ref in refs], refs


def _upsert(run: _Run, records: list[dict], refs: list[str], **options):
    return record_writes.write(run, operation="upsert", sobject="Account", records=records,
                               refs=refs, external_field=EXT, **options)


def test_up_to_1000_records_cost_one_api_call(run, emu):
    records, refs = _accounts(950)
    before = emu.call_count

    results = _upsert(run, records, refs)

    assert emu.call_count - before == 1
    assert [r.ref for r in results] == refs
    assert all(r.success and r.created for r in results)
    assert emu.count("Account") == 950
    [attempt] = SyncAttempt.objects.filter(sobject="Account")
    assert attempt.operation == "composite_upsert" and len(attempt.records) == 950


def test_200_records_are_one_plain_collection_call(run, emu):
    records, refs = _accounts(200)
    results = _upsert(run, records, refs)
    assert all(r.success for r in results)
    assert emu.calls[-1] == ("PATCH", f"/services/data/v62.0/composite/sobjects/Account/{EXT}")
    assert SyncAttempt.objects.get(sobject="Account").operation == "upsert"


def test_1001_records_take_two_composite_calls(run, emu):
    records, refs = _accounts(1001)
    before = emu.call_count
    assert all(r.success for r in _upsert(run, records, refs))
    assert emu.call_count - before == 2


def test_a_record_that_fails_fails_alone_and_in_place(run, emu):
    records, refs = _accounts(450)
    records[321]["Name"] = "x" * 300  # longer than Account.Name allows
    results = _upsert(run, records, refs)
    assert [r.ref for r in results if not r.success] == [refs[321]]
    assert results[321].error.code == "STRING_TOO_LONG"
    assert emu.count("Account") == 449
    assert not run.report.stopped


def test_a_part_refused_as_a_whole_fails_its_records_only(run, emu):
    records, refs = _accounts(450)
    # The first subrequest (records 0-199) is refused, the others are written.
    emu.inject("unable_to_lock_row", path=f"composite/sobjects/Account/{EXT}")
    results = _upsert(run, records, refs)
    assert {r.error.code for r in results[:200]} == {"UNABLE_TO_LOCK_ROW"}
    assert all(r.success for r in results[200:])
    assert emu.count("Account") == 250


def test_a_failing_org_stops_the_run_and_nothing_more_is_tried(run, emu):
    records, refs = _accounts(1500)
    emu.inject("server_error", count=1, path="/composite$")
    results = _upsert(run, records, refs)
    assert run.report.stopped
    assert {r.error.code for r in results[:1000]} == {"SERVER_UNAVAILABLE"}
    assert {r.error.code for r in results[1000:]} == {"NOT_TRIED"}
    assert emu.count("Account") == 0


def test_bulk_when_asked_or_past_the_break_even(run, emu, monkeypatch):
    records, refs = _accounts(3)
    assert all(r.success for r in _upsert(run, records, refs, bulk=True))
    assert any(path.endswith("/jobs/ingest") for _, path in emu.calls)
    emu.clear_calls()
    monkeypatch.setattr(record_writes, "BULK_BREAK_EVEN", 1)  # 1,001 records: two calls
    records, refs = _accounts(1001, start=3)
    assert all(r.success for r in _upsert(run, records, refs))
    assert not any(path.endswith("/composite") for _, path in emu.calls)
    assert any(path.endswith("/jobs/ingest") for _, path in emu.calls)
