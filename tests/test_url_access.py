"""Every URL the project serves refuses anonymous visitors, except the few that must not.

The URL patterns are walked from the root resolver, so a page, an API endpoint or an admin
view added later is covered without being listed here. Each pattern gets a concrete path (its
converters and named groups filled with a value that matches them) and is asked anonymously
with GET and POST. Public, by design:

- `/healthz` (load balancers), GET;
- the two webhook POSTs, which authenticate the provider themselves (a POST without
  credentials is refused by the receiver: 401 or 403, never stored);
- the login pages (the dashboard's and the admin's), and the admin's logout, which only says
  "logged out".

Refused means: sent to a login page (302), or 401/403. Nothing else passes, not even a
404, so an unprotected view cannot hide behind a missing object; the one exception is a
catch-all pattern (e.g. the API's "no such endpoint" answer), whose 404 says no more than
Django's own 404 for a URL that matches nothing, which anyone gets.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.resolvers import RegexPattern, RoutePattern

# (path, method) pairs anyone may use; everything else must refuse an anonymous request.
PUBLIC = {
    ("/healthz", "GET"),
    ("/login/", "GET"),
    ("/login/", "POST"),
    ("/admin/login/", "GET"),
    ("/admin/login/", "POST"),
    ("/admin/logout/", "POST"),
}
PUBLIC_PATHS = {path for path, _method in PUBLIC}
# The webhook receivers answer anonymous POSTs themselves (they check the provider's
# credentials), so a POST without them must be refused by the receiver.
WEBHOOKS = {"/webhooks/chargebee/", "/webhooks/braintree/"}
PUBLIC_PATHS |= WEBHOOKS

# What an unnamed catch-all (`.*`) is asked with: a path nothing else serves.
CATCH_ALL_SAMPLE = "no-such-page"
# Candidate values for a path parameter, tried in order until one matches its pattern.
SAMPLES = ("1", "x", "json", str(uuid.UUID(int=1)), "billing")


def _sample_for(regex: str) -> str:
    """A value matching a named group's sub-pattern, e.g. `\\d+`, `[^/]+`, `a|b`."""
    for candidate in SAMPLES:
        if re.fullmatch(regex, candidate):
            return candidate
    alternatives = regex.strip("()").split("|")
    if re.fullmatch(regex, alternatives[0]):
        return alternatives[0]
    raise AssertionError(f"no sample value matches the URL parameter pattern {regex!r}")


def _concrete(regex: str) -> str:
    """A path (without the leading slash) that `regex` (a resolver's pattern) matches."""
    text = regex.lstrip("^").rstrip("$").replace("\\Z", "")
    groups = re.compile(r"\(\?P<\w+>((?:[^()]|\([^()]*\))*)\)")
    text = groups.sub(lambda match: _sample_for(match.group(1)), text)
    text = text.replace(".*", CATCH_ALL_SAMPLE).replace(".+", CATCH_ALL_SAMPLE)
    text = re.sub(r"\(\?:[^()]*\)\?", "", text)  # optional non-capturing parts: leave out
    text = re.sub(r"\\(.)", r"\1", text)  # escaped literals, e.g. \. or \-
    return text.replace("/?", "/")


def _regex_of(pattern) -> str:
    if isinstance(pattern, RoutePattern):
        return pattern.regex.pattern
    if isinstance(pattern, RegexPattern):
        return pattern._regex
    raise AssertionError(f"unknown pattern type {type(pattern)}")


def _walk(resolver: URLResolver, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for entry in resolver.url_patterns:
        here = prefix + _concrete(_regex_of(entry.pattern))
        if isinstance(entry, URLResolver):
            found.extend(_walk(entry, here))
        else:
            found.append(("/" + here, entry))
    return found


def _catch_all(entry: URLPattern) -> bool:
    return _regex_of(entry.pattern).lstrip("^").rstrip("$") in (".*", "(?P<url>.*)")


def every_path() -> list[str]:
    return sorted({path for path, _entry in _walk(get_resolver())})


def catch_all_paths() -> set[str]:
    return {path for path, entry in _walk(get_resolver()) if _catch_all(entry)}


LOGIN_PAGES = ("/login/", "/admin/login/")


def _refused(response) -> bool:
    if response.status_code in (401, 403):
        return True
    return response.status_code == 302 and response["Location"].split("?")[0] in LOGIN_PAGES


def test_the_walk_finds_the_known_urls():
    """The walk itself works: the project's well-known URLs are among the paths it tries."""
    paths = every_path()
    for known in ("/healthz", "/", "/subscriptions/1/", "/events/1/replay/",
                  "/admin/billing/customer/", "/admin/billing/customer/1/change/",
                  "/api/schema/", "/api/docs/", "/api/v1/subscriptions/1/", *WEBHOOKS):
        assert known in paths, known


@pytest.mark.django_db
def test_anonymous_requests_are_refused_everywhere_but_the_public_urls(client):
    allowed = []
    catch_alls = catch_all_paths()
    for path in every_path():
        for method in ("GET", "POST"):
            response = client.generic(method, path)
            if (path, method) in PUBLIC:
                # Any answer but a crash (/healthz is 503 while the broker is away).
                assert response.status_code != 500, (method, path)
                allowed.append((path, method))
            elif path in WEBHOOKS and method == "POST":
                assert response.status_code in (401, 403), (method, path, response.content)
            elif path in PUBLIC_PATHS and response.status_code == 405:
                continue  # a public view that takes only its own method
            elif path in catch_alls and response.status_code == 404:
                continue  # "no such page", as for any URL that matches nothing
            else:
                assert _refused(response), (method, path, response.status_code,
                                            response.get("Location"))
    assert sorted(allowed) == sorted(PUBLIC)


def test_the_public_list_names_real_urls():
    for path, _method in PUBLIC:
        resolve(path)
    assert reverse("healthz") == "/healthz"
