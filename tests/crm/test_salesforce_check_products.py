"""salesforce_check with products and renewals on: products, price book, schedules, picklist
values and field access, against good and broken emulated orgs."""

from __future__ import annotations

import pytest

from crm.services import preflight


@pytest.fixture
def on(settings):
    settings.SUBSYNC_SF_PRODUCTS = True
    settings.SUBSYNC_SF_RENEWALS = True
    return settings


def _errors(report) -> dict[str, str]:
    return {f.subject: f.message for f in report.errors}


def test_off_checks_nothing_more(emu):
    report = preflight.run_preflight()
    assert report.ok
    assert not any(f.subject.startswith(("Product2", "Opportunity", "Pricebook2"))
                   for f in report.findings)


def test_a_good_org_passes(emu, on):
    report = preflight.run_preflight()
    assert report.ok, _errors(report)
    assert any(f.check == "price_book" and f.severity == preflight.INFO
               for f in report.findings)


def test_revenue_schedules_off_says_where_to_turn_them_on(start_salesforce, on):
    start_salesforce(revenue_schedules=False)
    errors = _errors(preflight.run_preflight())
    assert "Product Schedules Settings" in errors["Product2.CanUseRevenueSchedule"]
    assert "Product Schedules Settings" in errors["OpportunityLineItemSchedule"]


def test_stage_and_type_values_must_exist(emu, on):
    on.SUBSYNC_SF_RENEWAL_STAGE = "Renewing"
    on.SUBSYNC_SF_RENEWAL_TYPE = "Renewal"
    errors = _errors(preflight.run_preflight())
    assert "lacks the picklist values Renewing" in errors["Opportunity.StageName"]
    assert "lacks the picklist values Renewal" in errors["Opportunity.Type"]


def test_missing_fields_and_external_ids(start_salesforce, on):
    emu = start_salesforce()
    emu.drop_field("Opportunity", "Subsync_Renewal_Id__c")
    emu.alter_field("Product2", "Subsync_Product_Id__c", unique=False)
    emu.alter_field("OpportunityLineItem", "Quantity", updateable=False)
    errors = _errors(preflight.run_preflight())
    assert "sf project deploy start" in errors["Opportunity.Subsync_Renewal_Id__c"]
    assert "not Unique" in errors["Product2.Subsync_Product_Id__c"]
    assert "cannot edit OpportunityLineItem.Quantity" in errors["OpportunityLineItem.Quantity"]
