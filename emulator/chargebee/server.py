"""A local fake of Chargebee's API v2 list/retrieve endpoints, over real HTTP.

Tests (and the backfill/polling code under test) talk to it with the real chargebee SDK pointed
at `server.api_url`, so what is checked is what goes over the wire: HTTP Basic auth with the API
key as user name, filter parameters such as `status[in]=["active","non_renewing"]` (a JSON
array, as Chargebee expects), opaque `offset`/`next_offset` pagination, 429 with `Retry-After`,
and Chargebee's JSON error bodies.

    with FakeChargebee() as server:
        server.seed_subscriptions(count=25)
        api = ChargebeeApi("acme-test", server.api_key, api_url=server.api_url)

Supported: GET /api/v2/subscriptions (limit, offset, status[is|is_not|in|not_in],
updated_at[after|before], sort_by[asc|desc]=created_at|updated_at, include_deleted),
GET /api/v2/subscriptions/{id}, GET /api/v2/coupons/{id}, GET /api/v2/customers (limit, offset),
GET /api/v2/events
(limit, offset, occurred_at[after|before], event_type[is|in], sort_by[asc|desc]=occurred_at),
GET /api/v2/events/{id}.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from emulator.chargebee.events import (
    DAY,
    DEFAULT_OCCURRED_AT,
    make_customer,
    make_event,
    make_subscription,
)
from emulator.local_server import LocalServer

API_PREFIX = "/api/v2"
DEFAULT_LIMIT = 10
MAX_LIMIT = 100


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it (raw query kept to check the wire format)."""

    method: str
    path: str
    query: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    status: int

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None


@dataclass
class _Faults:
    rate_limited: int = 0
    retry_after: str | None = "1"
    rate_limit_plain_text: bool = False
    fail_after_pages: int | None = None
    fail_status: int = 503
    fail_times: int | None = None
    pages_served: int = 0


class ApiError(Exception):
    """An error answer, shaped like Chargebee's (`api_error_code`, `type`, `param`)."""

    def __init__(self, status: int, code: str, message: str, *, kind: str | None = None,
                 param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {
            "message": message,
            "api_error_code": code,
            "error_code": code,
            "error_msg": message,
            "http_status_code": status,
        }
        if kind:
            self.body["type"] = kind
        if param:
            self.body["param"] = param
            self.body["error_param"] = param


@dataclass
class FakeChargebee(LocalServer):
    """The fake server: seed it, point the SDK at `api_url`, inspect `requests`."""

    api_key: str = "test_fake_key"
    site: str = "acme-test"
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    coupons: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._faults = _Faults()

    @property
    def api_url(self) -> str:
        return self.base_url + API_PREFIX

    # -- data --------------------------------------------------------------------------------

    def add_subscription(
        self, subscription: Mapping[str, Any], customer: Mapping[str, Any] | None = None
    ) -> None:
        with self._lock:
            self.subscriptions = [
                s for s in self.subscriptions if s["id"] != subscription["id"]
            ]
            self.subscriptions.append(dict(subscription))
            if customer is not None:
                self.customers[customer["id"]] = dict(customer)
            elif subscription["customer_id"] not in self.customers:
                self.customers[subscription["customer_id"]] = make_customer(
                    customer_id=subscription["customer_id"]
                )

    def add_coupon(self, coupon: Mapping[str, Any]) -> None:
        """A coupon (Catalog 1.0 terms: discount_type, discount_amount or
        discount_percentage, duration_type, apply_on, ...), answered by GET /coupons/{id}."""
        with self._lock:
            self.coupons[coupon["id"]] = dict(coupon)

    def add_event(self, event: Mapping[str, Any]) -> None:
        with self._lock:
            self.events.append(dict(event))

    def seed_subscriptions(
        self,
        *,
        count: int,
        catalog: int = 2,
        statuses: Sequence[str] = ("active", "non_renewing", "in_trial", "cancelled"),
        start: int = DEFAULT_OCCURRED_AT,
    ) -> list[str]:
        """`count` subscriptions (one customer each) cycling through `statuses`; returns ids."""
        ids = []
        for n in range(count):
            customer_id = f"cus_{n:04d}"
            sub = make_subscription(
                catalog=catalog, subscription_id=f"sub_{n:04d}", customer_id=customer_id,
                status=statuses[n % len(statuses)], updated_at=start + n * 60,
                plan_unit_price=1_000 * (1 + n % 5),
            )
            self.add_subscription(sub, make_customer(
                customer_id=customer_id, email=f"billing+{n}@example.com",
                company=f"Customer {n}", updated_at=start + n * 60,
            ))
            ids.append(sub["id"])
        return ids

    def seed_events(
        self,
        *,
        count: int,
        start: int = DEFAULT_OCCURRED_AT,
        step: int = 60,
        event_types: Sequence[str] = ("subscription_created", "subscription_changed",
                                      "subscription_renewed", "invoice_generated"),
    ) -> list[dict[str, Any]]:
        """`count` events, one every `step` seconds from `start`; returns them in time order."""
        made = []
        for n in range(count):
            event = make_event(
                event_types[n % len(event_types)], event_id=f"ev_{n:05d}",
                subscription_id=f"sub_{n % 7:04d}", customer_id=f"cus_{n % 7:04d}",
                occurred_at=start + n * step,
            )
            self.add_event(event)
            made.append(event)
        return made

    # -- faults ------------------------------------------------------------------------------

    def rate_limit(self, *, times: int, retry_after: int | str | None = 1,
                   plain_text: bool = False) -> None:
        """Answer the next `times` requests with 429 (and `Retry-After`, unless None)."""
        with self._lock:
            self._faults.rate_limited = times
            self._faults.retry_after = None if retry_after is None else str(retry_after)
            self._faults.rate_limit_plain_text = plain_text

    def fail_after_pages(self, *, pages: int, status: int = 503, times: int | None = None) -> None:
        """Serve `pages` more list pages, then fail list requests with `status`.

        `times=None` keeps failing until `clear_faults()`; otherwise fail that many times.
        """
        with self._lock:
            self._faults.fail_after_pages = pages
            self._faults.fail_status = status
            self._faults.fail_times = times
            self._faults.pages_served = 0

    def clear_faults(self) -> None:
        with self._lock:
            self._faults = _Faults()

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The recorded requests whose path is `path` (with or without the /api/v2 prefix)."""
        full = path if path.startswith(API_PREFIX) else API_PREFIX + path
        with self._lock:
            return [r for r in self.requests if r.path == full]

    # -- request handling (called from server threads) ---------------------------------------

    def _check_faults(self, *, is_list: bool) -> tuple[int, dict[str, str], bytes] | None:
        with self._lock:
            faults = self._faults
            if faults.rate_limited > 0:
                faults.rate_limited -= 1
                headers = {"Retry-After": faults.retry_after} if faults.retry_after else {}
                if faults.rate_limit_plain_text:
                    return 429, {**headers, "Content-Type": "text/plain"}, b"Too Many Requests"
                error = ApiError(
                    429, "api_request_limit_exceeded",
                    "Sorry, access has been blocked temporarily due to request count exceeding "
                    "acceptable limits. Please try after some time.",
                )
                return 429, {**headers, "Content-Type": "application/json"}, _json(error.body)
            if is_list and faults.fail_after_pages is not None:
                if faults.pages_served >= faults.fail_after_pages:
                    if faults.fail_times is not None:
                        if faults.fail_times <= 0:
                            self._faults = _Faults()
                            return None
                        faults.fail_times -= 1
                    error = ApiError(
                        faults.fail_status, "internal_temporary_error",
                        "Sorry, the server is currently unable to handle the request due to a "
                        "temporary overload or scheduled maintenance. Please retry after "
                        "sometime.",
                    )
                    return faults.fail_status, {"Content-Type": "application/json"}, _json(
                        error.body
                    )
                faults.pages_served += 1
        return None

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, _password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == self.api_key

    def _route(self, path: str, params: dict[str, list[str]]) -> dict[str, Any]:
        """The JSON answer for `path`; raises `ApiError` for Chargebee-style error answers."""
        if not path.startswith(API_PREFIX + "/"):
            raise ApiError(404, "resource_not_found", "Sorry, we couldn't find that resource",
                           kind="invalid_request")
        parts = [unquote(p) for p in path[len(API_PREFIX) + 1:].split("/")]
        with self._lock:
            subscriptions = [dict(s) for s in self.subscriptions]
            customers = {k: dict(v) for k, v in self.customers.items()}
            events = [dict(e) for e in self.events]
            coupons = {k: dict(v) for k, v in self.coupons.items()}
        if len(parts) == 2 and parts[0] == "coupons":
            if parts[1] not in coupons:
                raise ApiError(404, "resource_not_found",
                               f"Sorry, we couldn't find that resource: coupon {parts[1]}",
                               kind="invalid_request", param="coupon_id")
            return {"coupon": coupons[parts[1]]}
        if parts == ["subscriptions"]:
            return self._list_subscriptions(subscriptions, customers, params)
        if len(parts) == 2 and parts[0] == "subscriptions":
            for sub in subscriptions:
                if sub["id"] == parts[1]:
                    return {"subscription": sub, "customer": customers[sub["customer_id"]]}
            raise ApiError(404, "resource_not_found",
                           f"Sorry, we couldn't find that resource: subscription {parts[1]}",
                           kind="invalid_request", param="subscription_id")
        if parts == ["customers"]:
            rows = [{"customer": c} for c in customers.values()]
            return _page(rows, params, sort_value=lambda row: row["customer"]["id"])
        if parts == ["events"]:
            return self._list_events(events, params)
        if len(parts) == 2 and parts[0] == "events":
            for event in events:
                if event["id"] == parts[1]:
                    return {"event": event}
            raise ApiError(404, "resource_not_found",
                           f"Sorry, we couldn't find that resource: event {parts[1]}",
                           kind="invalid_request", param="event_id")
        raise ApiError(404, "resource_not_found", "Sorry, we couldn't find that resource",
                       kind="invalid_request")

    def _list_subscriptions(self, subscriptions: list[dict[str, Any]],
                            customers: dict[str, dict[str, Any]],
                            params: dict[str, list[str]]) -> dict[str, Any]:
        if _one(params, "include_deleted") != "true":
            subscriptions = [s for s in subscriptions if not s.get("deleted")]
        subscriptions = _filter_enum(subscriptions, params, "status")
        subscriptions = _filter_time(subscriptions, params, "updated_at")
        subscriptions = _sort(subscriptions, params, allowed=("created_at", "updated_at"))
        rows = [{"subscription": s, "customer": customers[s["customer_id"]]}
                for s in subscriptions]
        return _page(rows, params, sort_value=lambda row: row["subscription"]["updated_at"])

    def _list_events(self, events: list[dict[str, Any]],
                     params: dict[str, list[str]]) -> dict[str, Any]:
        events = _filter_enum(events, params, "event_type")
        events = _filter_time(events, params, "occurred_at")
        if not any(k.startswith("sort_by[") for k in params):
            params = {**params, "sort_by[desc]": ["occurred_at"]}  # newest first by default
        events = _sort(events, params, allowed=("occurred_at",))
        rows = [{"event": e} for e in events]
        return _page(rows, params, sort_value=lambda row: row["event"]["occurred_at"])


class _Handler(BaseHTTPRequestHandler):
    fake: FakeChargebee
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        params = parse_qs(split.query, keep_blank_values=True)
        fake = self.fake
        status, headers, body = self._answer(split.path, params)
        recorded = RecordedRequest(
            method="GET", path=split.path, query=split.query, params=params,
            headers={k.lower(): v for k, v in self.headers.items()}, status=status,
        )
        with fake._lock:
            fake.requests.append(recorded)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        error = ApiError(405, "method_not_allowed", "The fake server only serves reads",
                         kind="invalid_request")
        body = _json(error.body)
        self.send_response(405)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _answer(self, path: str, params: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        fake = self.fake
        json_type = {"Content-Type": "application/json;charset=utf-8"}
        if not fake._authorized(self.headers.get("Authorization")):
            error = ApiError(401, "api_authentication_failed",
                             "Sorry, authentication failed. Invalid api key")
            return 401, json_type, _json(error.body)
        is_list = path.rstrip("/") in {
            f"{API_PREFIX}/subscriptions", f"{API_PREFIX}/customers", f"{API_PREFIX}/events"
        }
        fault = fake._check_faults(is_list=is_list)
        if fault is not None:
            return fault
        try:
            body = fake._route(path.rstrip("/"), params)
        except ApiError as error:
            return error.status, json_type, _json(error.body)
        return 200, json_type, _json(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet; `FakeChargebee.requests` is the log."""


def _json(data: Any) -> bytes:
    return json.dumps(data).encode()


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _json_list(params: dict[str, list[str]], name: str) -> list[str] | None:
    raw = _one(params, name)
    if raw is None:
        return None
    try:
        values = json.loads(raw)
    except json.JSONDecodeError:
        values = None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ApiError(400, "param_wrong_value", f"invalid value for {name}: {raw!r} is not a "
                       "JSON array of strings", kind="invalid_request", param=name)
    return values


def _filter_enum(rows: list[dict[str, Any]], params: dict[str, list[str]],
                 attr: str) -> list[dict[str, Any]]:
    if (value := _one(params, f"{attr}[is]")) is not None:
        rows = [r for r in rows if r.get(attr) == value]
    if (value := _one(params, f"{attr}[is_not]")) is not None:
        rows = [r for r in rows if r.get(attr) != value]
    if (values := _json_list(params, f"{attr}[in]")) is not None:
        rows = [r for r in rows if r.get(attr) in values]
    if (values := _json_list(params, f"{attr}[not_in]")) is not None:
        rows = [r for r in rows if r.get(attr) not in values]
    return rows


def _int_param(params: dict[str, list[str]], name: str) -> int | None:
    raw = _one(params, name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, "param_wrong_value", f"invalid value for {name}: {raw!r}",
                       kind="invalid_request", param=name) from None


def _filter_time(rows: list[dict[str, Any]], params: dict[str, list[str]],
                 attr: str) -> list[dict[str, Any]]:
    if (after := _int_param(params, f"{attr}[after]")) is not None:
        rows = [r for r in rows if r.get(attr, 0) > after]
    if (before := _int_param(params, f"{attr}[before]")) is not None:
        rows = [r for r in rows if r.get(attr, 0) < before]
    return rows


def _sort(rows: list[dict[str, Any]], params: dict[str, list[str]],
          allowed: Iterable[str]) -> list[dict[str, Any]]:
    for direction in ("asc", "desc"):
        attr = _one(params, f"sort_by[{direction}]")
        if attr is None:
            continue
        if attr not in allowed:
            raise ApiError(400, "param_wrong_value", f"cannot sort by {attr!r}",
                           kind="invalid_request", param=f"sort_by[{direction}]")
        return sorted(rows, key=lambda r: (r.get(attr, 0), r.get("id", "")),
                      reverse=direction == "desc")
    return rows


def _page(rows: list[dict[str, Any]], params: dict[str, list[str]],
          sort_value: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    limit = _int_param(params, "limit")
    limit = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, "param_wrong_value", f"limit must be between 1 and {MAX_LIMIT}",
                       kind="invalid_request", param="limit")
    start = _decode_offset(_one(params, "offset"))
    chunk = rows[start:start + limit]
    body: dict[str, Any] = {"list": chunk}
    end = start + len(chunk)
    if end < len(rows):
        # Opaque to clients, like Chargebee's: a JSON array of strings (needs URL-encoding).
        body["next_offset"] = json.dumps([str(sort_value(rows[end - 1])), str(end)])
    return body


def _decode_offset(raw: str | None) -> int:
    if not raw:
        return 0
    try:
        decoded = json.loads(raw)
        position = int(decoded[1])
    except (ValueError, TypeError, IndexError, KeyError):
        raise ApiError(400, "param_wrong_value", f"invalid value for offset: {raw!r}",
                       kind="invalid_request", param="offset") from None
    if position < 0:
        raise ApiError(400, "param_wrong_value", "offset out of range",
                       kind="invalid_request", param="offset")
    return position


__all__ = ["DAY", "ApiError", "FakeChargebee", "RecordedRequest"]


FakeChargebee.handler_class = _Handler
FakeChargebee.thread_name = "fake-chargebee"
