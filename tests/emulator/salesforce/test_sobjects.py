"""Single-record REST calls: create, get, update, delete, upsert by external id."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from .conftest import Api, errors_of, make_sf

EXT = "Subsync_Customer_Id__c"


def test_create_get_update_delete(sf, emu):
    created = sf.Account.create({"Name": "Acme", EXT: "chargebee:a1"})
    assert created["success"] is True
    record_id = created["id"]
    assert len(record_id) == 18 and record_id.startswith("001")

    fetched = sf.Account.get(record_id)
    assert fetched["Name"] == "Acme"
    assert fetched["attributes"]["type"] == "Account"
    assert fetched["CreatedDate"].endswith("+0000")
    assert fetched["IsDeleted"] is False

    assert sf.Account.update(record_id, {"Name": "Acme Ltd"}) == 204
    assert emu.record("Account", record_id)["Name"] == "Acme Ltd"
    assert sf.Account.get(record_id[:15])["Name"] == "Acme Ltd"  # 15-char ids are accepted

    assert sf.Account.delete(record_id) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get(record_id)
    assert emu.records("Account") == []
    assert emu.records("Account", include_deleted=True)[0]["IsDeleted"] is True


def test_get_with_field_list(api, sf):
    record_id = sf.Account.create({"Name": "Acme"})["id"]
    body = api.get(f"/sobjects/Account/{record_id}", params={"fields": "Name,Id"}).json()
    assert set(body) == {"attributes", "Name", "Id"}


def test_upsert_creates_then_updates(sf, api, emu):
    path = f"/sobjects/Account/{EXT}/chargebee:cust_1"
    first = api.patch(path, json={"Name": "Acme"})
    assert first.status_code == 201
    assert first.json()["created"] is True
    assert first.json()["success"] is True
    second = api.patch(path, json={"Name": "Acme 2"})
    assert second.status_code == 200
    assert second.json() == {
        "id": first.json()["id"],
        "success": True,
        "errors": [],
        "created": False,
    }
    assert [r["Name"] for r in emu.records("Account")] == ["Acme 2"]
    # simple-salesforce returns the status code of an upsert
    assert sf.Account.upsert(f"{EXT}/chargebee:cust_1", {"Name": "Acme 3"}) == 200
    assert sf.Account.get_by_custom_id(EXT, "chargebee:cust_1")["Name"] == "Acme 3"


def test_external_ids_are_case_sensitive(api, emu):
    assert api.patch(f"/sobjects/Account/{EXT}/chargebee:AbC", json={"Name": "a"}).ok
    assert (
        api.patch(f"/sobjects/Account/{EXT}/chargebee:abc", json={"Name": "b"}).status_code == 201
    )
    assert emu.count("Account") == 2


def test_get_by_external_id_miss_is_404(sf):
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get_by_custom_id(EXT, "chargebee:missing")


def test_upsert_with_several_matches_is_300(start_emulator):
    emu = start_emulator(alter_fields={f"Account.{EXT}": {"unique": False}})
    api = Api(emu)
    for name in ("one", "two"):
        assert api.post("/sobjects/Account/", json={"Name": name, EXT: "chargebee:dup"}).ok
    response = api.patch(f"/sobjects/Account/{EXT}/chargebee:dup", json={"Name": "x"})
    assert response.status_code == 300
    assert len(response.json()) == 2
    assert all(u.startswith("/services/data/v62.0/sobjects/Account/001") for u in response.json())
    with pytest.raises(SalesforceMoreThanOneRecord):
        make_sf(emu, api.token).Account.upsert(f"{EXT}/chargebee:dup", {"Name": "x"})


def test_unique_external_id_refuses_duplicates(api):
    assert api.post("/sobjects/Account/", json={"Name": "a", EXT: "chargebee:x"}).ok
    response = api.post("/sobjects/Account/", json={"Name": "b", EXT: "chargebee:x"})
    assert response.status_code == 400
    assert errors_of(response) == ["DUPLICATE_VALUE"]


def test_upsert_on_a_field_that_is_not_an_external_id_is_404(start_emulator):
    emu = start_emulator(alter_fields={f"Account.{EXT}": {"external_id": False}})
    response = Api(emu).patch(f"/sobjects/Account/{EXT}/chargebee:x", json={"Name": "a"})
    assert response.status_code == 404
    assert "Provided external ID field does not exist" in response.json()[0]["message"]
    assert Api(emu).patch("/sobjects/Account/Name/Acme", json={}).status_code == 404


def test_external_id_in_upsert_body_is_refused(api):
    response = api.patch(
        f"/sobjects/Account/{EXT}/chargebee:x", json={"Name": "a", EXT: "chargebee:x"}
    )
    assert response.status_code == 400
    assert errors_of(response) == ["INVALID_FIELD"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"Name": "a", "Nope__c": 1}, "INVALID_FIELD"),
        ({"Name": "a" * 256}, "STRING_TOO_LONG"),
        ({"Description": "fine"}, "REQUIRED_FIELD_MISSING"),
        ({"Name": "a", "NumberOfEmployees": "many"}, "JSON_PARSER_ERROR"),
        ({"Name": "a", "CreatedDate": "2024-01-01T00:00:00Z"}, "INVALID_FIELD_FOR_INSERT_UPDATE"),
        ({"Name": "a", "CurrencyIsoCode": "EUR"}, "INVALID_FIELD"),
        ({"Name": "a", "Id": "001Em0000AulQ3lIQE"}, "INVALID_FIELD"),
        ({"Name": "a", "Type": "Whatever"}, None),  # unrestricted picklist accepts anything
        ({"Name": ""}, "REQUIRED_FIELD_MISSING"),  # empty string is null in Salesforce
    ],
)
def test_account_field_rules(api, body, code):
    response = api.post("/sobjects/Account/", json=body)
    if code is None:
        assert response.status_code == 201
        return
    assert response.status_code == 400, response.text
    assert errors_of(response) == [code]
    if code == "INVALID_FIELD" and "Nope__c" in body:
        assert response.json()[0]["message"] == (
            "No such column 'Nope__c' on sobject of type Account"
        )


def test_simple_salesforce_sees_malformed_request(sf):
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.create({"Name": "a", "Bogus": 1})
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_invalid_json_body(api):
    response = api.post(
        "/sobjects/Account/", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert errors_of(response) == ["JSON_PARSER_ERROR"]


def test_unknown_id_and_malformed_id(api):
    assert api.get("/sobjects/Account/001Em0000AulQ3lIQE").status_code == 404
    response = api.get("/sobjects/Account/not-an-id")
    assert response.status_code == 404
    assert errors_of(response) == ["NOT_FOUND"]
    contract_id_at_account = api.get("/sobjects/Account/800Em0000AulQ3lIQE")
    assert contract_id_at_account.status_code == 404


def test_audit_fields_are_maintained(sf, emu):
    record_id = sf.Account.create({"Name": "Acme"})["id"]
    before = emu.record("Account", record_id)
    sf.Account.update(record_id, {"Name": "Acme 2"})
    after = emu.record("Account", record_id)
    assert after["CreatedDate"] == before["CreatedDate"]
    assert after["LastModifiedDate"] >= before["LastModifiedDate"]
    assert after["SystemModstamp"] == after["LastModifiedDate"]
    assert after["OwnerId"].startswith("005")


def test_delete_by_external_id(api, emu):
    api.patch(f"/sobjects/Account/{EXT}/chargebee:gone", json={"Name": "a"})
    assert api.delete(f"/sobjects/Account/{EXT}/chargebee:gone").status_code == 204
    assert emu.count("Account") == 0
