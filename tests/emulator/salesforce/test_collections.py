"""sObject Collections: create, update, upsert by external id, delete; allOrNone."""

from __future__ import annotations

from .conftest import errors_of

EXT = "Subsync_Customer_Id__c"
UPSERT = f"/composite/sobjects/Account/{EXT}"


def _account(ext, **fields):
    return {"attributes": {"type": "Account"}, EXT: ext, **fields}


def test_upsert_collection_reports_each_record_in_order(api, emu):
    api.patch(f"/sobjects/Account/{EXT}/chargebee:old", json={"Name": "Old"})
    records = [
        _account("chargebee:new1", Name="New 1"),
        _account("chargebee:old", Name="Old renamed"),
        _account("chargebee:bad", Name="x" * 300),
        _account("chargebee:new2", Name="New 2", Bogus__c=1),
    ]
    response = api.patch(UPSERT, json={"allOrNone": False, "records": records})
    assert response.status_code == 200
    results = response.json()
    assert [r["success"] for r in results] == [True, True, False, False]
    assert results[0]["created"] is True and results[0]["id"].startswith("001")
    assert results[1]["created"] is False
    assert results[2]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert results[2]["errors"][0]["fields"] == ["Name"]
    assert results[3]["errors"][0]["statusCode"] == "INVALID_FIELD"
    assert "id" not in results[2]
    assert sorted(r["Name"] for r in emu.records("Account")) == ["New 1", "Old renamed"]
    assert emu.calls[-1] == ("PATCH", f"/services/data/v62.0{UPSERT}")


def test_all_or_none_rolls_everything_back(api, emu):
    api.patch(f"/sobjects/Account/{EXT}/chargebee:old", json={"Name": "Old"})
    records = [
        _account("chargebee:new1", Name="New 1"),
        _account("chargebee:old", Name="Changed"),
        _account("chargebee:bad"),  # Name missing on create
    ]
    response = api.patch(UPSERT, json={"allOrNone": True, "records": records})
    assert response.status_code == 200
    codes = [r["errors"][0]["statusCode"] for r in response.json()]
    assert codes == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "REQUIRED_FIELD_MISSING",
    ]
    assert [r["Name"] for r in emu.records("Account")] == ["Old"]
    # the rolled-back external id is free again
    retry = api.patch(UPSERT, json={"allOrNone": True, "records": records[:2]})
    assert all(r["success"] for r in retry.json())


def test_duplicate_external_ids_in_one_request_fail(api, emu):
    records = [
        _account("chargebee:x", Name="a"),
        _account("chargebee:x", Name="b"),
        _account("chargebee:y", Name="c"),
    ]
    results = api.patch(UPSERT, json={"records": records}).json()
    assert [r["success"] for r in results] == [False, False, True]
    assert results[0]["errors"][0]["statusCode"] == "DUPLICATE_EXTERNAL_ID"
    assert emu.count("Account") == 1


def test_missing_external_id_and_type_rules(api):
    results = api.patch(
        UPSERT, json={"records": [{"attributes": {"type": "Account"}, "Name": "a"}]}
    ).json()
    assert results[0]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    no_type = api.patch(UPSERT, json={"records": [{EXT: "chargebee:z", "Name": "a"}]})
    assert no_type.status_code == 400
    assert errors_of(no_type) == ["INVALID_TYPE"]
    wrong_type = api.patch(
        UPSERT, json={"records": [{"attributes": {"type": "Contract"}, EXT: "chargebee:z"}]}
    )
    assert errors_of(wrong_type) == ["INVALID_TYPE"]


def test_more_than_200_records_is_refused(api, emu):
    records = [_account(f"chargebee:{i}", Name=str(i)) for i in range(201)]
    response = api.patch(UPSERT, json={"records": records})
    assert response.status_code == 400
    assert errors_of(response) == ["EXCEEDED_ID_LIMIT"]
    assert emu.count("Account") == 0
    ok = api.patch(UPSERT, json={"records": records[:200]})
    assert ok.status_code == 200 and all(r["success"] for r in ok.json())
    assert emu.count("Account") == 200


def test_bad_json_type_fails_the_whole_request(api, emu):
    records = [
        _account("chargebee:a", Name="a"),
        _account("chargebee:b", Name="b", NumberOfEmployees="lots"),
    ]
    response = api.patch(UPSERT, json={"records": records})
    assert response.status_code == 400
    assert errors_of(response) == ["JSON_PARSER_ERROR"]
    assert emu.count("Account") == 0


def test_create_update_and_delete_collections(api, emu):
    created = api.post(
        "/composite/sobjects",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Account"}, "Name": "A"},
                {"attributes": {"type": "Account"}, "Name": "B"},
            ],
        },
    ).json()
    assert all(r["success"] for r in created) and "created" not in created[0]
    ids = [r["id"] for r in created]

    updated = api.patch(
        "/composite/sobjects",
        json={
            "records": [
                {"attributes": {"type": "Account"}, "Id": ids[0], "Name": "A2"},
                {"attributes": {"type": "Account"}, "Name": "no id"},
            ]
        },
    ).json()
    assert updated[0]["success"] is True
    assert updated[1]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert emu.record("Account", ids[0])["Name"] == "A2"

    deleted = api.delete("/composite/sobjects", params={"ids": ",".join(ids)}).json()
    assert [r["success"] for r in deleted] == [True, True]
    assert emu.count("Account") == 0


def test_contract_collection_upsert_with_account_reference(api, emu):
    api.patch(f"/sobjects/Account/{EXT}/chargebee:c1", json={"Name": "Acme"})
    records = [
        {
            "attributes": {"type": "Contract"},
            "Subsync_Subscription_Id__c": f"chargebee:s{i}",
            "Account": {"attributes": {"type": "Account"}, EXT: "chargebee:c1"},
            "StartDate": "2024-05-01",
            "ContractTerm": 1,
        }
        for i in range(3)
    ]
    results = api.patch(
        "/composite/sobjects/Contract/Subsync_Subscription_Id__c",
        json={"allOrNone": True, "records": records},
    ).json()
    assert all(r["success"] and r["created"] for r in results)
    activate = [
        {
            "attributes": {"type": "Contract"},
            "Subsync_Subscription_Id__c": r["Subsync_Subscription_Id__c"],
            "Status": "Activated",
        }
        for r in records
    ]
    results = api.patch(
        "/composite/sobjects/Contract/Subsync_Subscription_Id__c",
        json={"allOrNone": True, "records": activate},
    ).json()
    assert all(r["success"] and not r["created"] for r in results)
    assert {r["Status"] for r in emu.records("Contract")} == {"Activated"}
