"""Query-string parameters read into typed filters, and the page of results they ask for.

The dashboard pages and the REST API read the same query strings through these functions, so
a bookmarked filter means the same on both. Anything a user typed that cannot be read raises
InvalidParameters naming each bad parameter, which a view answers with a 400 (never a 500).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

from subsync.months import month_start

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# The largest amount a filter accepts, in major units: beyond any real MRR, and small enough
# that its minor units fit the database's 64-bit integers (a larger one was a 500).
MAX_AMOUNT = Decimal(10) ** 12


class InvalidParameters(ValueError):
    """One or more query parameters could not be read; `errors` maps each name to why."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{name}: {why}" for name, why in self.errors.items()))


class Reader:
    """Reads named parameters from a query dict, collecting every error before raising.

    `query` is a Django QueryDict or any mapping of str to str; an empty value counts as absent
    (an HTML form sends `?plan=` for a filter left blank).
    """

    def __init__(self, query: Mapping[str, Any] | None):
        self.query = query or {}
        self.errors: dict[str, str] = {}

    def text(self, name: str, *, max_length: int = 255) -> str:
        value = self.query.get(name)
        if value is None:
            return ""
        value = str(value).strip()
        if len(value) > max_length:
            self.errors[name] = f"at most {max_length} characters"
            return ""
        return value

    def choice(self, name: str, choices: Iterable[str]) -> str:
        value = self.text(name)
        allowed = list(choices)
        if value and value not in allowed:
            self.errors[name] = f"must be one of {', '.join(allowed)}"
            return ""
        return value

    def choices(self, name: str, choices: Iterable[str]) -> tuple[str, ...]:
        """Several values: repeated parameters (`?status=a&status=b`) or one comma-separated."""
        getlist = getattr(self.query, "getlist", None)
        raw = getlist(name) if getlist else [self.query.get(name) or ""]
        values = [part.strip() for item in raw for part in str(item).split(",") if part.strip()]
        allowed = list(choices)
        bad = [v for v in values if v not in allowed]
        if bad:
            self.errors[name] = f"unknown {', '.join(bad[:3])}; must be among {', '.join(allowed)}"
            return ()
        return tuple(dict.fromkeys(values))

    def integer(self, name: str, *, minimum: int | None = None,
                maximum: int | None = None) -> int | None:
        value = self.text(name, max_length=20)
        if not value:
            return None
        try:
            number = int(value)
        except ValueError:
            self.errors[name] = "must be a whole number"
            return None
        if (minimum is not None and number < minimum) or (maximum is not None
                                                           and number > maximum):
            bounds = f"between {minimum} and {maximum}" if maximum is not None else (
                f"at least {minimum}")
            self.errors[name] = f"must be {bounds}"
            return None
        return number

    def amount(self, name: str) -> Decimal | None:
        """A decimal amount in major units ("1000", "99.50"), from 0 to MAX_AMOUNT."""
        value = self.text(name, max_length=30)
        if not value:
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or not 0 <= number <= MAX_AMOUNT:
            self.errors[name] = (f"must be an amount from 0 to {MAX_AMOUNT:f}, such as 1000 or "
                                 "99.50")
            return None
        return number

    def date(self, name: str) -> dt.date | None:
        value = self.text(name, max_length=10)
        if not value:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.errors[name] = "must be a date as YYYY-MM-DD"
            return None

    def month(self, name: str) -> dt.date | None:
        """A month as YYYY-MM (or a full date, whose month is taken): its first day."""
        value = self.text(name, max_length=10)
        if not value:
            return None
        try:
            day = dt.date.fromisoformat(value if len(value) > 7 else f"{value}-01")
        except ValueError:
            self.errors[name] = "must be a month as YYYY-MM"
            return None
        return month_start(day)

    def page(self, *, default_size: int = DEFAULT_PAGE_SIZE,
             max_size: int = MAX_PAGE_SIZE) -> PageRequest:
        """`page` (from 1) and `page_size` (1 to `max_size`), errors kept with the others."""
        number = self.integer("page", minimum=1, maximum=1_000_000)
        size = self.integer("page_size", minimum=1, maximum=max_size)
        return PageRequest(number=number or 1, size=size or default_size)

    def fail(self, name: str, why: str) -> None:
        self.errors.setdefault(name, why)

    def done(self) -> None:
        if self.errors:
            raise InvalidParameters(self.errors)


def read_integer(query: Mapping[str, Any] | None, name: str, *, default: int, minimum: int,
                 maximum: int) -> int:
    """One optional whole-number parameter (`?months=`, `?limit=`), `default` when absent;
    InvalidParameters when it is not a whole number from `minimum` to `maximum`."""
    reader = Reader(query)
    value = reader.integer(name, minimum=minimum, maximum=maximum)
    reader.done()
    return default if value is None else value


@dataclass(frozen=True)
class PageRequest:
    """Which page of results: 1-based `number`, `size` rows (or groups) per page."""

    number: int = 1
    size: int = DEFAULT_PAGE_SIZE

    def __post_init__(self):
        if self.number < 1 or not 1 <= self.size <= MAX_PAGE_SIZE:
            raise InvalidParameters({"page": f"page >= 1 and 1 <= page_size <= {MAX_PAGE_SIZE}"})

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @classmethod
    def from_query(cls, query: Mapping[str, Any] | None, *,
                   default_size: int = DEFAULT_PAGE_SIZE,
                   max_size: int = MAX_PAGE_SIZE) -> PageRequest:
        reader = Reader(query)
        page = reader.page(default_size=default_size, max_size=max_size)
        reader.done()
        return page


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results and how many there are in all (`total` items or groups)."""

    items: Sequence[T]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def paginate(queryset, *, page: PageRequest, convert: Callable[[Any], T],
             total: int | None = None) -> Page[T]:
    """Two queries whatever the page size: the count and the slice (rows made by `convert`).
    `total`: the number of rows when the caller knows it already (no count then).

    A page past the end is empty rather than an error: a bookmarked page 9 of a list that
    has since shrunk still answers.
    """
    if total is None:
        total = queryset.count()
    items = [convert(row) for row in queryset[page.offset:page.offset + page.size]]
    return Page(items=items, number=page.number, size=page.size, total=total)
