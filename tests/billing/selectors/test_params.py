"""Reading the page asked for: one Reader collects a page's errors with the filters' errors,
so a query with several bad parameters is answered with all of them at once."""

from __future__ import annotations

import pytest

from billing.selectors.params import (
    MAX_PAGE_SIZE,
    InvalidParameters,
    PageRequest,
    Reader,
    read_integer,
)


def test_the_page_defaults_to_the_first_with_the_default_size():
    assert PageRequest.from_query({}) == PageRequest(number=1, size=50)
    assert PageRequest.from_query({"page": "", "page_size": ""}, default_size=25) == (
        PageRequest(number=1, size=25))
    assert PageRequest.from_query({"page": "7", "page_size": "10"}) == (
        PageRequest(number=7, size=10))


@pytest.mark.parametrize(("query", "max_size", "bad"), [
    ({"page": "0"}, MAX_PAGE_SIZE, {"page"}),
    ({"page": "two"}, MAX_PAGE_SIZE, {"page"}),
    ({"page_size": str(MAX_PAGE_SIZE + 1)}, MAX_PAGE_SIZE, {"page_size"}),
    ({"page_size": "201"}, 200, {"page_size"}),
    ({"page": "-1", "page_size": "0"}, 200, {"page", "page_size"}),
])
def test_a_page_that_cannot_be_read_is_refused(query, max_size, bad):
    with pytest.raises(InvalidParameters) as refused:
        PageRequest.from_query(query, max_size=max_size)
    assert set(refused.value.errors) == bad


def test_a_smaller_maximum_still_accepts_sizes_up_to_it():
    assert PageRequest.from_query({"page_size": "200"}, max_size=200).size == 200


def test_one_reader_reports_the_page_with_the_other_parameters():
    reader = Reader({"plan": "x" * 300, "page": "0"})
    reader.text("plan")
    reader.page()
    with pytest.raises(InvalidParameters) as refused:
        reader.done()
    assert set(refused.value.errors) == {"plan", "page"}


def test_one_integer_parameter_or_its_default():
    assert read_integer({}, "limit", default=30, minimum=1, maximum=365) == 30
    assert read_integer({"limit": ""}, "limit", default=30, minimum=1, maximum=365) == 30
    assert read_integer({"limit": "365"}, "limit", default=30, minimum=1, maximum=365) == 365


@pytest.mark.parametrize("value", ["0", "366", "1e3", "ten", "-1"])
def test_an_integer_parameter_out_of_range_or_unreadable_is_refused(value):
    with pytest.raises(InvalidParameters) as refused:
        read_integer({"limit": value}, "limit", default=30, minimum=1, maximum=365)
    assert set(refused.value.errors) == {"limit"}
