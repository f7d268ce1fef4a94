import pytest

from billing.mrr import effective_mrr, items_mrr, monthly_amount
from billing.normalized import ItemKind, NormalizedItem, Status


@pytest.mark.parametrize(
    ("amount", "period", "unit", "expected"),
    [
        (12000, 1, "year", 1000),  # annual / 12
        (10000, 1, "month", 10000),
        (30000, 3, "month", 10000),  # every N months / N
        (30000, 6, "month", 5000),
        (1200, 1, "week", 5200),  # weekly * 52 / 12
        (1200, 2, "week", 2600),
        (100, 1, "day", 3042),  # daily * 365 / 12 = 3041.67 -> 3042
        (999, 1, "year", 83),  # 83.25 rounds down
        (1002, 1, "year", 84),  # 83.5 rounds half up
        (0, 1, "month", 0),
    ],
)
def test_monthly_normalisation_table(amount, period, unit, expected):
    assert monthly_amount(amount, period=period, unit=unit) == expected


def test_period_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        monthly_amount(100, period=0, unit="month")


def test_items_mrr_adds_recurring_items_and_subtracts_discounts_once_rounded():
    items = [
        NormalizedItem(kind=ItemKind.PLAN, item_id="pro", quantity=3, unit_amount=1000,
                       amount=3000),
        NormalizedItem(kind=ItemKind.ADDON, item_id="seats", quantity=1, unit_amount=1,
                       amount=1),
        NormalizedItem(kind=ItemKind.DISCOUNT, item_id="10off", amount=300),
        NormalizedItem(kind=ItemKind.CHARGE, item_id="setup", amount=5000, recurring=False),
    ]
    # (3000 + 1 - 300) / 12 = 225.08 -> 225: the one-off charge never counts.
    assert items_mrr(items, period=1, unit="year") == 225
    assert items_mrr(items, period=1, unit="month") == 2701


def test_discounts_never_make_mrr_negative():
    items = [
        NormalizedItem(kind=ItemKind.PLAN, item_id="p", amount=100),
        NormalizedItem(kind=ItemKind.DISCOUNT, item_id="d", amount=500),
    ]
    assert items_mrr(items, period=1, unit="month") == 0


@pytest.mark.parametrize(
    ("status", "counts"),
    [
        (Status.ACTIVE, True), (Status.PAST_DUE, True), (Status.NON_RENEWING, True),
        (Status.TRIAL, False), (Status.PAUSED, False), (Status.FUTURE, False),
        (Status.CANCELLED, False), (Status.EXPIRED, False),
    ],
)
def test_only_paying_statuses_count(status, counts):
    assert effective_mrr(status, 4200) == (4200 if counts else 0)
