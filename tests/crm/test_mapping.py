"""The subscription → Account/Contract mapping: pure functions, no database, no Salesforce."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ImproperlyConfigured

from billing.models import Customer, Subscription
from crm import mapping
from crm.mapping import FieldConfig


def _customer(**fields) -> Customer:
    values = {"provider": "chargebee", "external_id": "cus_1", "email": "", "company": "",
              "first_name": "", "last_name": ""}
    values.update(fields)
    return Customer(**values)


def _subscription(**fields) -> Subscription:
    values = {
        "provider": "chargebee", "external_id": "sub_1", "status": "active", "mrr": 4999,
        "currency": "USD", "plan_id": "pro-monthly",
        "started_at": datetime(2026, 1, 15, 10, tzinfo=UTC),
        "current_term_end": datetime(2027, 1, 15, 10, tzinfo=UTC),
        "next_renewal_at": datetime(2027, 1, 15, 10, tzinfo=UTC),
    }
    customer = fields.pop("customer", None) or _customer()
    values.update(fields)
    sub = Subscription(**values)
    sub.customer = customer
    return sub


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"company": "Acme Ltd", "first_name": "Ada", "email": "ada@acme.test"}, "Acme Ltd"),
        ({"company": "  ", "first_name": "Ada", "last_name": "Lovelace"}, "Ada Lovelace"),
        ({"last_name": "Lovelace", "email": "ada@acme.test"}, "Lovelace"),
        ({"email": "ada@acme.test"}, "ada@acme.test"),
        ({}, "cus_1"),
        ({"company": "x" * 300}, "x" * 255),
    ],
)
def test_account_name_falls_back_from_company_to_name_email_and_id(fields, expected):
    assert mapping.account_name(_customer(**fields)) == expected


def test_account_is_keyed_by_provider_and_customer_id():
    account = mapping.account_fields(_customer(company="Acme"))
    assert account == {"Subsync_Customer_Id__c": "chargebee:cus_1", "Name": "Acme"}


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (date(2026, 1, 1), date(2026, 2, 1), 1),    # exactly one month
        (date(2026, 1, 1), date(2027, 1, 1), 12),   # a year
        (date(2026, 1, 15), date(2026, 2, 16), 2),  # a day into the next month: round up
        (date(2026, 1, 31), date(2026, 2, 28), 1),  # month-end clamping stays one month
        (date(2026, 1, 1), date(2026, 1, 10), 1),   # a short term is still at least one
        (date(2026, 3, 1), date(2026, 2, 1), 1),    # an end before the start: at least one
    ],
)
def test_contract_term_is_whole_months_rounded_up_and_at_least_one(start, end, months):
    assert mapping.contract_term_months(start=start, end=end) == months


def test_contract_term_without_an_end_is_one_billing_period():
    sub = _subscription(current_term_end=None, next_renewal_at=None, billing_period=1,
                        billing_period_unit="year")
    assert mapping.contract_fields(sub, multi_currency=False)["ContractTerm"] == 12


@pytest.mark.parametrize(
    ("amount", "currency", "major"),
    [(4999, "USD", 49.99), (5000, "JPY", 5000), (12345, "KWD", 12.345), (0, "EUR", 0.0)],
)
def test_mrr_is_sent_in_major_units_of_the_subscription_currency(amount, currency, major):
    value = mapping.mrr_major_units(amount=amount, currency=currency)
    assert value == major
    if currency == "JPY":
        assert isinstance(value, int)


def test_contract_fields_follow_the_architecture_table():
    sub = _subscription(cancelled_at=datetime(2026, 6, 30, 23, 30, tzinfo=UTC))
    contract = mapping.contract_fields(sub, multi_currency=False)
    assert contract == {
        "Subsync_Subscription_Id__c": "chargebee:sub_1",
        "StartDate": "2026-01-15",
        "ContractTerm": 12,
        "Description": contract["Description"],
        "Subsync_Status__c": "active",
        "Subsync_MRR__c": 49.99,
        "Subsync_Plan__c": "pro-monthly",
        "Subsync_Renewal_Date__c": "2027-01-15",
        "Subsync_Cancelled_Date__c": "2026-06-30",
        "Subsync_Provider__c": "chargebee",
    }
    assert "49.99 USD" in contract["Description"] and "sub_1" in contract["Description"]
    assert "AccountId" not in contract and "Status" not in contract


def test_currency_is_sent_only_to_multi_currency_orgs():
    sub = _subscription(currency="EUR")
    assert "CurrencyIsoCode" not in mapping.contract_fields(sub, multi_currency=False)
    assert mapping.contract_fields(sub, multi_currency=True)["CurrencyIsoCode"] == "EUR"


@pytest.mark.parametrize(
    ("status", "sent"),
    [("trial", "trial"), ("active", "active"), ("past_due", "past_due"),
     ("non_renewing", "non_renewing"), ("paused", "paused"), ("cancelled", "cancelled"),
     ("expired", "expired"), ("future", None)],
)
def test_subsync_status_values(status, sent):
    assert mapping.contract_fields(_subscription(status=status),
                                   multi_currency=False)["Subsync_Status__c"] == sent


def test_contract_body_sends_account_and_currency_only_before_activation():
    payload = mapping.build_payload(_subscription(currency="EUR"), multi_currency=True,
                                    activate=True)
    draft = mapping.contract_body(payload, account_id="001A", activated=False)
    assert draft["AccountId"] == "001A" and draft["CurrencyIsoCode"] == "EUR"
    active = mapping.contract_body(payload, account_id="001A", activated=True)
    assert "AccountId" not in active and "CurrencyIsoCode" not in active
    # Draft said explicitly (never the org's picklist default); an Activated one gets none.
    assert draft["Status"] == "Draft" and "Status" not in active


def test_digest_changes_with_content_only():
    first = mapping.build_payload(_subscription(), multi_currency=False, activate=True)
    same = mapping.build_payload(_subscription(), multi_currency=False, activate=True)
    dearer = mapping.build_payload(_subscription(mrr=5999), multi_currency=False, activate=True)
    assert first.digest == same.digest
    assert first.digest != dearer.digest
    assert len(first.digest) == 64


def test_field_map_renames_and_drops_fields_and_extras_are_added():
    config = FieldConfig.build(
        field_map={"Contract.Subsync_MRR__c": "MRR__c", "Subsync_Plan__c": "",
                   "Subsync_Customer_Id__c": "Billing_Id__c"},
        extra_fields={"Account": {"Type": "Customer - Direct"}},
    )
    payload = mapping.build_payload(_subscription(), multi_currency=False, activate=True,
                                    config=config)
    assert payload.contract["MRR__c"] == 49.99
    assert "Subsync_MRR__c" not in payload.contract
    assert "Subsync_Plan__c" not in payload.contract
    assert payload.account == {"Billing_Id__c": "chargebee:cus_1", "Name": "cus_1",
                               "Type": "Customer - Direct"}
    assert config.account_external_field == "Billing_Id__c"


@pytest.mark.parametrize(
    ("field_map", "extra"),
    [
        ({"Contract.Nope__c": "X"}, {}),
        ({"Subsync_Subscription_Id__c": ""}, {}),
        ({}, {"Contract": {"Status": "Activated"}}),
        ({}, {"Contract": {"AccountId": "001"}}),
        ({}, {"Lead": {"X": 1}}),
    ],
)
def test_field_config_refuses_what_would_break_the_push(field_map, extra):
    with pytest.raises(ImproperlyConfigured):
        FieldConfig.build(field_map=field_map, extra_fields=extra)
