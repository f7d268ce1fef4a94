"""Contract rules a real org enforces: Draft first, then Activated, and what freezes then."""

from __future__ import annotations

import pytest

from .conftest import Api, errors_of

EXT = "Subsync_Subscription_Id__c"


@pytest.fixture
def account_id(api) -> str:
    response = api.patch(
        "/sobjects/Account/Subsync_Customer_Id__c/chargebee:c1", json={"Name": "Acme"}
    )
    return response.json()["id"]


def _draft(api, account_id, sub="chargebee:s1", **extra):
    body = {"AccountId": account_id, "StartDate": "2024-01-31", "ContractTerm": 12, **extra}
    return api.patch(f"/sobjects/Contract/{EXT}/{sub}", json=body)


def test_draft_then_activated(api, emu, account_id):
    created = _draft(
        api,
        account_id,
        Subsync_MRR__c=49.999,
        Subsync_Status__c="active",
        Subsync_Renewal_Date__c="2025-01-31",
    )
    assert created.status_code == 201, created.text
    record = emu.record("Contract", created.json()["id"])
    assert record["Status"] == "Draft"
    assert record["StatusCode"] == "Draft"
    assert record["EndDate"] == "2025-01-30"
    assert record["ContractNumber"] == "00000101"
    assert record["Subsync_MRR__c"] == 50.0  # currency rounds to 2 decimals

    activated = api.patch(f"/sobjects/Contract/{EXT}/chargebee:s1", json={"Status": "Activated"})
    assert activated.status_code == 200
    record = emu.record("Contract", created.json()["id"])
    assert record["Status"] == "Activated"
    assert record["ActivatedDate"]
    assert record["StatusCode"] == "Activated"

    # still editable: terms, custom fields; AccountId unchanged is fine
    again = _draft(api, account_id, Status="Activated", ContractTerm=1)
    assert again.status_code == 200, again.text
    assert emu.record("Contract", created.json()["id"])["EndDate"] == "2024-02-28"


def test_end_date_is_clamped_to_month_end(api, emu, account_id):
    created = _draft(api, account_id, StartDate="2024-03-31", ContractTerm=11)
    assert emu.record("Contract", created.json()["id"])["EndDate"] == "2025-02-27"


def test_contract_cannot_be_created_activated(api, account_id):
    response = _draft(api, account_id, Status="Activated")
    assert response.status_code == 400
    assert errors_of(response) == ["FIELD_INTEGRITY_EXCEPTION"]
    assert response.json()[0]["fields"] == ["Status"]


def test_activated_contract_freezes_account_and_status(api, account_id):
    _draft(api, account_id)
    api.patch(f"/sobjects/Contract/{EXT}/chargebee:s1", json={"Status": "Activated"})
    other = api.post("/sobjects/Account/", json={"Name": "Other"}).json()["id"]

    moved = api.patch(f"/sobjects/Contract/{EXT}/chargebee:s1", json={"AccountId": other})
    assert moved.status_code == 400
    assert errors_of(moved) == ["FIELD_INTEGRITY_EXCEPTION"]
    assert moved.json()[0]["fields"] == ["AccountId"]

    back = api.patch(f"/sobjects/Contract/{EXT}/chargebee:s1", json={"Status": "Draft"})
    assert errors_of(back) == ["FIELD_INTEGRITY_EXCEPTION"]

    contract_id = api.get(f"/sobjects/Contract/{EXT}/chargebee:s1").json()["Id"]
    assert errors_of(api.delete(f"/sobjects/Contract/{contract_id}")) == ["DELETE_FAILED"]


@pytest.mark.parametrize("status", ["Terminated", "Expired"])
def test_terminated_and_expired_cannot_be_set(api, account_id, status):
    _draft(api, account_id)
    api.patch(f"/sobjects/Contract/{EXT}/chargebee:s1", json={"Status": "Activated"})
    response = api.patch(f"/sobjects/Contract/{EXT}/chargebee:s1", json={"Status": status})
    assert response.status_code == 400
    assert errors_of(response) == ["FIELD_INTEGRITY_EXCEPTION"]


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"Status": "Cancelled"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        ({"Subsync_Status__c": "in_trial"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        ({"StartDate": "31/01/2024"}, "JSON_PARSER_ERROR"),
        ({"Subsync_Renewal_Date__c": "2024-02-30"}, "JSON_PARSER_ERROR"),
        ({"Subsync_MRR__c": "lots"}, "JSON_PARSER_ERROR"),
        ({"ContractTerm": 1.5}, "JSON_PARSER_ERROR"),
        ({"ContractTerm": 0}, "NUMBER_OUTSIDE_VALID_RANGE"),
        ({"EndDate": "2025-01-01"}, "INVALID_FIELD_FOR_INSERT_UPDATE"),
        ({"ContractNumber": "1"}, "INVALID_FIELD_FOR_INSERT_UPDATE"),
        ({"Subsync_Plan__c": "p" * 256}, "STRING_TOO_LONG"),
        ({"CurrencyIsoCode": "USD"}, "INVALID_FIELD"),
    ],
)
def test_contract_field_rules(api, account_id, extra, code):
    response = _draft(api, account_id, **extra)
    assert response.status_code == 400, response.text
    assert errors_of(response) == [code]


def test_account_is_required_and_must_exist(api, account_id):
    missing = api.patch(f"/sobjects/Contract/{EXT}/chargebee:s9", json={"StartDate": "2024-01-01"})
    assert errors_of(missing) == ["REQUIRED_FIELD_MISSING"]
    assert missing.json()[0]["fields"] == ["AccountId"]

    ghost = account_id[:6] + ("Z" if account_id[6] != "Z" else "Y") + account_id[7:15]
    response = _draft(api, ghost)
    assert errors_of(response) == ["INVALID_CROSS_REFERENCE_KEY"]

    wrong_kind = _draft(api, "800Em0000AulQ3lIQE")
    assert errors_of(wrong_kind) == ["FIELD_INTEGRITY_EXCEPTION"]
    assert errors_of(_draft(api, "nonsense")) == ["MALFORMED_ID"]


def test_account_by_external_id_reference(api, emu, account_id):
    body = {
        "Account": {"Subsync_Customer_Id__c": "chargebee:c1"},
        "StartDate": "2024-01-01",
        "ContractTerm": 1,
    }
    response = api.patch(f"/sobjects/Contract/{EXT}/chargebee:s2", json=body)
    assert response.status_code == 201, response.text
    assert emu.record("Contract", response.json()["id"])["AccountId"] == account_id

    body["Account"] = {"Subsync_Customer_Id__c": "chargebee:nobody"}
    missing = api.patch(f"/sobjects/Contract/{EXT}/chargebee:s3", json=body)
    assert errors_of(missing) == ["INVALID_FIELD"]
    assert "Foreign key external ID" in missing.json()[0]["message"]


def test_multi_currency_contract_rules(start_emulator):
    emu = start_emulator(multi_currency=True)
    api = Api(emu)
    account = api.post("/sobjects/Account/", json={"Name": "Acme", "CurrencyIsoCode": "EUR"})
    assert account.status_code == 201
    account_id = account.json()["id"]
    created = _draft(api, account_id, CurrencyIsoCode="EUR")
    assert created.status_code == 201
    assert emu.record("Contract", created.json()["id"])["CurrencyIsoCode"] == "EUR"
    plain = _draft(api, account_id, sub="chargebee:s2")
    assert emu.record("Contract", plain.json()["id"])["CurrencyIsoCode"] == "USD"

    bad = _draft(api, account_id, sub="chargebee:s3", CurrencyIsoCode="XXX")
    assert errors_of(bad) == ["INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"]

    api.patch(f"/sobjects/Contract/{EXT}/chargebee:s1", json={"Status": "Activated"})
    same = api.patch(f"/sobjects/Contract/{EXT}/chargebee:s1", json={"CurrencyIsoCode": "EUR"})
    assert same.status_code == 200
    changed = api.patch(f"/sobjects/Contract/{EXT}/chargebee:s1", json={"CurrencyIsoCode": "GBP"})
    assert errors_of(changed) == ["FIELD_INTEGRITY_EXCEPTION"]


def test_account_with_contracts_cannot_be_deleted(api, account_id):
    _draft(api, account_id)
    response = api.delete(f"/sobjects/Account/{account_id}")
    assert errors_of(response) == ["DELETE_FAILED"]


def test_an_org_without_a_status_default_requires_status_on_insert(start_emulator):
    """--require-contract-status: as strict as a real org whose picklist has no default."""
    emu = start_emulator(contract_status_default=None)
    api = Api(emu)
    account = api.patch("/sobjects/Account/Subsync_Customer_Id__c/chargebee:c1",
                        json={"Name": "Acme"}).json()["id"]

    missing = _draft(api, account)
    assert missing.status_code == 400
    assert errors_of(missing) == ["REQUIRED_FIELD_MISSING"]
    assert missing.json()[0]["fields"] == ["Status"]

    created = _draft(api, account, Status="Draft")
    assert created.status_code == 201, created.text
    # Once the record exists, an update need not repeat it.
    assert _draft(api, account, ContractTerm=6).status_code == 200
    describe = api.get("/sobjects/Contract/describe").json()["fields"]
    [status] = [f for f in describe if f["name"] == "Status"]
    assert status["defaultedOnCreate"] is False and status["nillable"] is False


def test_an_org_with_another_status_default_applies_it(start_emulator):
    emu = start_emulator(contract_status_default="In Approval Process")
    api = Api(emu)
    account = api.patch("/sobjects/Account/Subsync_Customer_Id__c/chargebee:c1",
                        json={"Name": "Acme"}).json()["id"]
    created = _draft(api, account)
    assert emu.record("Contract", created.json()["id"])["Status"] == "In Approval Process"
    explicit = _draft(api, account, sub="chargebee:s2", Status="Draft")
    assert emu.record("Contract", explicit.json()["id"])["Status"] == "Draft"


def test_the_command_line_sets_the_status_default():
    from emulator.salesforce.__main__ import parse_args

    assert parse_args([]).contract_status_default == "Draft"
    assert parse_args(["--require-contract-status"]).contract_status_default is None
    assert parse_args(["--contract-status-default", "In Approval Process"]
                      ).contract_status_default == "In Approval Process"
    with pytest.raises(SystemExit):
        parse_args(["--require-contract-status", "--contract-status-default", "Draft"])
