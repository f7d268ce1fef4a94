"""A fake Braintree gateway over real HTTP on 127.0.0.1, for the SDK to talk to in tests.

It speaks just enough of the gateway's XML API for subsync's reads: plans, the two-step
subscription search (ids, then objects by id; by ids, status and a created_at range),
subscription, payment method, customer and merchant account lookups. Requests must carry
HTTP Basic auth with the merchant's public and private key, as the SDK sends. Every request
is logged; failures can be injected (after K good requests, or for the next N) to test
retries and resumable backfills, and id searches can be capped (`search_cap`) as Braintree's
are.

    with FakeBraintreeServer(keys=Keys()) as server:
        server.add_plan("basic", price="10.00")
        ...  # an SDK gateway with the same keys and gateway URL server.url reads them
"""

from __future__ import annotations

import base64
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from xml.etree import ElementTree as ET

from braintree.util.xml_util import XmlUtil

from emulator.local_server import LocalServer
from wireformats.braintree_xml import element, to_xml

from .subscriptions import Customer, Keys


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    status: int
    body: bytes = b""

    def search_values(self, criterion: str) -> list[str]:
        """The values of an in-list search criterion in this request's XML body (e.g. ids)."""
        return list(search_criteria(self.body).get(criterion) or [])


def search_criteria(body: bytes) -> dict:
    """The `<search>` criteria the SDK posted, parsed with the SDK's own XML reader."""
    if not body:
        return {}
    criteria = XmlUtil.dict_from_xml(body).get("search")
    return criteria if isinstance(criteria, dict) else {}


class _Failures:
    """Which upcoming requests fail, and with what status."""

    def __init__(self) -> None:
        self.ok_budget: int | None = None  # None: no failure scheduled
        self.status = 503
        self.remaining: int | None = None  # failures left; None: until recover()

    def next_status(self) -> int | None:
        if self.ok_budget is None:
            return None
        if self.ok_budget > 0:
            self.ok_budget -= 1
            return None
        if self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.ok_budget = None
        return self.status


class FakeBraintreeServer(LocalServer):
    """The fake gateway; a context manager that serves on an ephemeral port in a thread."""

    def __init__(self, *, keys: Keys | None = None, page_size: int = 50,
                 search_cap: int | None = None):
        self.keys = keys or Keys()
        self.page_size = page_size
        # Like Braintree, an id search answers with at most this many ids (None: no cap).
        self.search_cap = search_cap
        self.plans: dict[str, dict] = {}
        self.subscriptions: dict[str, dict] = {}  # insertion order = search answer order
        self.payment_methods: dict[str, dict] = {}
        self.customers: dict[str, dict] = {}
        self.merchant_accounts: dict[str, dict] = {}
        self.requests: list[RecordedRequest] = []
        self._failures = _Failures()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.base_url

    # -- data -----------------------------------------------------------------------------

    def add_plan(self, plan_id: str, *, price: str = "10.00", billing_frequency: int = 1,
                 currency: str = "USD", name: str = "") -> None:
        self.plans[plan_id] = {
            "id": plan_id, "merchant_id": self.keys.merchant_id, "name": name or plan_id,
            "description": None, "billing_frequency": billing_frequency,
            "billing_day_of_month": None, "currency_iso_code": currency,
            "number_of_billing_cycles": None, "price": price, "trial_period": False,
            "trial_duration": None, "trial_duration_unit": None,
            "add_ons": [], "discounts": [],
        }

    def add_subscription(self, fields: dict) -> None:
        """Store a subscription given as `subscriptions.subscription_fields(...)`."""
        self.subscriptions[fields["id"]] = fields

    def add_merchant_account(self, account_id: str, *, currency: str) -> None:
        self.merchant_accounts[account_id] = {
            "id": account_id, "currency_iso_code": currency, "status": "active",
            "default": False,
        }

    def add_customer(self, customer: Customer) -> None:
        self.customers[customer.id] = {**customer.fields(), "credit_cards": []}

    def add_payment_method(self, token: str, *, customer_id: str) -> None:
        self.payment_methods[token] = {
            "token": token, "customer_id": customer_id, "bin": "411111", "last_4": "1111",
            "card_type": "Visa", "expiration_month": "12", "expiration_year": "2030",
            "expired": False, "default": True, "subscriptions": [],
        }

    # -- failures and log ------------------------------------------------------------------

    def fail_after(self, good_requests: int, *, status: int = 503,
                   times: int | None = None) -> None:
        """Serve `good_requests` more requests, then answer `status` (`times` times, or until
        `recover()`)."""
        with self._lock:
            self._failures.ok_budget = good_requests
            self._failures.status = status
            self._failures.remaining = times

    def fail_next(self, times: int = 1, *, status: int = 429) -> None:
        self.fail_after(0, status=status, times=times)

    def recover(self) -> None:
        with self._lock:
            self._failures.ok_budget = None

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method in (None, r.method)]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _injected_failure(self) -> int | None:
        with self._lock:
            return self._failures.next_status()


_ROUTES: list[tuple[str, re.Pattern, str]] = [
    ("GET", re.compile(r"^/plans/?$"), "_plans"),
    ("POST", re.compile(r"^/subscriptions/advanced_search_ids$"), "_search_ids"),
    ("POST", re.compile(r"^/subscriptions/advanced_search$"), "_search"),
    ("GET", re.compile(r"^/subscriptions/(?P<key>[^/]+)$"), "_subscription"),
    ("GET", re.compile(r"^/payment_methods/any/(?P<key>[^/]+)$"), "_payment_method"),
    ("GET", re.compile(r"^/customers/(?P<key>[^/?]+)"), "_customer"),
    ("GET", re.compile(r"^/merchant_accounts/(?P<key>[^/]+)$"), "_merchant_account"),
]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeBraintreeServer  # set on the per-server subclass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def log_message(self, format, *args) -> None:  # keep test output clean
        pass

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, document = self._answer(method, body)
        self.fake._record(RecordedRequest(method, self.path, status, body))
        payload = document or b""
        self.send_response(status)
        self.send_header("Content-Type", "application/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _answer(self, method: str, body: bytes) -> tuple[int, bytes | None]:
        fake = self.fake
        if not self._authorised():
            return 401, None
        failure = fake._injected_failure()
        if failure is not None:
            return failure, None
        prefix = f"/merchants/{fake.keys.merchant_id}"
        if not self.path.startswith(prefix + "/"):
            return 403, None
        path = self.path[len(prefix):]
        for verb, pattern, name in _ROUTES:
            match = pattern.match(path)
            if verb == method and match:
                return getattr(self, name)(match.groupdict().get("key"), body)
        return 404, None

    def _authorised(self) -> bool:
        keys = self.fake.keys
        expected = base64.b64encode(f"{keys.public_key}:{keys.private_key}".encode()).decode()
        return self.headers.get("Authorization", "") == f"Basic {expected}"

    # -- routes ---------------------------------------------------------------------------

    def _plans(self, _key, _body) -> tuple[int, bytes]:
        plans = [("plan", plan) for plan in self.fake.plans.values()]
        return 200, to_xml("plans", plans)

    def _matching_ids(self, body: bytes) -> list[str]:
        criteria = search_criteria(body)
        wanted_ids = self._in_list(criteria, "ids")
        wanted_statuses = self._in_list(criteria, "status")
        created = criteria.get("created_at")
        return [
            sub_id for sub_id, fields in self.fake.subscriptions.items()
            if (wanted_ids is None or sub_id in wanted_ids)
            and (wanted_statuses is None or fields.get("status") in wanted_statuses)
            and (created is None or _in_range(fields.get("created_at"), created))
        ]

    @staticmethod
    def _in_list(criteria: dict, name: str) -> set[str] | None:
        values = criteria.get(name)
        return None if values is None else {str(value) for value in values}

    def _search_ids(self, _key, body) -> tuple[int, bytes]:
        ids = self._matching_ids(body)
        # Silently, as Braintree does; not for a search by a page of ids (never near the real
        # cap), so a small cap in a test does not cut the backfill's own page fetches.
        capped = "ids" not in search_criteria(body)
        if self.fake.search_cap is not None and capped:
            ids = ids[:self.fake.search_cap]
        return 200, to_xml("search_results", {
            "page_size": self.fake.page_size,
            "ids": [("item", sub_id) for sub_id in ids],
        })

    def _search(self, _key, body) -> tuple[int, bytes]:
        ids = self._matching_ids(body)
        if len(ids) > self.fake.page_size:
            return 422, None  # Braintree fetches at most one page of objects per request
        # Not an array: the SDK reads response["subscriptions"]["subscription"].
        root = element("subscriptions", {"current_page_number": 1,
                                         "page_size": self.fake.page_size,
                                         "total_items": len(ids)})
        for sub_id in ids:
            root.append(element("subscription", self.fake.subscriptions[sub_id]))
        return 200, ET.tostring(root, encoding="UTF-8", xml_declaration=True)

    def _found(self, tag: str, table: dict, key: str) -> tuple[int, bytes | None]:
        if key not in table:
            return 404, None
        return 200, to_xml(tag, table[key])

    def _subscription(self, key, _body):
        return self._found("subscription", self.fake.subscriptions, key)

    def _payment_method(self, key, _body):
        return self._found("credit_card", self.fake.payment_methods, key)

    def _customer(self, key, _body):
        return self._found("customer", self.fake.customers, key.split("?")[0])

    def _merchant_account(self, key, _body):
        return self._found("merchant_account", self.fake.merchant_accounts, key)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in_range(value: datetime | None, bounds: dict) -> bool:
    """A range criterion (`{"min": ..., "max": ...}`, both inclusive) as Braintree applies it;
    the SDK posts UTC datetimes, which its XML reader gives back naive."""
    if not isinstance(value, datetime):
        return False
    low, high = bounds.get("min"), bounds.get("max")
    return ((low is None or _utc(value) >= _utc(low))
            and (high is None or _utc(value) <= _utc(high)))


FakeBraintreeServer.handler_class = _Handler
FakeBraintreeServer.thread_name = "fake-braintree"
