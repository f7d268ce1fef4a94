"""Products, price book entries and renewal opportunities pushed with the Contracts, through
simple-salesforce over HTTPS against the emulator."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from billing.models import SubscriptionItem
from crm.models import ContractSync, PriceEntrySync, ProductSync, RenewalSync
from crm.services import flush, renewal_opportunities
from tests.crm import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def on(settings):
    settings.SUBSYNC_SF_PRODUCTS = True
    settings.SUBSYNC_SF_RENEWALS = True
    settings.SUBSYNC_SF_RENEWAL_LEAD_DAYS = 120
    return settings


def _annual(external_id: str = "sub_1", *, days: int = 60, currency: str = "USD",
            customer_id: str = "cus_1", plan_quantity: int = 2, discount: int = 12000):
    """A yearly subscription renewing in `days`: plan 2 x 600.00, add-on 120.00, discount
    120.00 a year."""
    now = timezone.now()
    sub = f.subscription(external_id, customer_id=customer_id, currency=currency,
                         customer=f.customer(customer_id, company=f"Acme {customer_id}"),
                         plan_id="pro-yearly", billing_period=12, billing_period_unit="month",
                         current_term_start=now - timedelta(days=365 - days),
                         current_term_end=now + timedelta(days=days))
    sub.items.all().delete()
    SubscriptionItem.objects.bulk_create([
        SubscriptionItem(subscription=sub, kind="plan", item_id="pro-yearly",
                         quantity=plan_quantity, unit_amount=60000,
                         amount=60000 * plan_quantity),
        SubscriptionItem(subscription=sub, kind="addon", item_id="seats", quantity=1,
                         unit_amount=12000, amount=12000),
        SubscriptionItem(subscription=sub, kind="discount", item_id="loyal", quantity=1,
                         unit_amount=discount, amount=discount),
    ])
    f.changed(sub)
    return sub


def _opportunities(emu) -> list[dict]:
    return emu.records("Opportunity")


def _schedules_of(emu, line_id: str) -> list[dict]:
    return sorted(emu.find("OpportunityLineItemSchedule", OpportunityLineItemId=line_id),
                  key=lambda r: r["ScheduleDate"])


def test_nothing_beyond_contracts_when_the_settings_are_off(emu):
    _annual()
    flush.flush_due()
    assert emu.count("Contract") == 1
    assert emu.count("Product2") == emu.count("PricebookEntry") == 0
    assert emu.count("Opportunity") == 0
    assert not any("Pricebook2" in path or "Opportunity" in path for _, path in emu.calls)


def test_products_alone_push_no_opportunity(emu, settings):
    settings.SUBSYNC_SF_PRODUCTS = True
    _annual()
    report = flush.flush_due()
    assert report.synced == 1
    assert emu.count("Product2") == emu.count("PricebookEntry") == 2
    assert emu.count("Opportunity") == 0 and not RenewalSync.objects.exists()


def test_products_and_entries_are_created_once_per_plan_and_currency(emu, on):
    _annual("sub_1", customer_id="cus_1")
    _annual("sub_2", customer_id="cus_2")
    flush.flush_due()
    products = {p["Subsync_Product_Id__c"]: p for p in emu.records("Product2")}
    assert set(products) == {"chargebee:pro-yearly", "chargebee:seats"}
    assert products["chargebee:pro-yearly"]["ProductCode"] == "pro-yearly"
    assert products["chargebee:pro-yearly"]["IsActive"] is True
    assert products["chargebee:pro-yearly"]["CanUseRevenueSchedule"] is True
    [book] = emu.records("Pricebook2")
    entries = emu.records("PricebookEntry")
    assert len(entries) == 2 and {e["Pricebook2Id"] for e in entries} == {book["Id"]}
    by_product = {e["Product2Id"]: e["UnitPrice"] for e in entries}
    assert by_product[products["chargebee:pro-yearly"]["Id"]] == 600.0  # the unit price
    emu.clear_calls()
    f.changed(ContractSync.objects.get(subscription__external_id="sub_1").subscription,
              mrr=9999)
    flush.flush_due()
    assert emu.count("Product2") == 2 and emu.count("PricebookEntry") == 2
    assert not any("Product2" in path or "PricebookEntry" in path for _, path in emu.calls)
    # The renewals did not change either (the MRR is not part of them): no call for them.
    assert not any("Opportunity" in path or "query" in path for _, path in emu.calls)
    assert ProductSync.objects.count() == 2 and PriceEntrySync.objects.count() == 2


def test_a_renewal_opportunity_with_line_items_and_a_monthly_schedule(emu, on):
    sub = _annual()
    report = flush.flush_due()
    assert report.synced == 1 and report.failed == report.retrying == 0

    [opp] = _opportunities(emu)
    when = sub.current_term_end.astimezone(UTC).date()
    assert opp["Subsync_Renewal_Id__c"] == f"chargebee:sub_1:{when.isoformat()}"
    assert opp["CloseDate"] == when.isoformat() and opp["StageName"] == "Prospecting"
    dash = "\N{EN DASH}"
    assert opp["Name"] == f"Renewal {dash} Acme cus_1 {dash} pro-yearly {dash} {when}"
    contract = emu.find("Contract", Subsync_Subscription_Id__c="chargebee:sub_1")[0]
    assert opp["ContractId"] == contract["Id"] and opp["AccountId"] == contract["AccountId"]
    # A year of 1,200.00 + 120.00 less the 120.00 discount.
    assert opp["Amount"] == 1200.0
    lines = {line["Subsync_Line_Id__c"].rsplit(":", 1)[1]: line
             for line in emu.find("OpportunityLineItem", OpportunityId=opp["Id"])}
    assert set(lines) == {"pro-yearly", "seats"}
    # The discount is spread in proportion: 120.00 x 1200/1320 = 109.09 (rounded down, its
    # remainder .09 is smaller than the add-on's .909, which gets the spare cent: 10.91).
    assert lines["pro-yearly"]["Quantity"] == 2 and lines["pro-yearly"]["TotalPrice"] == 1090.91
    assert lines["seats"]["TotalPrice"] == 109.09
    schedule = _schedules_of(emu, lines["pro-yearly"]["Id"])
    assert len(schedule) == 12 and all(r["Type"] == "Revenue" for r in schedule)
    assert schedule[0]["ScheduleDate"] == when.isoformat()
    assert round(sum(r["Revenue"] for r in schedule), 2) == 1090.91
    # 109,091 cents over 12 months: 11 months of 90.91, one of 90.90.
    assert sorted(r["Revenue"] for r in schedule) == [90.90] + [90.91] * 11
    assert RenewalSync.objects.get().sf_opportunity_id == opp["Id"]


def test_quantity_change_updates_line_items_and_schedules(emu, on):
    sub = _annual()
    flush.flush_due()
    [opp] = _opportunities(emu)
    plan = sub.items.get(kind="plan")
    plan.quantity, plan.amount = 3, 180000
    plan.save()
    f.changed(sub)
    flush.flush_due()
    [again] = _opportunities(emu)
    assert again["Id"] == opp["Id"]
    lines = emu.find("OpportunityLineItem", OpportunityId=opp["Id"])
    assert len(lines) == 2
    [line] = [x for x in lines if x["Subsync_Line_Id__c"].endswith(":pro-yearly")]
    # 1,800.00 + 120.00 - 120.00, the discount spread: plan 112.50, add-on 7.50.
    assert line["Quantity"] == 3 and line["TotalPrice"] == 1687.5
    assert again["Amount"] == 1800.0
    schedule = _schedules_of(emu, line["Id"])
    assert len(schedule) == 12 and round(sum(r["Revenue"] for r in schedule), 2) == 1687.5
    assert emu.count("OpportunityLineItemSchedule") == 24  # old rows replaced, not added


def test_renewal_is_won_and_cancellation_lost_with_reason(emu, on):
    sub = _annual("sub_1", customer_id="cus_1")
    other = _annual("sub_2", customer_id="cus_2")
    flush.flush_due()
    old_end = sub.current_term_end
    f.changed(sub, current_term_start=old_end, current_term_end=old_end + timedelta(days=365))
    f.changed(other, status="cancelled", cancel_reason="too expensive",
              cancelled_at=timezone.now())
    flush.flush_due()
    opps = {o["Subsync_Renewal_Id__c"].split(":")[1]: o for o in _opportunities(emu)}
    assert len(_opportunities(emu)) == 2  # the next term is not within 120 days yet
    assert opps["sub_1"]["StageName"] == "Closed Won" and opps["sub_1"]["IsWon"] is True
    assert opps["sub_2"]["StageName"] == "Closed Lost"
    assert opps["sub_2"]["Subsync_Loss_Reason__c"] == "cancelled: too expensive"
    assert set(RenewalSync.objects.values_list("stage", flat=True)) == {"won", "lost"}


def test_the_next_opportunity_comes_when_its_window_opens(emu, on):
    sub = _annual(days=200)
    flush.flush_due()
    assert emu.count("Opportunity") == 0
    later = timezone.now().date() + timedelta(days=90)
    assert renewal_opportunities.mark_opening_windows(today=later) == 1
    assert renewal_opportunities.mark_opening_windows(today=timezone.now().date()) == 0
    f.changed(sub, current_term_end=sub.current_term_end - timedelta(days=100))
    flush.flush_due()
    assert emu.count("Opportunity") == 1
    assert renewal_opportunities.mark_opening_windows(today=later) == 0  # already there


def test_multi_currency_entries_and_opportunities(start_salesforce, on):
    emu = start_salesforce(multi_currency=True)
    _annual("sub_1", customer_id="cus_1", currency="USD")
    _annual("sub_2", customer_id="cus_2", currency="EUR")
    report = flush.flush_due()
    assert report.failed == report.retrying == 0
    entries = {(e["Product2Id"], e["CurrencyIsoCode"]) for e in emu.records("PricebookEntry")}
    assert len(entries) == 4  # two products in two currencies
    currencies = {o["Subsync_Renewal_Id__c"].split(":")[1]: o["CurrencyIsoCode"]
                  for o in _opportunities(emu)}
    assert currencies == {"sub_1": "USD", "sub_2": "EUR"}
    for line in emu.records("OpportunityLineItem"):
        opp = emu.record("Opportunity", line["OpportunityId"])
        assert line["CurrencyIsoCode"] == opp["CurrencyIsoCode"]


def _retry_now():
    ContractSync.objects.update(next_attempt_at=timezone.now())
    return flush.flush_due()


def _assert_complete(emu, *, opportunities: int, amount: float) -> None:
    assert emu.count("Opportunity") == opportunities
    assert emu.count("OpportunityLineItem") == 2 * opportunities
    assert emu.count("OpportunityLineItemSchedule") == 24 * opportunities
    assert emu.count("Product2") == 2 and emu.count("PricebookEntry") == 2
    for opp in _opportunities(emu):
        assert opp["Amount"] == amount


def test_a_failing_org_loses_nothing_and_duplicates_nothing(emu, on):
    _annual("sub_1", customer_id="cus_1")
    _annual("sub_2", customer_id="cus_2")
    emu.inject("server_error", count=1, path="OpportunityLineItem/Subsync_Line_Id__c")
    first = flush.flush_due()
    assert first.retrying == 2 and first.synced == 0 and first.stopped
    second = _retry_now()
    assert second.synced == 2 and second.failed == second.retrying == 0
    _assert_complete(emu, opportunities=2, amount=1200.0)


def test_a_lost_answer_duplicates_no_schedule(emu, on, settings):
    sub = _annual()
    flush.flush_due()
    settings.SALESFORCE_TIMEOUT = 0.5
    plan = sub.items.get(kind="plan")
    plan.quantity, plan.amount = 3, 180000
    plan.save()
    f.changed(sub)
    # The schedule insert is done by Salesforce, but its answer never arrives.
    emu.inject("latency", seconds=1.0, method="POST", path="composite/sobjects$")
    lost = flush.flush_due()
    assert lost.retrying == 1
    settings.SALESFORCE_TIMEOUT = 5.0
    retry = _retry_now()
    assert retry.failed == retry.retrying == 0 and retry.unchanged == 1  # Contract alike
    _assert_complete(emu, opportunities=1, amount=1800.0)


def test_an_edit_in_salesforce_is_reported_as_drift_and_overwritten(emu, on):
    from crm.salesforce.factory import get_client
    from crm.services.reconcile_renewals import reconcile_renewals

    _annual()
    flush.flush_due()
    [line] = [x for x in emu.records("OpportunityLineItem")
              if x["Subsync_Line_Id__c"].endswith(":pro-yearly")]
    client = get_client()
    [edited] = client.update_collection(sobject="OpportunityLineItem",
                                        records=[{"Id": line["Id"], "Quantity": 9}])
    assert edited.success
    drift = reconcile_renewals(client=client)
    assert drift.checked == 1 and drift.marked == 1
    [found] = drift.drifted
    assert "Quantity 9.0 instead of 2" in found["differences"][0]
    flush.flush_due()
    restored = emu.record("OpportunityLineItem", line["Id"])
    assert (restored["Quantity"], restored["TotalPrice"]) == (2, 1090.91)
    assert emu.count("OpportunityLineItemSchedule") == 24  # rewritten, not added
    assert reconcile_renewals(client=client).drifted == []
