"""The pure part of products and renewals: priced lines, terms, schedules and outcomes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

from crm import products_mapping as pm
from crm import renewals_mapping as rm


def _item(kind, item_id, amount, quantity=1, recurring=True):
    return SimpleNamespace(kind=kind, item_id=item_id, amount=amount, quantity=quantity,
                           unit_amount=amount // max(1, quantity), recurring=recurring)


def _sub(**fields):
    values = {"provider": "chargebee", "external_id": "s1", "status": "active",
              "cancel_reason": "", "contract_term_start": None, "contract_term_end": None,
              "current_term_end": None, "billing_period": 1, "billing_period_unit": "month"}
    values.update(fields)
    return SimpleNamespace(**values)


def test_discounts_are_spread_in_proportion_and_sum_exactly():
    lines = pm.priced_lines(provider="chargebee", items=[
        _item("plan", "pro", 1000), _item("addon", "seats", 500, quantity=5),
        _item("charge", "setup", 9999, recurring=False), _item("discount", "c", 100)])
    # 100 over 1000 and 500: 66.67 and 33.33 -> 67 (larger remainder) and 33.
    assert [(line.item_id, line.period_amount) for line in lines] == [("pro", 933),
                                                                     ("seats", 467)]
    assert lines[0].product_ref == "chargebee:pro" and lines[1].quantity == 5


def test_a_discount_larger_than_the_lines_leaves_them_at_zero():
    lines = pm.priced_lines(provider="braintree", items=[_item("plan", "p", 300),
                                                         _item("discount", "d", 500)])
    assert [line.period_amount for line in lines] == [0]


def test_monthly_schedule_sums_to_the_total_and_clamps_month_ends():
    rows = rm.monthly_schedule(total=100_003, months=12, start=date(2027, 1, 31))
    assert sum(amount for _, amount in rows) == 100_003
    # 100,003 = 12 x 8,333 + 7: the first seven months carry one more cent.
    assert [amount for _, amount in rows[:8]] == [8334] * 7 + [8333]
    assert [d.isoformat() for d, _ in rows[:3]] == ["2027-01-31", "2027-02-28", "2027-03-31"]
    assert rows[-1][0] == date(2027, 12, 31)


def test_the_term_is_the_contract_term_else_the_billing_period():
    assert rm.term_months(_sub(billing_period=1)) == 1
    assert rm.term_months(_sub(billing_period=1, billing_period_unit="year")) == 12
    assert rm.term_months(_sub(contract_term_start=datetime(2026, 1, 1, tzinfo=UTC),
                               contract_term_end=datetime(2028, 1, 1, tzinfo=UTC))) == 24
    assert rm.renewal_date(_sub(contract_term_end=datetime(2027, 5, 1, tzinfo=UTC),
                                current_term_end=datetime(2026, 6, 1, tzinfo=UTC))
                           ) == date(2027, 5, 1)


def test_a_line_total_over_a_term_rounds_half_up():
    line = pm.PricedLine(product_ref="x:p", item_id="p", kind="plan", quantity=1,
                         unit_amount=1001, period_amount=1001)
    # 10.01 a quarter, for a 1-month term: 3.336... -> 3.34 (334 minor units).
    assert rm.line_total(line, term=1, period_months=3) == 334
    assert rm.line_total(line, term=12, period_months=3) == 4004


def test_outcomes():
    when = date(2027, 1, 1)
    active = _sub()
    assert rm.outcome_of(active, ref_date=when, current=when, in_scope=True) == rm.OPEN
    renewed = date(2028, 1, 1)
    assert rm.outcome_of(active, ref_date=when, current=renewed, in_scope=True) == rm.WON
    cancelled = _sub(status="cancelled", cancel_reason="budget")
    assert rm.outcome_of(cancelled, ref_date=when, current=when, in_scope=False) == rm.LOST
    assert rm.loss_reason(cancelled, current=when) == "cancelled: budget"
    assert rm.closing(ref="r", outcome=rm.LOST, stages=rm.Stages(), reason="x") == {
        rm.RENEWAL_EXTERNAL_ID: "r", "StageName": "Closed Lost", rm.LOSS_REASON: "x"}


def test_the_window_opens_lead_days_before():
    today = date(2026, 12, 1)
    assert rm.in_window(date(2027, 3, 31), today=today, lead_days=120)
    assert not rm.in_window(date(2027, 4, 1), today=today, lead_days=120)
    assert rm.in_window(date(2026, 11, 1), today=today, lead_days=120)  # late, still open
    assert not rm.in_window(None, today=today, lead_days=120)
