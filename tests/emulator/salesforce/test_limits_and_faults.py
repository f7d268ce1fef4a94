"""API budget, Sforce-Limit-Info, sessions, injected faults and the control API."""

from __future__ import annotations

import threading
import time

import pytest
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)

from .conftest import Api, errors_of, make_sf

EXT = "Subsync_Customer_Id__c"


def test_limit_header_on_every_rest_response(api):
    first = api.get("/limits")
    assert first.headers["Sforce-Limit-Info"] == "api-usage=1/15000"
    assert first.json()["DailyApiRequests"] == {"Max": 15000, "Remaining": 14999}
    failed = api.post("/sobjects/Account/", json={"Bogus": 1})
    assert failed.status_code == 400
    assert failed.headers["Sforce-Limit-Info"] == "api-usage=2/15000"


def test_simple_salesforce_parses_usage(sf):
    contract = sf.Contract
    contract.describe()
    assert contract.api_usage["api-usage"].used == 1
    assert contract.api_usage["api-usage"].total == 15000


def test_limit_exceeded_then_reset(start_emulator):
    emu = start_emulator(daily_limit=3)
    api = Api(emu)
    for _ in range(3):
        assert api.get("/limits").status_code == 200
    refused = api.get("/limits")
    assert refused.status_code == 403
    assert refused.json() == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert refused.headers["Sforce-Limit-Info"] == "api-usage=3/3"
    with pytest.raises(SalesforceRefusedRequest):
        make_sf(emu, api.token).limits()
    emu.reset_usage()
    assert api.get("/limits").status_code == 200
    emu.set_daily_limit(1)
    assert api.get("/limits").status_code == 403
    assert emu.call_count == 7 and emu.api_usage == 1


def test_missing_or_invalid_token(emu, api):
    assert errors_of(Api(emu, token="").get("/limits")) == ["INVALID_SESSION_ID"]
    bogus = Api(emu, token="00Dbogus!token").get("/limits")
    assert bogus.status_code == 401
    assert bogus.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    emu.expire_sessions()
    with pytest.raises(SalesforceExpiredSession):
        make_sf(emu, api.token).limits()
    assert emu.api_usage == 0  # refused calls are not counted


def test_server_error_fault(api, sf):
    api.emu.inject("server_error", count=2)
    assert api.get("/limits").status_code == 503
    assert errors_of(api.get("/limits")) == ["SERVER_UNAVAILABLE"]
    assert api.get("/limits").status_code == 200
    api.emu.inject("server_error", status=500, path=r"/query")
    assert api.get("/limits").status_code == 200  # does not match the path
    with pytest.raises(SalesforceGeneralError):
        sf.query("SELECT Id FROM Account")


def test_latency_fault(api):
    api.emu.inject("latency", seconds=0.3, method="GET")
    started = time.monotonic()
    assert api.get("/limits").status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    api.get("/limits")
    assert time.monotonic() - started < 0.3


def test_invalid_session_fault_expires_every_token(api, emu):
    other = Api(emu)
    emu.inject("invalid_session")
    assert api.get("/limits").status_code == 401
    assert other.get("/limits").status_code == 401
    fresh = Api(emu)
    assert fresh.get("/limits").status_code == 200


def test_request_limit_fault(api):
    api.emu.inject("request_limit")
    assert errors_of(api.get("/limits")) == ["REQUEST_LIMIT_EXCEEDED"]
    assert api.get("/limits").status_code == 200


def test_unable_to_lock_row_fault(api, emu):
    emu.inject("unable_to_lock_row")
    assert api.get("/limits").status_code == 200  # reads are never locked
    single = api.patch(f"/sobjects/Account/{EXT}/chargebee:a", json={"Name": "A"})
    assert single.status_code == 400
    assert errors_of(single) == ["UNABLE_TO_LOCK_ROW"]
    assert emu.count("Account") == 0

    emu.inject("unable_to_lock_row", records=1)
    records = [
        {"attributes": {"type": "Account"}, EXT: f"chargebee:{i}", "Name": str(i)} for i in range(3)
    ]
    results = api.patch(f"/composite/sobjects/Account/{EXT}", json={"records": records}).json()
    assert [r["success"] for r in results] == [False, True, True]
    assert results[0]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"

    emu.inject("unable_to_lock_row")
    results = api.patch(
        f"/composite/sobjects/Account/{EXT}", json={"allOrNone": True, "records": records}
    ).json()
    assert not any(r["success"] for r in results)
    assert emu.count("Account") == 2


def test_fault_validation(emu):
    with pytest.raises(ValueError, match="unknown fault kind"):
        emu.inject("meteor")
    with pytest.raises(ValueError, match="seconds"):
        emu.inject("latency")


def test_control_api(api, emu):
    api.patch(f"/sobjects/Account/{EXT}/chargebee:a", json={"Name": "A"})
    state = api.control("GET", "state").json()
    assert state["counts"] == {"Account": 1, "Contract": 0, "Product2": 0, "Pricebook2": 1,
                               "PricebookEntry": 0, "Opportunity": 0, "OpportunityLineItem": 0,
                               "OpportunityLineItemSchedule": 0}  # the standard price book
    assert state["call_count"] == 1
    assert state["api_usage"] == {"used": 1, "max": 15000}

    records = api.control("GET", "records/Account").json()["records"]
    assert records[0][EXT] == "chargebee:a"

    added = api.control("POST", "faults", json={"kind": "server_error", "count": 2})
    assert added.status_code == 201 and added.json()["faults"][0]["remaining"] == 2
    assert api.get("/limits").status_code == 503
    api.control("DELETE", "faults")
    assert api.get("/limits").status_code == 200
    assert api.control("POST", "faults", json={"kind": "nope"}).status_code == 400

    api.control("POST", "daily-limit", json={"limit": 2})
    assert api.get("/limits").status_code == 403
    api.control("POST", "reset-usage")
    assert api.get("/limits").status_code == 200
    api.control("POST", "daily-limit", json={"limit": 15000})

    token = api.control("POST", "token").json()["access_token"]
    assert Api(emu, token).get("/limits").status_code == 200
    api.control("POST", "expire-sessions")
    assert Api(emu, token).get("/limits").status_code == 401

    api.control(
        "POST",
        "schema",
        json={
            "drop": ["Contract.Subsync_Plan__c"],
            "alter": [{"field": f"Account.{EXT}", "unique": False}],
        },
    )
    fresh = Api(emu)
    fields = {f["name"] for f in fresh.get("/sobjects/Contract/describe").json()["fields"]}
    assert "Subsync_Plan__c" not in fields

    reset = api.control("POST", "reset").json()
    assert reset["call_count"] == 0
    assert {name: n for name, n in reset["counts"].items() if n} == {"Pricebook2": 1}


def test_concurrent_upserts_are_consistent(emu):
    errors: list[str] = []

    def worker(n: int) -> None:
        client = Api(emu)
        for i in range(15):
            response = client.patch(
                f"/sobjects/Account/{EXT}/chargebee:{i}", json={"Name": f"worker {n}"}
            )
            if response.status_code not in (200, 201):
                errors.append(response.text)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert emu.count("Account") == 15
    assert emu.api_usage == 90


def test_sessions_can_expire_by_age(start_emulator):
    emu = start_emulator(session_lifetime=0.2)
    api = Api(emu)
    assert api.get("/limits").status_code == 200
    time.sleep(0.25)
    assert api.get("/limits").status_code == 401
