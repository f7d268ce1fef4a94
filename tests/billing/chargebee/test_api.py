"""ChargebeeApi against the fake Chargebee server, over real HTTP with the real SDK.

What is checked is what crosses the wire (query strings as received), because the SDK's own
parameter handling is where filters and offsets go wrong. No database.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from chargebee import Chargebee

from billing.normalized import Status
from billing.providers.chargebee.api import ChargebeeApi, ChargebeeApiError, Page
from billing.providers.chargebee.parse import parse_event, parse_subscription
from emulator.chargebee.events import DEFAULT_OCCURRED_AT, make_subscription
from emulator.chargebee.server import FakeChargebee


@pytest.fixture
def server():
    with FakeChargebee() as fake:
        yield fake


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


def client(server: FakeChargebee, sleeps=None, **options) -> ChargebeeApi:
    return ChargebeeApi(server.site, server.api_key, api_url=server.api_url, timeout=5,
                        sleep=sleeps if sleeps is not None else Sleeps(), **options)


def ids(pages: list[Page]) -> list[str]:
    return [item["subscription"]["id"] for page in pages for item in page.items]


# -- pagination ---------------------------------------------------------------------------------

def test_pages_through_every_subscription(server):
    expected = server.seed_subscriptions(count=25)

    pages = list(client(server).iter_subscription_pages(limit=10))

    assert [len(p.items) for p in pages] == [10, 10, 5]
    assert ids(pages) == expected
    assert pages[-1].next_offset is None
    assert all(p.next_offset for p in pages[:-1])
    sent = server.requests_to("/subscriptions")
    assert [r.param("limit") for r in sent] == ["10", "10", "10"]
    assert [r.param("offset") for r in sent] == [None, pages[0].next_offset,
                                                 pages[1].next_offset]


def test_items_are_raw_resources_the_parser_reads(server):
    server.seed_subscriptions(count=3, statuses=("in_trial",))

    (page,) = client(server).iter_subscription_pages()

    item = page.items[0]
    assert item["subscription"]["object"] == "subscription"
    assert item["customer"]["id"] == item["subscription"]["customer_id"]
    parsed = parse_subscription(subscription=item["subscription"], customer=item["customer"])
    assert parsed.status == Status.TRIAL
    assert parsed.customer.email == "billing+0@example.com"


def test_default_page_size_is_chargebees_maximum(server):
    server.seed_subscriptions(count=3)
    list(client(server).iter_subscription_pages())
    assert server.requests_to("/subscriptions")[0].param("limit") == "100"


def test_requests_authenticate_with_the_api_key_as_user_name(server):
    client(server).list_subscriptions_page()
    header = server.requests[0].headers["authorization"]
    assert base64.b64decode(header.removeprefix("Basic ")).decode() == f"{server.api_key}:"


# -- filters on the wire ------------------------------------------------------------------------

def test_status_filter_is_sent_as_a_json_array(server):
    server.seed_subscriptions(count=8)  # active, non_renewing, in_trial, cancelled, ...

    pages = list(client(server).iter_subscription_pages(statuses=["active", "non_renewing"]))

    (request,) = server.requests_to("/subscriptions")
    assert "status%5Bin%5D=%5B%22active%22%2C%22non_renewing%22%5D" in request.query
    assert request.param("status[in]") == '["active","non_renewing"]'
    statuses = {item["subscription"]["status"] for page in pages for item in page.items}
    assert statuses == {"active", "non_renewing"}
    assert len(ids(pages)) == 4


def test_the_sdk_nested_filter_form_would_send_a_python_repr(server):
    """Why the client does not use the SDK's `Filters` form: Chargebee rejects the repr."""
    cb = Chargebee(api_key=server.api_key, site=server.site, protocol="http")
    Chargebee.verify_ca_certs = False
    cb.env.api_endpoint = server.api_url

    with pytest.raises(Exception, match="not a JSON array"):
        cb.Subscription.list({"status": {"in": ["active", "non_renewing"]}})

    assert server.requests[0].param("status[in]") == "['active', 'non_renewing']"


def test_updated_after_sort_and_deleted_filters(server):
    server.seed_subscriptions(count=5, statuses=("active",))
    deleted = make_subscription(subscription_id="sub_gone", customer_id="cus_0000",
                                updated_at=DEFAULT_OCCURRED_AT + 3_600, deleted=True)
    server.add_subscription(deleted)
    after = datetime.fromtimestamp(DEFAULT_OCCURRED_AT + 120, tz=UTC)

    page = client(server).list_subscriptions_page(
        updated_after=after, sort_by_updated=True, include_deleted=True
    )

    request = server.requests[0]
    assert request.param("updated_at[after]") == str(DEFAULT_OCCURRED_AT + 120)
    assert request.param("sort_by[asc]") == "updated_at"
    assert request.param("include_deleted") == "true"
    assert [i["subscription"]["id"] for i in page.items] == ["sub_0003", "sub_0004", "sub_gone"]


# -- interruption and resume --------------------------------------------------------------------

def test_resume_from_a_checkpointed_offset(server):
    expected = server.seed_subscriptions(count=23)
    first = next(iter(client(server).iter_subscription_pages(limit=10)))

    rest = list(client(server).iter_subscription_pages(limit=10,
                                                       start_offset=first.next_offset))

    assert ids([first, *rest]) == expected
    assert server.requests_to("/subscriptions")[1].param("offset") == first.next_offset


def test_interrupted_backfill_resumes_where_it_stopped(server):
    expected = server.seed_subscriptions(count=45)
    server.fail_after_pages(pages=2)
    seen: list[str] = []
    checkpoint = None

    with pytest.raises(ChargebeeApiError) as failure:
        for page in client(server).iter_subscription_pages(limit=10):
            seen.extend(item["subscription"]["id"] for item in page.items)
            checkpoint = page.next_offset  # what a backfill would save after each page

    assert failure.value.permanent is False
    assert failure.value.status == 503
    assert failure.value.api_error_code == "internal_temporary_error"
    assert len(seen) == 20

    server.clear_faults()
    for page in client(server).iter_subscription_pages(limit=10, start_offset=checkpoint):
        seen.extend(item["subscription"]["id"] for item in page.items)

    assert seen == expected  # every subscription exactly once


def test_transient_failure_can_clear_by_itself(server):
    server.seed_subscriptions(count=15)
    server.fail_after_pages(pages=1, times=1)
    api = client(server)

    first = api.list_subscriptions_page(limit=10)
    with pytest.raises(ChargebeeApiError):
        api.list_subscriptions_page(limit=10, offset=first.next_offset)
    second = api.list_subscriptions_page(limit=10, offset=first.next_offset)

    assert len(first.items) + len(second.items) == 15


# -- rate limits --------------------------------------------------------------------------------

def test_short_retry_after_is_honoured_in_place(server, sleeps):
    server.seed_subscriptions(count=3)
    server.rate_limit(times=2, retry_after=3)

    page = client(server, sleeps, rate_limit_retries=2).list_subscriptions_page()

    assert len(page.items) == 3
    assert sleeps == [3.0, 3.0]
    assert [r.status for r in server.requests] == [429, 429, 200]


def test_rate_limit_beyond_the_retries_raises_with_retry_after(server, sleeps):
    server.rate_limit(times=5, retry_after=4)

    with pytest.raises(ChargebeeApiError) as failure:
        client(server, sleeps, rate_limit_retries=1).list_subscriptions_page()

    error = failure.value
    assert (error.permanent, error.retry_after, error.status) == (False, 4.0, 429)
    assert error.api_error_code == "api_request_limit_exceeded"
    assert sleeps == [4.0]
    assert len(server.requests) == 2


def test_long_retry_after_is_left_to_the_caller(server, sleeps):
    server.rate_limit(times=1, retry_after=120)

    with pytest.raises(ChargebeeApiError) as failure:
        client(server, sleeps, max_retry_sleep=10).list_events_page(occurred_after=0)

    assert failure.value.retry_after == 120.0
    assert sleeps == []


def test_retries_can_be_switched_off(server, sleeps):
    server.rate_limit(times=1, retry_after=1)
    with pytest.raises(ChargebeeApiError) as failure:
        client(server, sleeps, rate_limit_retries=0).retrieve_subscription(subscription_id="x")
    assert failure.value.retry_after == 1.0
    assert sleeps == []


def test_rate_limit_without_retry_after_backs_off(server, sleeps):
    server.seed_subscriptions(count=1)
    server.rate_limit(times=2, retry_after=None)

    client(server, sleeps, rate_limit_retries=2).list_subscriptions_page()

    assert sleeps == [1.0, 2.0]


def test_rate_limit_with_an_http_date(server, sleeps):
    server.rate_limit(times=1, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")  # in the past
    with pytest.raises(ChargebeeApiError) as failure:
        client(server, sleeps, rate_limit_retries=0).list_subscriptions_page()
    assert failure.value.retry_after == 0.0


def test_plain_text_error_bodies_are_transient(server, sleeps):
    """A non-JSON 429 loses its status inside the SDK: still a retryable error, not a crash."""
    server.rate_limit(times=1, retry_after=5, plain_text=True)

    with pytest.raises(ChargebeeApiError) as failure:
        client(server, sleeps).list_subscriptions_page()

    assert failure.value.permanent is False
    assert sleeps == []


# -- events -------------------------------------------------------------------------------------

def test_events_since_a_time_oldest_first_across_pages(server):
    events = server.seed_events(count=30)
    since = DEFAULT_OCCURRED_AT + 9 * 60  # after the tenth event

    pages = list(client(server).iter_event_pages(occurred_after=since, limit=7))

    received = [event["id"] for page in pages for event in page.items]
    assert received == [e["id"] for e in events[10:]]
    assert [len(p.items) for p in pages] == [7, 7, 6]
    first = server.requests_to("/events")[0]
    assert first.param("occurred_at[after]") == str(since)
    assert first.param("sort_by[asc]") == "occurred_at"
    assert first.param("limit") == "7"
    parsed = [parse_event(event=e) for page in pages for e in page.items]
    assert {p.event_type for p in parsed if p.ignored_reason} == {"invoice_generated"}


def test_events_filtered_by_type_with_an_aware_datetime(server):
    server.seed_events(count=12)
    since = datetime.fromtimestamp(DEFAULT_OCCURRED_AT - 1, tz=UTC)

    page = client(server).list_events_page(
        occurred_after=since, event_types=["subscription_renewed", "subscription_created"]
    )

    request = server.requests[0]
    assert request.param("event_type[in]") == '["subscription_renewed","subscription_created"]'
    assert request.param("occurred_at[after]") == str(DEFAULT_OCCURRED_AT - 1)
    assert {e["event_type"] for e in page.items} == {"subscription_renewed",
                                                     "subscription_created"}
    assert len(page.items) == 6


def test_naive_datetimes_are_refused():
    api = ChargebeeApi("acme-test", "key", api_url="http://127.0.0.1:9/api/v2")
    with pytest.raises(ValueError, match="aware"):
        api.list_events_page(occurred_after=datetime(2024, 1, 1))


# -- retrieve, customers, errors ----------------------------------------------------------------

def test_retrieve_a_subscription(server):
    server.seed_subscriptions(count=2, catalog=1)

    found = client(server).retrieve_subscription(subscription_id="sub_0001")

    assert found["subscription"]["plan_id"] == "pro"
    assert found["customer"]["id"] == "cus_0001"
    assert server.requests[0].path == "/api/v2/subscriptions/sub_0001"


def test_unknown_subscription_is_a_permanent_error(server):
    with pytest.raises(ChargebeeApiError) as failure:
        client(server).retrieve_subscription(subscription_id="sub_missing")
    error = failure.value
    assert (error.permanent, error.status, error.api_error_code) == (
        True, 404, "resource_not_found")
    assert "sub_missing" in str(error)


def test_wrong_api_key_is_a_permanent_error(server):
    api = ChargebeeApi(server.site, "wrong", api_url=server.api_url)
    with pytest.raises(ChargebeeApiError) as failure:
        api.list_subscriptions_page()
    assert (failure.value.permanent, failure.value.status) == (True, 401)


def test_unreachable_server_is_a_transient_error():
    with FakeChargebee() as fake:
        url = fake.api_url
    api = ChargebeeApi("acme-test", "key", api_url=url, timeout=2)
    with pytest.raises(ChargebeeApiError) as failure:
        api.list_subscriptions_page()
    assert failure.value.permanent is False
    assert failure.value.status is None


def test_customer_pages(server):
    server.seed_subscriptions(count=12)
    pages = list(client(server).iter_customer_pages(limit=5))
    assert [len(p.items) for p in pages] == [5, 5, 2]
    assert pages[0].items[0]["object"] == "customer"


# -- configuration ------------------------------------------------------------------------------

def test_base_url_without_path_gets_the_v2_prefix(server):
    server.seed_subscriptions(count=1)
    api = ChargebeeApi(server.site, server.api_key, api_url=server.base_url + "/")
    assert api.api_url == server.api_url
    assert len(api.list_subscriptions_page().items) == 1


def test_default_endpoint_is_the_sites_https_api():
    api = ChargebeeApi("acme", "key")
    assert api.api_url == "https://acme.chargebee.com/api/v2"


@pytest.mark.parametrize("url", ["ftp://example.com/api/v2", "not a url"])
def test_bad_api_url_is_refused(url):
    with pytest.raises(ValueError, match="CHARGEBEE_API_URL"):
        ChargebeeApi("acme", "key", api_url=url)


def test_page_size_is_bounded(server):
    with pytest.raises(ValueError, match="limit"):
        client(server).list_subscriptions_page(limit=101)


def test_offsets_are_opaque_strings_passed_back_verbatim(server):
    server.seed_subscriptions(count=3)
    page = client(server).list_subscriptions_page(limit=1)
    assert isinstance(json.loads(page.next_offset), list)  # e.g. '["1717200000", "1"]'
    client(server).list_subscriptions_page(limit=1, offset=page.next_offset)
    assert server.requests[1].param("offset") == page.next_offset
