import pytest

from billing.models import Movement
from billing.movements import classify_movement


@pytest.mark.parametrize(
    ("before", "after", "delta", "ever", "expected"),
    [
        (False, True, 5000, False, Movement.NEW),
        (False, True, 5000, True, Movement.REACTIVATION),
        (True, True, 1000, True, Movement.EXPANSION),
        (True, True, -1000, True, Movement.CONTRACTION),
        (True, False, -6000, True, Movement.CHURN),
        (True, True, 0, True, Movement.NONE),
        (False, False, 0, False, Movement.NONE),  # a trial starting is not a movement
    ],
)
def test_classification_per_customer(before, after, delta, ever, expected):
    movement, amount = classify_movement(
        customer_paying_before=before, customer_paying_after=after, delta=delta,
        customer_paid_ever=ever,
    )
    assert movement == expected
    assert amount == abs(delta)


def test_impossible_change_is_refused_not_guessed():
    with pytest.raises(ValueError, match="paying before or after"):
        classify_movement(customer_paying_before=False, customer_paying_after=False, delta=10,
                          customer_paid_ever=False)
