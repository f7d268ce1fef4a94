"""Versions, resources, global describe and the Account/Contract describes."""

from .conftest import Api


def test_versions_list_needs_no_token(emu, api):
    response = api.session.get(f"{emu.url}/services/data/", timeout=10)
    assert response.status_code == 200
    versions = {v["version"] for v in response.json()}
    assert {"46.0", "62.0"} <= versions
    assert "45.0" not in versions


def test_old_versions_are_not_found(api):
    assert api.get(api.base.replace("v62.0", "v45.0") + "/limits").status_code == 404


def test_global_describe_lists_the_objects(sf):
    names = {o["name"]: o["keyPrefix"] for o in sf.describe()["sobjects"]}
    assert names == {"Account": "001", "Contract": "800", "Product2": "01t", "Pricebook2": "01s",
                     "PricebookEntry": "01u", "Opportunity": "006", "OpportunityLineItem": "00k",
                     "OpportunityLineItemSchedule": "00o"}


def test_account_describe(sf):
    fields = {f["name"]: f for f in sf.Account.describe()["fields"]}
    ext = fields["Subsync_Customer_Id__c"]
    assert (ext["type"], ext["externalId"], ext["unique"], ext["custom"]) == (
        "string",
        True,
        True,
        True,
    )
    assert fields["Name"]["nillable"] is False
    assert fields["Name"]["length"] == 255
    assert fields["Id"]["createable"] is False
    assert "CurrencyIsoCode" not in fields


def test_contract_describe(sf):
    fields = {f["name"]: f for f in sf.Contract.describe()["fields"]}
    for name in (
        "Id",
        "Name",
        "AccountId",
        "StartDate",
        "EndDate",
        "ContractTerm",
        "Status",
        "Description",
        "ContractNumber",
        "OwnerExpirationNotice",
        "Subsync_Subscription_Id__c",
        "Subsync_Status__c",
        "Subsync_MRR__c",
        "Subsync_Plan__c",
        "Subsync_Renewal_Date__c",
        "Subsync_Cancelled_Date__c",
        "Subsync_Provider__c",
        "CreatedDate",
        "LastModifiedDate",
        "SystemModstamp",
    ):
        assert name in fields, name
    status = fields["Status"]
    assert [v["value"] for v in status["picklistValues"]] == [
        "Draft",
        "In Approval Process",
        "Activated",
    ]
    assert status["restrictedPicklist"] is True
    assert fields["EndDate"]["createable"] is False
    assert fields["EndDate"]["updateable"] is False
    assert fields["ContractNumber"]["autoNumber"] is True
    assert fields["AccountId"]["referenceTo"] == ["Account"]
    assert fields["AccountId"]["relationshipName"] == "Account"
    assert fields["Subsync_MRR__c"]["type"] == "currency"
    assert fields["Subsync_Renewal_Date__c"]["type"] == "date"
    assert fields["Subsync_Subscription_Id__c"]["externalId"] is True


def test_multi_currency_adds_currency_iso_code(start_emulator):
    emu = start_emulator(multi_currency=True)
    api = Api(emu)
    for sobject in ("Account", "Contract"):
        fields = {f["name"]: f for f in api.get(f"/sobjects/{sobject}/describe").json()["fields"]}
        currency = fields["CurrencyIsoCode"]
        assert currency["type"] == "picklist"
        assert "EUR" in [v["value"] for v in currency["picklistValues"]]


def test_broken_org_shows_in_describe(start_emulator):
    emu = start_emulator(
        drop_fields=("Contract.Subsync_Plan__c",),
        alter_fields={"Account.Subsync_Customer_Id__c": {"unique": False}},
    )
    api = Api(emu)
    contract = {f["name"] for f in api.get("/sobjects/Contract/describe").json()["fields"]}
    assert "Subsync_Plan__c" not in contract
    account = {f["name"]: f for f in api.get("/sobjects/Account/describe").json()["fields"]}
    assert account["Subsync_Customer_Id__c"]["unique"] is False
    emu.alter_field("Contract", "Subsync_Subscription_Id__c", external_id=False)
    contract = {f["name"]: f for f in api.get("/sobjects/Contract/describe").json()["fields"]}
    assert contract["Subsync_Subscription_Id__c"]["externalId"] is False


def test_unknown_object_is_not_found(api):
    response = api.get("/sobjects/Lead/describe")
    assert response.status_code == 404
    assert response.json()[0]["errorCode"] == "NOT_FOUND"
