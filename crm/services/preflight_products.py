"""salesforce_check for products and renewal opportunities (when SUBSYNC_SF_PRODUCTS or
SUBSYNC_SF_RENEWALS is on): what the push of crm.services.renewal_opportunities needs.

Products: Product2 editable with its external id and fields, revenue schedules enabled in
the org (CanUseRevenueSchedule exists only then), a standard price book the integration user
can see and that is active. Renewals: Opportunity and its products editable with their
fields, the schedule object present, and the stage and type values of the settings present
in the org's picklists. Same findings, same words as crm.services.preflight.
"""

from __future__ import annotations

from django.conf import settings

from crm import products_mapping as pm
from crm import renewals_mapping as rm
from crm.salesforce.client import SalesforceClient
from crm.salesforce.errors import SalesforceError
from crm.services.preflight_fields import (
    ASSIGN,
    ERROR,
    INFO,
    PreflightReport,
    _check_field,
    _check_picklist,
    _describe,
    _Expect,
    _field,
)

# A line item's opportunity and price book entry are set when it is created, never after.
CREATE_ONLY = frozenset({"OpportunityId", "PricebookEntryId"})
SCHEDULES_SETUP = ("turn on revenue schedules: Setup > Product Schedules Settings > tick "
                   "'Enable Revenue Schedules' (and 'Enable Revenue Schedules for All Products' "
                   "if you like; subsync ticks it on its own products)")


def check_products_and_renewals(report: PreflightReport, client: SalesforceClient) -> None:
    renewals = bool(settings.SUBSYNC_SF_RENEWALS)
    if not (settings.SUBSYNC_SF_PRODUCTS or renewals):
        return
    product = _describe(report, client, pm.PRODUCT)
    if product is not None:
        for name, types in pm.PRODUCT_FIELD_TYPES.items():
            if name == "CanUseRevenueSchedule" and _field(product, name) is None:
                report.add(ERROR, "schedules", f"{pm.PRODUCT}.{name}",
                           f"Revenue schedules are not enabled in this org, so renewal "
                           f"opportunities cannot carry monthly revenue: {SCHEDULES_SETUP}.")
                continue
            _check_field(report, _expect(pm.PRODUCT, name, types, pm.PRODUCT_EXTERNAL_ID),
                         _field(product, name))
    _check_price_book(report, client)
    if not renewals:
        return
    described = {name: _describe(report, client, name) for name in (rm.OPPORTUNITY, rm.LINE)}
    for sobject, fields in rm.FIELD_TYPES.items():
        body = described.get(sobject)
        if body is None:
            continue
        key = rm.RENEWAL_EXTERNAL_ID if sobject == rm.OPPORTUNITY else rm.LINE_EXTERNAL_ID
        for name, types in fields.items():
            found = _field(body, name)
            if found is not None and name in CREATE_ONLY:
                found = dict(found, updateable=True)  # set once, on create: never edited
            _check_field(report, _expect(sobject, name, types, key), found)
    _check_stages(report, described.get(rm.OPPORTUNITY))
    try:
        client.describe(rm.SCHEDULE)
    except SalesforceError:
        report.add(ERROR, "schedules", rm.SCHEDULE,
                   f"{rm.SCHEDULE} is not available to the integration user: {SCHEDULES_SETUP}, "
                   f"and {ASSIGN}.")


def _expect(sobject: str, name: str, types: frozenset[str], external: str) -> _Expect:
    standard_reference = name in ("AccountId", "ContractId", "Pricebook2Id", "OpportunityId",
                                  "PricebookEntryId")
    return _Expect(sobject=sobject, name=name, default=name, types=types,
                   external_id=name == external, custom=name.endswith("__c"),
                   ruled=standard_reference)


def _check_price_book(report: PreflightReport, client: SalesforceClient) -> None:
    try:
        rows = client.query_all("SELECT Id, IsActive FROM Pricebook2 WHERE IsStandard = true")
    except SalesforceError as exc:
        report.add(ERROR, "price_book", "Pricebook2",
                   f"Cannot read price books ({exc.code}: {exc.message}): {ASSIGN}.")
        return
    if not rows:
        report.add(ERROR, "price_book", "Pricebook2",
                   f"The standard price book is not visible to the integration user: {ASSIGN} "
                   "(it grants read access to Price Books).")
    elif not rows[0].get("IsActive"):
        report.add(ERROR, "price_book", "Pricebook2",
                   "The standard price book is inactive, so its entries cannot be sold: "
                   "activate it (App Launcher > Price Books > Standard Price Book > Edit > "
                   "Active).")
    else:
        report.add(INFO, "price_book", "Pricebook2",
                   "products are priced in the standard price book")


def _check_stages(report: PreflightReport, opportunity: dict | None) -> None:
    if opportunity is None:
        return
    stage = _field(opportunity, "StageName")
    if stage is not None:
        needed = {settings.SUBSYNC_SF_RENEWAL_STAGE, settings.SUBSYNC_SF_RENEWAL_WON_STAGE,
                  settings.SUBSYNC_SF_RENEWAL_LOST_STAGE}
        _check_picklist(report, "Opportunity.StageName", dict(stage, restrictedPicklist=True),
                        needed)
    if settings.SUBSYNC_SF_RENEWAL_TYPE:
        kind = _field(opportunity, "Type")
        if kind is None:
            report.add(ERROR, "field", "Opportunity.Type",
                       "Opportunity.Type is not visible to the integration user, but "
                       "SUBSYNC_SF_RENEWAL_TYPE is set: grant it read and edit access, or leave "
                       "the setting empty.")
        else:
            _check_picklist(report, "Opportunity.Type", kind, {settings.SUBSYNC_SF_RENEWAL_TYPE})
