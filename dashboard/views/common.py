"""What the page views share: reading a query string into a selector's filters, and
rendering a clear 400 page when it cannot be read (never a 500)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from django.shortcuts import render

from billing.normalized import Provider
from billing.selectors.params import InvalidParameters, PageRequest

T = TypeVar("T")
# The provider filter's choices on every page that has one.
PROVIDERS = tuple(p.value for p in Provider)


class BadQuery(Exception):
    """Raised with the response to send when the query string could not be read."""

    def __init__(self, response):
        self.response = response


def parse_or_400(request, parse: Callable[[], T], *, title: str) -> T:
    """`parse()` (a selector's from_query), or raise BadQuery carrying a 400 page that lists
    each parameter that could not be read and links to the page without them."""
    try:
        return parse()
    except InvalidParameters as exc:
        response = render(request, "dashboard/bad_query.html",
                          {"errors": exc.errors, "page_title": title,
                           "clear_url": request.path}, status=400)
        raise BadQuery(response) from exc


def handles_bad_query(view):
    """Answer a BadQuery raised anywhere in `view` with its 400 page."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except BadQuery as bad:
            return bad.response

    return wrapper


def utc_today():
    """The day the figures are computed for: windows and months are UTC days, as in the API."""
    from django.utils import timezone

    return timezone.now().date()


def filters_and_page(request, parse: Callable[[dict], T], *, title: str,
                     default_size: int = 50) -> tuple[T, PageRequest]:
    """The page's filters (`parse(query)`, a selector's from_query) and which page of
    results, or a BadQuery with the 400 page naming every parameter that could not be read."""
    return (parse_or_400(request, lambda: parse(request.GET), title=title),
            parse_or_400(request, lambda: PageRequest.from_query(
                request.GET, default_size=default_size), title=title))
