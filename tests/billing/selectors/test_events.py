"""The webhook event log selectors: filters, order, counts and the body made readable."""

from __future__ import annotations

import base64
import datetime as dt
import json
from urllib.parse import urlencode

import pytest

from billing.models import WebhookEvent
from billing.selectors.events import (
    EventFilters,
    event_counts_by_status,
    event_detail,
    list_events,
)
from billing.selectors.params import InvalidParameters, PageRequest

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def event(event_id, *, provider="chargebee", status="processed", type_="subscription_created",
          received=dt.datetime(2027, 1, 10, 12, tzinfo=UTC), body="{}", headers=None):
    row = WebhookEvent.objects.create(provider=provider, event_id=event_id, event_type=type_,
                                      status=status, body=body, headers=headers or {})
    WebhookEvent.objects.filter(pk=row.pk).update(received_at=received)
    return row


def test_filters_newest_first_with_dates_included_at_both_ends():
    day = dt.datetime(2027, 1, 10, tzinfo=UTC)
    event("before", received=day - dt.timedelta(seconds=1))
    first = event("first", received=day)
    last = event("last", received=day + dt.timedelta(days=2, hours=23, minutes=59))
    event("after", received=day + dt.timedelta(days=3))
    event("other-provider", provider="braintree", received=day + dt.timedelta(hours=1))
    event("other-status", status="failed", received=day + dt.timedelta(hours=1))
    event("other-type", type_="customer_changed", received=day + dt.timedelta(hours=1))
    filters = EventFilters.from_query({"provider": "chargebee", "status": "processed",
                                       "type": "subscription_created",
                                       "from": "2027-01-10", "to": "2027-01-12"})
    page = list_events(filters=filters, page=PageRequest())
    assert [row.event_id for row in page.items] == ["last", "first"]
    assert page.total == 2
    assert [row.id for row in page.items] == [last.pk, first.pk]


def test_pagination_and_counts_by_status_ignore_the_status_filter():
    for i in range(5):
        event(f"ok{i}", received=dt.datetime(2027, 1, 1, i, tzinfo=UTC))
    event("bad", status="failed")
    event("elsewhere", provider="braintree", status="rejected")
    filters = EventFilters(provider="chargebee", status="processed")
    page = list_events(filters=filters, page=PageRequest(number=2, size=2))
    assert [row.event_id for row in page.items] == ["ok2", "ok1"]
    assert (page.total, page.pages, page.has_next, page.has_previous) == (5, 3, True, True)
    counts = event_counts_by_status(filters=filters)
    assert counts["processed"] == 5 and counts["failed"] == 1
    assert counts["rejected"] == 0 and counts["received"] == 0


def test_list_query_count_does_not_grow_with_rows(django_assert_num_queries):
    for i in range(20):
        event(f"e{i}")
    with django_assert_num_queries(2):
        assert len(list_events(filters=EventFilters(), page=PageRequest(size=2)).items) == 2
    with django_assert_num_queries(2):
        assert len(list_events(filters=EventFilters(), page=PageRequest(size=20)).items) == 20


@pytest.mark.parametrize("query, bad", [
    ({"provider": "stripe"}, "provider"),
    ({"status": "done"}, "status"),
    ({"from": "2027-13-01"}, "from"),
    ({"from": "2027-02-01", "to": "2027-01-01"}, "to"),
])
def test_bad_parameters_are_named(query, bad):
    with pytest.raises(InvalidParameters) as caught:
        EventFilters.from_query(query)
    assert list(caught.value.errors) == [bad]


def test_bad_page_parameters():
    with pytest.raises(InvalidParameters) as caught:
        PageRequest.from_query({"page": "0", "page_size": "x"})
    assert set(caught.value.errors) == {"page", "page_size"}


def test_chargebee_json_is_indented_and_credentials_hidden():
    row = event("j", body='{"id":"ev_1","content":{"a":1}}',
                headers={"Authorization": "Basic dXNlcjpwYXNz", "Content-Type": "x"})
    detail = event_detail(pk=row.pk)
    assert detail.body_format == "json" and detail.body_note == ""
    assert detail.body_pretty == '{\n  "id": "ev_1",\n  "content": {\n    "a": 1\n  }\n}'
    assert detail.headers == {"Authorization": "(hidden)", "Content-Type": "x"}


def test_malformed_json_is_shown_raw_with_a_note():
    row = event("bad", body="{not json", status="rejected")
    detail = event_detail(pk=row.pk)
    assert (detail.body_format, detail.body_pretty) == ("raw", "{not json")
    assert "not valid JSON" in detail.body_note


def braintree_body(xml: bytes) -> str:
    return urlencode({"bt_signature": "pub|sig", "bt_payload": base64.encodebytes(xml).decode()})


def test_braintree_payload_is_decoded_to_indented_xml():
    xml = b"<notification><kind>subscription_canceled</kind><subject><id>s1</id></subject>" \
          b"</notification>"
    row = event("b", provider="braintree", body=braintree_body(xml))
    detail = event_detail(pk=row.pk)
    assert detail.body_format == "xml"
    assert detail.body_pretty == (
        "<notification>\n  <kind>subscription_canceled</kind>\n  <subject>\n"
        "    <id>s1</id>\n  </subject>\n</notification>"
    )


@pytest.mark.parametrize("body, note", [
    ("bt_signature=x", "no bt_payload"),
    ("bt_payload=%%%%&bt_signature=x", "not valid base64"),
    (braintree_body(b"<notification><kind>"), "not valid XML"),
    ("", "empty body"),
])
def test_malformed_braintree_bodies_are_shown_raw(body, note):
    row = event("m", provider="braintree", body=body, status="rejected")
    detail = event_detail(pk=row.pk)
    assert detail.body_format == "raw"
    assert note in detail.body_note


def test_unknown_event_is_none():
    assert event_detail(pk=123456) is None


def test_detail_json_roundtrip_keeps_unicode():
    row = event("u", body=json.dumps({"name": "Zoë"}))
    assert "Zoë" in event_detail(pk=row.pk).body_pretty
