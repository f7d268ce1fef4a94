"""Products, price books and opportunities: the platform rules the emulator enforces."""

from __future__ import annotations

import pytest

from .conftest import Api, errors_of


def _standard_book(sf) -> str:
    rows = sf.query("SELECT Id, Name FROM Pricebook2 WHERE IsStandard = true")["records"]
    assert len(rows) == 1
    return rows[0]["Id"]


def _product(api: Api, code: str = "pro", *, schedules: bool = True) -> str:
    response = api.patch(f"/sobjects/Product2/Subsync_Product_Id__c/chargebee:{code}",
                         json={"Name": code.title(), "ProductCode": code, "IsActive": True,
                               "CanUseRevenueSchedule": schedules})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _entry(api: Api, book: str, product: str, price: float = 100.0, **extra):
    return api.post("/sobjects/PricebookEntry", json={
        "Pricebook2Id": book, "Product2Id": product, "UnitPrice": price, "IsActive": True,
        **extra})


def _opportunity(api: Api, ref: str = "chargebee:s1:2027-01-01", **extra) -> str:
    account = api.patch("/sobjects/Account/Subsync_Customer_Id__c/chargebee:c1",
                        json={"Name": "Acme"}).json()["id"]
    response = api.patch(f"/sobjects/Opportunity/Subsync_Renewal_Id__c/{ref}", json={
        "AccountId": account, "Name": "Renewal", "StageName": "Prospecting",
        "CloseDate": "2027-01-01", **extra})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_one_standard_price_book_survives_reset_and_cannot_be_created(emu, api, sf):
    book = _standard_book(sf)
    refused = api.post("/sobjects/Pricebook2", json={"Name": "Mine", "IsStandard": True})
    assert errors_of(refused) == ["INVALID_FIELD_FOR_INSERT_UPDATE"]
    emu.reset()
    assert emu.count("Pricebook2") == 1
    assert emu.records("Pricebook2")[0]["IsStandard"] is True
    assert book  # the id may change with a reset; there is still exactly one


def test_standard_entry_first_and_one_per_product_and_book(api, sf):
    book = _standard_book(sf)
    custom = api.post("/sobjects/Pricebook2", json={"Name": "Partners", "IsActive": True})
    product = _product(api)
    early = _entry(api, custom.json()["id"], product)
    assert errors_of(early) == ["STANDARD_PRICE_NOT_DEFINED"]
    assert _entry(api, book, product).status_code == 201
    assert errors_of(_entry(api, book, product)) == ["DUPLICATE_VALUE"]
    assert _entry(api, custom.json()["id"], product).status_code == 201


def test_line_items_sum_into_amount_and_fix_the_price_book(emu, api, sf):
    book = _standard_book(sf)
    entry = _entry(api, book, _product(api), 100.0).json()["id"]
    opp = _opportunity(api)
    line = api.post("/sobjects/OpportunityLineItem", json={
        "OpportunityId": opp, "PricebookEntryId": entry, "Quantity": 3, "TotalPrice": 270})
    assert line.status_code == 201, line.text
    stored = emu.record("OpportunityLineItem", line.json()["id"])
    assert (stored["UnitPrice"], stored["ListPrice"]) == (90.0, 100.0)
    record = emu.record("Opportunity", opp)
    assert record["Amount"] == 270.0
    assert record["Pricebook2Id"] == book  # taken from the first line's entry
    assert record["HasOpportunityLineItem"] is True
    other = api.post("/sobjects/Pricebook2", json={"Name": "Other", "IsActive": True})
    moved = api.patch(f"/sobjects/Opportunity/{opp}",
                      json={"Pricebook2Id": other.json()["id"]})
    assert errors_of(moved) == ["FIELD_INTEGRITY_EXCEPTION"]
    both = api.patch(f"/sobjects/OpportunityLineItem/{line.json()['id']}",
                     json={"UnitPrice": 10, "TotalPrice": 20})
    assert errors_of(both) == ["FIELD_INTEGRITY_EXCEPTION"]
    assert api.patch(f"/sobjects/OpportunityLineItem/{line.json()['id']}",
                     json={"Quantity": 4}).status_code == 204
    assert emu.record("Opportunity", opp)["Amount"] == 360.0
    assert api.delete(f"/sobjects/OpportunityLineItem/{line.json()['id']}").status_code == 204
    assert emu.record("Opportunity", opp)["HasOpportunityLineItem"] is False


def test_line_item_entry_must_match_the_opportunity_price_book(api, sf):
    book = _standard_book(sf)
    product = _product(api)
    _entry(api, book, product)
    custom = api.post("/sobjects/Pricebook2", json={"Name": "Partners", "IsActive": True})
    custom_entry = _entry(api, custom.json()["id"], product).json()["id"]
    opp = _opportunity(api, Pricebook2Id=book)
    line = api.post("/sobjects/OpportunityLineItem", json={
        "OpportunityId": opp, "PricebookEntryId": custom_entry, "Quantity": 1,
        "UnitPrice": 5})
    assert errors_of(line) == ["FIELD_INTEGRITY_EXCEPTION"]
    assert "different pricebook" in line.json()[0]["message"]


def test_line_item_currency_must_match(start_emulator):
    emu = start_emulator(multi_currency=True)
    api = Api(emu)
    book = api.get("/query", params={"q": "SELECT Id FROM Pricebook2 WHERE IsStandard = true"}
                   ).json()["records"][0]["Id"]
    product = _product(api)
    eur = _entry(api, book, product, CurrencyIsoCode="EUR").json()["id"]
    assert _entry(api, book, product, CurrencyIsoCode="USD").status_code == 201
    opp = _opportunity(api, CurrencyIsoCode="USD")
    line = api.post("/sobjects/OpportunityLineItem", json={
        "OpportunityId": opp, "PricebookEntryId": eur, "Quantity": 1, "UnitPrice": 5})
    assert errors_of(line) == ["FIELD_INTEGRITY_EXCEPTION"]
    assert "currency" in line.json()[0]["message"]


@pytest.mark.parametrize("allowed", [True, False])
def test_revenue_schedules_only_on_products_that_allow_them(emu, api, sf, allowed):
    book = _standard_book(sf)
    entry = _entry(api, book, _product(api, schedules=allowed)).json()["id"]
    opp = _opportunity(api)
    line = api.post("/sobjects/OpportunityLineItem", json={
        "OpportunityId": opp, "PricebookEntryId": entry, "Quantity": 1, "TotalPrice": 120})
    schedule = api.post("/sobjects/OpportunityLineItemSchedule", json={
        "OpportunityLineItemId": line.json()["id"], "Type": "Revenue", "Revenue": 10,
        "ScheduleDate": "2027-01-01"})
    if allowed:
        assert schedule.status_code == 201, schedule.text
        assert api.delete(f"/sobjects/OpportunityLineItem/{line.json()['id']}"
                          ).status_code == 204
        assert emu.count("OpportunityLineItemSchedule") == 0  # deleted with its line
    else:
        assert errors_of(schedule) == ["FIELD_INTEGRITY_EXCEPTION"]


def test_org_without_revenue_schedules_has_neither_field_nor_object(start_emulator):
    api = Api(start_emulator(revenue_schedules=False))
    fields = {f["name"] for f in api.get("/sobjects/Product2/describe").json()["fields"]}
    assert "CanUseRevenueSchedule" not in fields
    assert api.get("/sobjects/OpportunityLineItemSchedule/describe").status_code == 404


def test_restricted_stage_and_type(api):
    account = api.patch("/sobjects/Account/Subsync_Customer_Id__c/chargebee:c1",
                        json={"Name": "Acme"}).json()["id"]
    for extra in ({"StageName": "Renewing"}, {"StageName": "Prospecting", "Type": "Renewal"}):
        response = api.post("/sobjects/Opportunity", json={
            "AccountId": account, "Name": "R", "CloseDate": "2027-01-01", **extra})
        assert errors_of(response) == ["INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"]


def test_closing_sets_is_won(emu, api):
    opp = _opportunity(api)
    api.patch(f"/sobjects/Opportunity/{opp}", json={"StageName": "Closed Won"})
    record = emu.record("Opportunity", opp)
    assert (record["IsClosed"], record["IsWon"]) == (True, True)


def test_the_command_line_can_start_an_org_without_revenue_schedules(cert_dir):
    from emulator.salesforce.__main__ import build, parse_args

    server = build(parse_args(["--port", "0", "--cert-dir", str(cert_dir),
                               "--no-revenue-schedules"]))
    assert server.org.schema.get("OpportunityLineItemSchedule") is None
    assert build(parse_args(["--port", "0", "--cert-dir", str(cert_dir)])
                 ).org.schema.get("OpportunityLineItemSchedule") is not None
