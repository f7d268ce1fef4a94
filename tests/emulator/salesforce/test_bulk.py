"""Bulk API 2.0 ingest (and query) jobs, raw and through simple-salesforce."""

from __future__ import annotations

import csv
import io

from .conftest import errors_of

EXT = "Subsync_Customer_Id__c"


def _job(api, **spec):
    body = {"object": "Account", "contentType": "CSV", "lineEnding": "LF", **spec}
    response = api.post("/jobs/ingest", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _upload(api, job_id, text):
    return api.put(
        f"/jobs/ingest/{job_id}/batches", data=text.encode(), headers={"Content-Type": "text/csv"}
    )


def _rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_upsert_job_round_trip(api, emu):
    api.patch(f"/sobjects/Account/{EXT}/chargebee:old", json={"Name": "Old"})
    job = _job(api, operation="upsert", externalIdFieldName=EXT)
    assert job["state"] == "Open"
    assert job["contentUrl"].endswith(f"/jobs/ingest/{job['id']}/batches")
    assert job["id"].startswith("750")
    data = (
        f"{EXT},Name,NumberOfEmployees\n"
        "chargebee:new,New,10\n"
        "chargebee:old,Old renamed,\n"
        "chargebee:bad,,notanumber\n"
        'chargebee:quoted,"Comma, Inc",#N/A\n'
    )
    assert _upload(api, job["id"], data).status_code == 201
    closed = api.patch(f"/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    assert closed.status_code == 200 and closed.json()["state"] == "UploadComplete"

    info = api.get(f"/jobs/ingest/{job['id']}").json()
    assert info["state"] == "JobComplete"
    assert info["numberRecordsProcessed"] == 4
    assert info["numberRecordsFailed"] == 1

    success = _rows(api.get(f"/jobs/ingest/{job['id']}/successfulResults/").text)
    assert [(r[EXT], r["sf__Created"]) for r in success] == [
        ("chargebee:new", "true"),
        ("chargebee:old", "false"),
        ("chargebee:quoted", "true"),
    ]
    assert all(r["sf__Id"].startswith("001") for r in success)
    failed = _rows(api.get(f"/jobs/ingest/{job['id']}/failedResults/").text)
    assert len(failed) == 1 and failed[0][EXT] == "chargebee:bad"
    assert failed[0]["sf__Error"].startswith("INVALID_TYPE_ON_FIELD_IN_RECORD")
    unprocessed = api.get(f"/jobs/ingest/{job['id']}/unprocessedrecords/").text
    assert unprocessed.strip() == f"{EXT},Name,NumberOfEmployees"

    names = {r[EXT]: r["Name"] for r in emu.records("Account")}
    assert names == {
        "chargebee:old": "Old renamed",
        "chargebee:new": "New",
        "chargebee:quoted": "Comma, Inc",
    }
    # one REST call each: create, upload, close, get, three result downloads, plus the seed
    assert api.emu.api_usage == 8


def test_insert_update_and_unknown_column(api, emu):
    job = _job(api, operation="insert")
    _upload(api, job["id"], "Name\nA\nB\n")
    api.patch(f"/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    ids = [r["sf__Id"] for r in _rows(api.get(f"/jobs/ingest/{job['id']}/successfulResults/").text)]
    assert len(ids) == 2

    update = _job(api, operation="update")
    _upload(api, update["id"], f"Id,Name\n{ids[0]},A2\n001Em0000ZZZZZZZZZ,ghost\n")
    api.patch(f"/jobs/ingest/{update['id']}", json={"state": "UploadComplete"})
    assert api.get(f"/jobs/ingest/{update['id']}").json()["numberRecordsFailed"] == 1
    assert emu.record("Account", ids[0])["Name"] == "A2"

    broken = _job(api, operation="insert")
    _upload(api, broken["id"], "Name,Nope__c\nA,1\n")
    api.patch(f"/jobs/ingest/{broken['id']}", json={"state": "UploadComplete"})
    info = api.get(f"/jobs/ingest/{broken['id']}").json()
    assert info["state"] == "Failed"
    assert "Nope__c" in info["errorMessage"]


def test_contract_upsert_with_relationship_column(api, emu):
    api.patch(f"/sobjects/Account/{EXT}/chargebee:c1", json={"Name": "Acme"})
    job = _job(
        api, object="Contract", operation="upsert", externalIdFieldName="Subsync_Subscription_Id__c"
    )
    _upload(
        api,
        job["id"],
        f"Subsync_Subscription_Id__c,Account.{EXT},StartDate,ContractTerm,Status\n"
        f"chargebee:s1,chargebee:c1,2024-01-01,12,Draft\n"
        f"chargebee:s2,chargebee:c1,2024-01-01,12,Activated\n",
    )
    api.patch(f"/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    failed = _rows(api.get(f"/jobs/ingest/{job['id']}/failedResults/").text)
    assert [r["Subsync_Subscription_Id__c"] for r in failed] == ["chargebee:s2"]
    assert failed[0]["sf__Error"].startswith("FIELD_INTEGRITY_EXCEPTION")
    assert emu.records("Contract")[0]["AccountId"] == emu.records("Account")[0]["Id"]


def test_job_validation_and_abort(api):
    bad = api.post("/jobs/ingest", json={"object": "Account", "operation": "upsert"})
    assert bad.status_code == 400
    not_external = api.post(
        "/jobs/ingest",
        json={"object": "Account", "operation": "upsert", "externalIdFieldName": "Name"},
    )
    assert not_external.status_code == 400
    assert errors_of(api.post("/jobs/ingest", json={"object": "Nope", "operation": "insert"}))

    job = _job(api, operation="insert")
    _upload(api, job["id"], "Name\nA\n")
    second = _upload(api, job["id"], "Name\nB\n")
    assert second.status_code == 409
    aborted = api.patch(f"/jobs/ingest/{job['id']}", json={"state": "Aborted"})
    assert aborted.json()["state"] == "Aborted"
    unprocessed = _rows(api.get(f"/jobs/ingest/{job['id']}/unprocessedrecords/").text)
    assert unprocessed == [{"Name": "A"}]
    assert api.delete(f"/jobs/ingest/{job['id']}").status_code == 204
    assert api.get(f"/jobs/ingest/{job['id']}").status_code == 404


def test_simple_salesforce_bulk2_upsert(sf, emu):
    records = [{EXT: f"chargebee:{i}", "Name": f"Customer {i}"} for i in range(300)]
    results = sf.bulk2.Account.upsert(records=records, external_id_field=EXT, wait=0)
    assert results[0]["numberRecordsProcessed"] == 300
    assert results[0]["numberRecordsFailed"] == 0
    assert emu.count("Account") == 300
    job_id = results[0]["job_id"]
    assert len(_rows(sf.bulk2.Account.get_successful_records(job_id))) == 300


def test_bulk_query_job(sf, api):
    api.patch(f"/sobjects/Account/{EXT}/chargebee:c1", json={"Name": "Acme"})
    job = api.post(
        "/jobs/query",
        json={"operation": "query", "query": "SELECT Id, Subsync_Customer_Id__c FROM Account"},
    ).json()
    assert job["state"] == "JobComplete"
    results = api.get(f"/jobs/query/{job['id']}/results")
    assert results.headers["Sforce-Locator"] == "null"
    assert results.headers["Sforce-NumberOfRecords"] == "1"
    assert _rows(results.text)[0][EXT] == "chargebee:c1"


def test_simple_salesforce_bulk2_query(sf, api):
    records = [
        {"attributes": {"type": "Account"}, EXT: f"chargebee:{i}", "Name": f"C{i}"}
        for i in range(5)
    ]
    api.patch(f"/composite/sobjects/Account/{EXT}", json={"records": records})
    pages = list(
        sf.bulk2.Account.query(
            "SELECT Subsync_Customer_Id__c, Name FROM Account", max_records=2, wait=0
        )
    )
    rows = [row for page in pages for row in _rows(page)]
    assert sorted(r[EXT] for r in rows) == [f"chargebee:{i}" for i in range(5)]
