"""SOQL: the subset reconciliation uses, pagination, and Salesforce's query errors."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from .conftest import Api, errors_of, make_sf

EXT = "Subsync_Customer_Id__c"


def _seed_accounts(api: Api, count: int, prefix: str = "chargebee") -> None:
    for start in range(0, count, 200):
        records = [
            {
                "attributes": {"type": "Account"},
                EXT: f"{prefix}:{i:04d}",
                "Name": f"Customer {i}",
                "NumberOfEmployees": i,
            }
            for i in range(start, min(count, start + 200))
        ]
        response = api.patch(f"/composite/sobjects/Account/{EXT}", json={"records": records})
        assert all(r["success"] for r in response.json())


@pytest.fixture
def seeded(api):
    _seed_accounts(api, 5)
    _seed_accounts(api, 2, prefix="braintree")
    return api


def _names(sf, soql):
    return [r["Name"] for r in sf.query(soql)["records"]]


def test_where_filters(seeded, sf):
    assert _names(
        sf, "SELECT Name FROM Account WHERE Subsync_Customer_Id__c = 'chargebee:0003'"
    ) == ["Customer 3"]
    assert _names(
        sf, "select name from account where subsync_customer_id__c = 'CHARGEBEE:0003'"
    ) == [
        "Customer 3"  # names and text comparisons ignore case, like SOQL
    ]
    found = _names(
        sf,
        "SELECT Name FROM Account WHERE Subsync_Customer_Id__c IN ('chargebee:0001', "
        "'braintree:0000') ORDER BY Name",
    )
    assert found == ["Customer 0", "Customer 1"]
    assert (
        len(
            sf.query("SELECT Id FROM Account WHERE Subsync_Customer_Id__c LIKE 'braintree:%'")[
                "records"
            ]
        )
        == 2
    )
    assert sf.query("SELECT Id FROM Account WHERE Subsync_Customer_Id__c != null")["totalSize"] == 7
    assert (
        sf.query("SELECT Id FROM Account WHERE Website = null AND NumberOfEmployees >= 3")[
            "totalSize"
        ]
        == 2
    )
    assert (
        sf.query(
            "SELECT Id FROM Account WHERE NOT Subsync_Customer_Id__c LIKE 'chargebee:%' OR "
            "(NumberOfEmployees > 3 AND NumberOfEmployees < 5)"
        )["totalSize"]
        == 3
    )
    assert (
        sf.query("SELECT Id FROM Account WHERE Subsync_Customer_Id__c NOT IN ('chargebee:0000')")[
            "totalSize"
        ]
        == 6
    )


def test_order_limit_offset(seeded, sf):
    ordered = sf.query(
        "SELECT Subsync_Customer_Id__c FROM Account WHERE Subsync_Customer_Id__c LIKE 'chargebee%' "
        "ORDER BY NumberOfEmployees DESC LIMIT 2"
    )
    assert [r[EXT] for r in ordered["records"]] == ["chargebee:0004", "chargebee:0003"]
    assert ordered["totalSize"] == 2
    offset = sf.query(
        "SELECT Subsync_Customer_Id__c FROM Account "
        "ORDER BY Subsync_Customer_Id__c LIMIT 2 OFFSET 1"
    )
    assert [r[EXT] for r in offset["records"]] == ["braintree:0001", "chargebee:0000"]


def test_count_queries(seeded, sf):
    result = sf.query("SELECT COUNT() FROM Account WHERE Subsync_Customer_Id__c LIKE 'chargebee:%'")
    assert result["totalSize"] == 5 and result["records"] == []
    aggregate = sf.query("SELECT COUNT(Id) FROM Account")
    assert aggregate["records"][0]["expr0"] == 7


def test_relationship_field_and_date_filters(api, sf):
    api.patch(f"/sobjects/Account/{EXT}/chargebee:c1", json={"Name": "Acme"})
    api.patch(
        "/sobjects/Contract/Subsync_Subscription_Id__c/chargebee:s1",
        json={
            "Account": {EXT: "chargebee:c1"},
            "StartDate": "2024-01-01",
            "ContractTerm": 12,
            "Subsync_MRR__c": 10.5,
        },
    )
    records = sf.query(
        "SELECT Subsync_Subscription_Id__c, Account.Subsync_Customer_Id__c, Account.Name, "
        "EndDate FROM Contract "
        "WHERE Account.Subsync_Customer_Id__c = 'chargebee:c1' AND StartDate >= 2024-01-01 "
        "AND Subsync_MRR__c > 10 AND CreatedDate = TODAY"
    )["records"]
    assert len(records) == 1
    assert records[0]["Account"][EXT] == "chargebee:c1"
    assert records[0]["Account"]["Name"] == "Acme"
    assert records[0]["Account"]["attributes"]["type"] == "Account"
    assert records[0]["EndDate"] == "2024-12-31"


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Nope__c FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Lead", "INVALID_TYPE"),
        ("SELECT Id FROM Contract WHERE StartDate = '2024-01-01'", "INVALID_FIELD"),
        ("SELECT Id FROM Contract WHERE ContractTerm = '12'", "INVALID_FIELD"),
        ("SELECT Id FROM Account WHERE Name = Acme", "INVALID_FIELD"),
        ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY"),
        ("SELECT Id, Id FROM Account", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account GROUP BY Name", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contract WHERE Description = 'x'", "INVALID_FIELD"),
    ],
)
def test_query_errors(api, soql, code):
    response = api.get("/query/", params={"q": soql})
    assert response.status_code == 400
    assert errors_of(response) == [code]


def test_query_error_through_simple_salesforce(sf):
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Nope FROM Account")
    assert "No such column 'Nope'" in caught.value.content[0]["message"]


def test_pagination_with_next_records_url(start_emulator):
    emu = start_emulator(page_size=200)
    api = Api(emu)
    _seed_accounts(api, 450)
    sf = make_sf(emu, api.token)
    first = sf.query("SELECT Id FROM Account")
    assert first["done"] is False and len(first["records"]) == 200
    assert first["totalSize"] == 450
    assert first["nextRecordsUrl"].startswith("/services/data/v62.0/query/01g")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert len(second["records"]) == 200
    everything = sf.query_all("SELECT Subsync_Customer_Id__c FROM Account")
    assert len(everything["records"]) == 450
    assert len({r[EXT] for r in everything["records"]}) == 450
    bad = api.get("/query/01gNOPE-200")
    assert errors_of(bad) == ["INVALID_QUERY_LOCATOR"]
    # the batch size header is honoured (200..2000)
    sized = api.get(
        "/query/",
        params={"q": "SELECT Id FROM Account"},
        headers={"Sforce-Query-Options": "batchSize=300"},
    ).json()
    assert len(sized["records"]) == 300


def test_query_all_includes_deleted(api, sf):
    record_id = sf.Account.create({"Name": "Gone"})["id"]
    sf.Account.delete(record_id)
    assert sf.query("SELECT Id FROM Account")["totalSize"] == 0
    deleted = sf.query_all("SELECT Id, IsDeleted FROM Account", include_deleted=True)
    assert deleted["records"][0]["IsDeleted"] is True
