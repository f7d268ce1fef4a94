"""A small client over the chargebee 3.x SDK for what subsync reads from Chargebee.

The backfill walks all subscriptions page by page and must be able to stop and resume (so each
page comes with the offset of the next one, to checkpoint); event polling asks for the events
since a time, oldest first; repair jobs retrieve one subscription. Everything is returned as the
raw resource dicts Chargebee sent, ready for `billing.providers.chargebee.parse`.

Facts about the SDK this relies on (checked against chargebee 3.29 and a local HTTP server):

* The URL scheme of every request is forced to https while the class attribute
  `Chargebee.verify_ca_certs` is True, whatever `protocol` says (`update_protocol("http")` only
  sets the instance attribute, which nothing reads). So for an http `api_url` we set the class
  attribute to False. That is process-wide, but harmless for https sites: without it the SDK
  leaves TLS verification to httpx's default trust store instead of its bundled CA file.
* `env.api_endpoint` is the base every path is appended to, so we point it at `api_url`.
* List parameters whose value is a Python list are sent as `json.dumps(list)`, but the nested
  `Filters` form (`{"status": {"in": [...]}}`) is sent as a Python repr (`['a', 'b']`), which
  Chargebee rejects. We send `status[in]` etc. as a compact JSON array string ourselves.
* Errors: a JSON error body raises `chargebee.APIError` (with `http_status_code`,
  `api_error_code` and the response `http_headers`, where `Retry-After` is); a non-JSON body
  raises a bare `Exception` whose text always says 500 and whose headers are lost; network
  failures raise httpx exceptions. SDK retries are off by default and we leave them off.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlsplit

import httpx
from chargebee import Chargebee
from chargebee.api_error import APIError

from billing.providers.chargebee.errors import ChargebeeApiError

__all__ = ["ChargebeeApi", "ChargebeeApiError", "Page"]

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100
# Chargebee answers these for requests that will never succeed as sent.
_PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 405, 409, 422})
_STATUS_IN_TEXT = re.compile(r"http_status_code:\s*(\d{3})")

T = TypeVar("T")


class Page(NamedTuple):
    """One page of a list call: the entries and the offset to ask for the next page with.

    `next_offset` is None on the last page. Store it after processing `items` to resume there.
    """

    items: list[dict[str, Any]]
    next_offset: str | None


class ChargebeeApi:
    """Reads subscriptions, customers and events from one Chargebee site."""

    def __init__(
        self,
        site: str,
        api_key: str,
        *,
        api_url: str | None = None,
        timeout: float = 30.0,
        rate_limit_retries: int = 2,
        max_retry_sleep: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`api_url` replaces `https://{site}.chargebee.com/api/v2` (tests, proxies).

        A 429 is retried in place up to `rate_limit_retries` times when Chargebee's
        `Retry-After` is at most `max_retry_sleep` seconds; otherwise (or when retries run out)
        `ChargebeeApiError(permanent=False, retry_after=...)` is raised for the caller (a
        Celery task, the backfill) to schedule the retry itself rather than block a worker.
        """
        if not site or not api_key:
            raise ValueError("Chargebee site and API key are both required")
        self.site = site
        self.rate_limit_retries = max(0, rate_limit_retries)
        self.max_retry_sleep = max_retry_sleep
        self._sleep = sleep
        protocol = None
        if api_url:
            parts = urlsplit(api_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"CHARGEBEE_API_URL must be an http(s) URL, got {api_url!r}")
            protocol = parts.scheme
            if protocol == "http":
                # Only the class attribute is read when building the URL (see module docstring).
                Chargebee.verify_ca_certs = False
        self._cb = Chargebee(
            api_key=api_key,
            site=site,
            protocol=protocol,
            connection_time_out=timeout,
            read_time_out=timeout,
        )
        if api_url:
            self._cb.env.api_endpoint = _endpoint(api_url)
        self.api_url = self._cb.env.api_endpoint

    # -- subscriptions -----------------------------------------------------------------------

    def list_subscriptions_page(
        self,
        *,
        offset: str | None = None,
        limit: int = MAX_PAGE_SIZE,
        statuses: Sequence[str] | None = None,
        updated_after: datetime | int | None = None,
        sort_by_updated: bool = False,
        include_deleted: bool = False,
    ) -> Page:
        """One page of `GET /subscriptions`; items are `{"subscription", "customer"}` dicts."""
        params = _base_params(limit=limit, offset=offset)
        if statuses:
            params["status[in]"] = _json_array(statuses)
        if updated_after is not None:
            params["updated_at[after]"] = _unix(updated_after)
        if sort_by_updated:
            params["sort_by[asc]"] = "updated_at"
        if include_deleted:
            params["include_deleted"] = True
        response = self._call(lambda: self._cb.Subscription.list(params))
        items = [
            {
                "subscription": entry.subscription.raw_data,
                "customer": entry.customer.raw_data if entry.customer is not None else None,
            }
            for entry in response.list
        ]
        return Page(items=items, next_offset=response.next_offset or None)

    def iter_subscription_pages(
        self,
        *,
        start_offset: str | None = None,
        limit: int = MAX_PAGE_SIZE,
        statuses: Sequence[str] | None = None,
        updated_after: datetime | int | None = None,
        sort_by_updated: bool = False,
        include_deleted: bool = False,
    ) -> Iterator[Page]:
        """Every page of subscriptions from `start_offset` (a checkpointed `next_offset`)."""
        return self._pages(
            lambda offset: self.list_subscriptions_page(
                offset=offset, limit=limit, statuses=statuses, updated_after=updated_after,
                sort_by_updated=sort_by_updated, include_deleted=include_deleted,
            ),
            start_offset,
        )

    def retrieve_subscription(self, *, subscription_id: str) -> dict[str, Any]:
        """`GET /subscriptions/{id}` as `{"subscription": {...}, "customer": {...}}`."""
        response = self._call(lambda: self._cb.Subscription.retrieve(subscription_id))
        return {
            "subscription": response.subscription.raw_data,
            "customer": response.customer.raw_data if response.customer is not None else None,
        }

    def retrieve_coupon(self, *, coupon_id: str) -> dict[str, Any]:
        """`GET /coupons/{id}`: the coupon's terms (Catalog 1.0 subscriptions only name it)."""
        response = self._call(lambda: self._cb.Coupon.retrieve(coupon_id))
        return response.coupon.raw_data

    # -- customers ---------------------------------------------------------------------------

    def list_customers_page(
        self, *, offset: str | None = None, limit: int = MAX_PAGE_SIZE
    ) -> Page:
        """One page of `GET /customers`; items are customer dicts."""
        params = _base_params(limit=limit, offset=offset)
        response = self._call(lambda: self._cb.Customer.list(params))
        return Page(
            items=[entry.customer.raw_data for entry in response.list],
            next_offset=response.next_offset or None,
        )

    def iter_customer_pages(
        self, *, start_offset: str | None = None, limit: int = MAX_PAGE_SIZE
    ) -> Iterator[Page]:
        return self._pages(
            lambda offset: self.list_customers_page(offset=offset, limit=limit), start_offset
        )

    # -- events ------------------------------------------------------------------------------

    def retrieve_event(self, *, event_id: str) -> dict[str, Any]:
        """`GET /events/{id}`: the event as Chargebee has it (CHARGEBEE_VERIFY_EVENTS)."""
        response = self._call(lambda: self._cb.Event.retrieve(event_id))
        return response.event.raw_data

    def list_events_page(
        self,
        *,
        occurred_after: datetime | int,
        offset: str | None = None,
        limit: int = MAX_PAGE_SIZE,
        event_types: Sequence[str] | None = None,
    ) -> Page:
        """One page of events strictly after `occurred_after`, oldest first (event dicts).

        Chargebee's times are whole seconds and `[after]` is strict, so a poller that saw events
        at second T should ask from T - 1 and rely on the event-id dedupe of the store.
        """
        params = _base_params(limit=limit, offset=offset)
        params["occurred_at[after]"] = _unix(occurred_after)
        params["sort_by[asc]"] = "occurred_at"
        if event_types:
            params["event_type[in]"] = _json_array(event_types)
        response = self._call(lambda: self._cb.Event.list(params))
        return Page(
            items=[entry.event.raw_data for entry in response.list],
            next_offset=response.next_offset or None,
        )

    def iter_event_pages(
        self,
        *,
        occurred_after: datetime | int,
        start_offset: str | None = None,
        limit: int = MAX_PAGE_SIZE,
        event_types: Sequence[str] | None = None,
    ) -> Iterator[Page]:
        """Every page of events after `occurred_after`, oldest first."""
        return self._pages(
            lambda offset: self.list_events_page(
                occurred_after=occurred_after, offset=offset, limit=limit,
                event_types=event_types,
            ),
            start_offset,
        )

    # -- plumbing ----------------------------------------------------------------------------

    @staticmethod
    def _pages(fetch: Callable[[str | None], Page], start_offset: str | None) -> Iterator[Page]:
        offset = start_offset
        while True:
            page = fetch(offset)
            yield page
            if not page.next_offset:
                return
            offset = page.next_offset

    def _call(self, request: Callable[[], T]) -> T:
        """Run one SDK call, retrying short rate limits, and turn failures into our error."""
        attempt = 0
        while True:
            try:
                return request()
            except Exception as exc:
                error = _classify(exc)  # None: not an API failure (a bug), so re-raise it
                if error is None:
                    raise
            if (
                error.status == 429
                and attempt < self.rate_limit_retries
                and (error.retry_after or 0) <= self.max_retry_sleep
            ):
                backoff = min(2.0**attempt, self.max_retry_sleep)
                wait = error.retry_after if error.retry_after is not None else backoff
                logger.info("Chargebee rate limit on %s, retrying in %.1fs", self.site, wait)
                self._sleep(wait)
                attempt += 1
                continue
            raise error


def _classify(exc: BaseException) -> ChargebeeApiError | None:
    """Our error for a failure the SDK raised, or None for a programming error to re-raise."""
    if isinstance(exc, APIError):
        status = int(exc.http_status_code or 0)
        retry_after = _retry_after(exc.http_headers) if status == 429 else None
        permanent = status in _PERMANENT_STATUSES
        message = f"Chargebee API {status} {exc.api_error_code or ''}: {exc}".strip()
        return ChargebeeApiError(message, permanent, retry_after, status=status,
                                 api_error_code=exc.api_error_code or "")
    if isinstance(exc, httpx.HTTPError):
        return ChargebeeApiError(f"Chargebee API unreachable: {exc!r}", False)
    if type(exc) is Exception:
        # The SDK raises a bare Exception for non-JSON answers (proxies, overload pages); its
        # text names a status, but not reliably the real one, so treat it as transient.
        match = _STATUS_IN_TEXT.search(str(exc))
        status = int(match.group(1)) if match else None
        first_line = str(exc).splitlines()[0] if str(exc) else "no message"
        return ChargebeeApiError(f"Chargebee API error: {first_line}", False, status=status)
    return None


def _retry_after(headers: Any) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date), if any."""
    if not headers:
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _endpoint(api_url: str) -> str:
    url = api_url.rstrip("/")
    return url if urlsplit(url).path else url + "/api/v2"


def _base_params(*, limit: int, offset: str | None) -> dict[str, Any]:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    params: dict[str, Any] = {"limit": limit}
    if offset:
        params["offset"] = offset
    return params


def _json_array(values: Sequence[str]) -> str:
    """`["a","b"]`: the form Chargebee expects for `[in]`/`[not_in]` filters."""
    return json.dumps([str(v) for v in values], separators=(",", ":"))


def _unix(value: datetime | int) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("pass an aware datetime (UTC) or Unix seconds")
        return int(value.timestamp())
    return int(value)
