"""`POST /composite`: several requests in one call that counts once toward the daily limit,
with the platform's limits (25 subrequests, at most 5 collections or queries) enforced, and
what the emulator does not emulate refused rather than guessed."""

from __future__ import annotations

from .conftest import API_VERSION, errors_of

EXT = "Subsync_Customer_Id__c"
BASE = f"/services/data/v{API_VERSION}"


def _upsert(ref: str, names: list[str]) -> dict:
    return {"method": "PATCH", "url": f"{BASE}/composite/sobjects/Account/{EXT}",
            "referenceId": ref,
            "body": {"allOrNone": False,
                     "records": [{"attributes": {"type": "Account"}, EXT: f"chargebee:{n}",
                                  "Name": n} for n in names]}}


def _query(ref: str) -> dict:
    return {"method": "GET", "url": f"{BASE}/query?q=SELECT+Id+FROM+Account",
            "referenceId": ref}


def test_collections_in_one_composite_count_as_one_call(api, emu):
    used_before, calls_before = emu.api_usage, emu.call_count
    parts = [_upsert(f"part{i}", [f"a{i}_{j}" for j in range(200)]) for i in range(5)]

    response = api.post("/composite", json={"allOrNone": False, "compositeRequest": parts})

    assert response.status_code == 200
    answers = response.json()["compositeResponse"]
    assert [a["referenceId"] for a in answers] == [f"part{i}" for i in range(5)]
    assert {a["httpStatusCode"] for a in answers} == {200}
    assert all(len(a["body"]) == 200 and all(r["success"] for r in a["body"])
               for a in answers)
    assert emu.count("Account") == 1000
    assert emu.api_usage - used_before == 1 and emu.call_count - calls_before == 1


def test_a_failed_subrequest_does_not_stop_the_others(api, emu):
    bad = {"method": "PATCH", "url": f"{BASE}/composite/sobjects/Account/Name",
           "referenceId": "bad", "body": _upsert("x", ["z"])["body"]}
    response = api.post("/composite", json={"allOrNone": False,
                                            "compositeRequest": [bad, _upsert("good", ["y"])]})
    first, second = response.json()["compositeResponse"]
    assert first["httpStatusCode"] == 404 and first["body"][0]["errorCode"] == "NOT_FOUND"
    assert second["httpStatusCode"] == 200 and second["body"][0]["success"] is True
    assert [r["Name"] for r in emu.records("Account")] == ["y"]


def test_more_than_five_collections_or_queries_are_refused_and_nothing_is_written(api, emu):
    parts = [_upsert(f"p{i}", [f"n{i}"]) for i in range(4)] + [_query("q1"), _query("q2")]
    response = api.post("/composite", json={"compositeRequest": parts})
    assert response.status_code == 400
    assert errors_of(response) == ["INVALID_COMPOSITE_REQUEST"]
    assert emu.count("Account") == 0


def test_more_than_25_subrequests_are_refused(api, emu):
    single = {"method": "GET", "url": f"{BASE}/sobjects/Account/describe"}
    parts = [{**single, "referenceId": f"d{i}"} for i in range(26)]
    response = api.post("/composite", json={"compositeRequest": parts})
    assert response.status_code == 400
    assert errors_of(response) == ["INVALID_COMPOSITE_REQUEST"]


def test_what_is_not_emulated_is_refused(api, emu):
    refers = _upsert("b", ["b"])
    refers["body"]["records"][0]["Name"] = "@{a.id}"
    other_version = {**_upsert("c", ["c"]), "url": f"/services/data/v61.0/composite/sobjects/"
                                                   f"Account/{EXT}"}
    jobs = {"method": "GET", "url": f"{BASE}/jobs/ingest", "referenceId": "j"}
    for body in ({"allOrNone": True, "compositeRequest": [_upsert("a", ["a"])]},
                 {"compositeRequest": [_upsert("a", ["a"]), refers]},
                 {"compositeRequest": [other_version]},
                 {"compositeRequest": [jobs]},
                 {"compositeRequest": [_upsert("a", ["a"]), _upsert("a", ["b"])]}):
        response = api.post("/composite", json=body)
        assert response.status_code == 400, body
        assert errors_of(response) == ["INVALID_COMPOSITE_REQUEST"]
    assert emu.count("Account") == 0


def test_a_refused_budget_refuses_the_whole_composite(api, emu):
    emu.set_daily_limit(emu.api_usage)
    response = api.post("/composite", json={"compositeRequest": [_upsert("a", ["a"])]})
    assert response.status_code == 403
    assert errors_of(response) == ["REQUEST_LIMIT_EXCEEDED"]
    assert emu.count("Account") == 0
