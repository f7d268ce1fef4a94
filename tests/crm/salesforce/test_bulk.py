"""Bulk API 2.0 through SalesforceClient: CSV in, per-record results out, over real HTTPS."""

from __future__ import annotations

import pytest

from crm.salesforce import bulk
from crm.salesforce.client import SalesforceClient
from crm.salesforce.config import SalesforceConfig
from crm.salesforce.errors import SalesforceError

EXT = "Subsync_Customer_Id__c"


@pytest.fixture
def client(emu, settings):
    made = SalesforceClient(config=SalesforceConfig.from_settings())
    yield made
    made.close()


# the CSV itself ----------------------------------------------------------------------------


def test_cells_distinguish_leave_alone_from_clear():
    text = bulk.encode([
        {EXT: "chargebee:a", "Name": 'Comma, "Quoted" Inc', "NumberOfEmployees": None},
        {EXT: "chargebee:b", "AnnualRevenue": 1234.5, "Website": ""},
    ], key=EXT)
    assert text.splitlines() == [
        f"{EXT},Name,NumberOfEmployees,AnnualRevenue,Website",
        'chargebee:a,"Comma, ""Quoted"" Inc",#N/A,,',
        "chargebee:b,,,1234.5,#N/A",
    ]
    assert bulk.cell(True) == "true" and bulk.cell(0.1) == "0.1" and bulk.cell(5) == "5"


def test_row_errors_keep_code_message_and_fields():
    error = bulk.row_error("REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --")
    assert (error.code, error.message, error.fields) == (
        "REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", ("Name",))
    assert error.permanent
    two = bulk.row_error("UNABLE_TO_LOCK_ROW:unable to obtain exclusive access: -- "
                         "INVALID_FIELD:bad:A,B --")
    assert two.code == "UNABLE_TO_LOCK_ROW" and not two.permanent
    assert two.message == "unable to obtain exclusive access; bad"
    assert bulk.row_error("").code == "UNKNOWN_ERROR"


def test_results_are_matched_by_key_whatever_their_order():
    results = bulk.match(
        ["a", "b", "c"], key=EXT, job_id="750x",
        successes=[{"sf__Id": "001B", "sf__Created": "false", EXT: "b"}],
        failures=[{"sf__Id": "", "sf__Error": "DUPLICATE_VALUE:dup:-- ", EXT: "a"}],
    )
    assert [r.ref for r in results] == ["a", "b", "c"]
    assert not results[0].success and results[0].error.code == "DUPLICATE_VALUE"
    assert results[1].success and results[1].id == "001B" and results[1].created is False
    assert results[2].error.code == "NOT_PROCESSED" and not results[2].error.permanent


# against the emulator ----------------------------------------------------------------------


def test_bulk_upsert_creates_and_updates_with_one_result_per_record_in_order(client, emu):
    [seed] = client.upsert_collection(sobject="Account", external_field=EXT,
                                      records=[{EXT: "chargebee:old", "Name": "Old"}])
    emu.clear_calls()
    steps = []

    def step(name, refs, call):
        steps.append((name, list(refs)))
        return call()

    records = [{EXT: f"chargebee:c{i}", "Name": f"Company {i}"} for i in range(300)]
    records.insert(150, {EXT: "chargebee:old", "Name": "Renamed", "NumberOfEmployees": None})
    records.append({EXT: "chargebee:bad", "Name": "Bad", "NumberOfEmployees": "many"})
    results = client.bulk_upsert(sobject="Account", external_field=EXT, records=records,
                                 step=step)

    assert [r.ref for r in results] == [r[EXT] for r in records]
    assert results[150].success and results[150].id == seed.id and results[150].created is False
    assert all(r.success and r.created and r.id.startswith("001") for r in results[:150])
    assert results[-1].error.code == "INVALID_TYPE_ON_FIELD_IN_RECORD"
    assert results[-1].error.permanent
    assert emu.count("Account") == 301
    assert emu.find("Account", **{EXT: "chargebee:old"})[0]["Name"] == "Renamed"
    # create, upload (with the refs), close, one poll, both result files: one call each
    assert [name for name, _ in steps] == [
        "bulk_upsert.create_job", "bulk_upsert.upload", "bulk_upsert.close",
        "bulk_upsert.poll", "bulk_upsert.results"]
    assert steps[1][1] == [r[EXT] for r in records]
    assert emu.call_count == client.api_calls - 1 == 6


def test_a_job_without_failures_skips_the_failed_results_download(client, emu):
    client.authenticate()
    results = client.bulk_upsert(sobject="Account", external_field=EXT,
                                 records=[{EXT: "chargebee:a", "Name": "A"}])
    assert results[0].success
    assert not any("failedResults" in path for _, path in emu.calls)
    assert emu.call_count == 5


def test_bulk_update_by_id(client, emu):
    created = client.bulk_upsert(sobject="Account", external_field=EXT,
                                 records=[{EXT: f"chargebee:{i}", "Name": "x"} for i in range(3)])
    ids = [r.id for r in created]
    results = client.bulk_update(sobject="Account", records=[
        {"Id": ids[0], "Name": "first"}, {"Id": ids[1], "Name": None}, {"Id": ids[2]},
    ])
    assert [r.ref for r in results] == ids
    assert results[0].success and results[2].success
    assert results[1].error.code == "REQUIRED_FIELD_MISSING"
    assert emu.record("Account", ids[0])["Name"] == "first"


def test_a_job_failing_as_a_whole_raises_a_classified_error(client, emu):
    emu.drop_field("Account", "NumberOfEmployees")
    with pytest.raises(SalesforceError) as failed:
        client.bulk_upsert(sobject="Account", external_field=EXT,
                           records=[{EXT: "chargebee:a", "Name": "A", "NumberOfEmployees": 3}])
    assert failed.value.code == "BULK_JOB_FAILED" and failed.value.permanent
    assert "NumberOfEmployees" in failed.value.message


def test_a_refused_job_creation_is_a_request_error(client, emu):
    emu.alter_field("Account", EXT, external_id=False, unique=False)
    with pytest.raises(SalesforceError) as refused:
        client.bulk_upsert(sobject="Account", external_field=EXT,
                           records=[{EXT: "chargebee:a", "Name": "A"}])
    assert refused.value.status == 400 and refused.value.permanent
    assert "External ID" in refused.value.message


def test_an_outage_during_the_upload_aborts_the_job_and_is_transient(client, emu):
    client.authenticate()
    emu.inject("server_error", method="PUT", path="/batches")
    with pytest.raises(SalesforceError) as failed:
        client.bulk_upsert(sobject="Account", external_field=EXT,
                           records=[{EXT: "chargebee:a", "Name": "A"}])
    assert failed.value.code == "SERVER_UNAVAILABLE" and failed.value.stops_run
    [job] = emu.org.jobs.values()
    assert job["state"] == "Aborted"
    assert emu.count("Account") == 0


def test_an_expired_session_mid_job_logs_in_again(client, emu):
    client.authenticate()
    emu.inject("invalid_session", method="PATCH", path="/jobs/ingest/")
    results = client.bulk_upsert(sobject="Account", external_field=EXT,
                                 records=[{EXT: "chargebee:a", "Name": "A"}])
    assert results[0].success and emu.org.token_requests == 2
