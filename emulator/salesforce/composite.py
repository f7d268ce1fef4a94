"""``POST /services/data/vNN.N/composite``: several REST requests in one call.

What the REST API Developer Guide says of the Composite resource, and the emulator enforces:
the whole series counts as ONE call toward the daily API limit (``rest.handle`` logs and
counts the outer request once; subrequests are neither logged nor counted); at most 25
subrequests, of which at most 5 may be sObject Collections or queries (Query, QueryAll);
subrequests reach sObject resources, sObject Collections (API 43.0 and later) and queries,
each with a ``referenceId``. Every subrequest is answered with its own status and body, as
if it had been sent alone; with ``allOrNone`` false a failed one does not stop the others.

Stricter than the platform, on purpose (so nothing passes here that a real org might refuse):
references between subrequests (``@{ref.id}``), ``allOrNone: true`` and other resources
(Bulk API jobs, limits, nested composite) are refused with a 400 naming what is not
emulated; subrequests must use the outer request's API version. The refusal messages are the
emulator's own words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from .errors import RequestFailed, SfError, json_parser_error
from .messages import Reply, Request
from .org import Org

MAX_SUBREQUESTS = 25
MAX_COLLECTIONS_OR_QUERIES = 5
_REFERENCE_ID = re.compile(r"^[A-Za-z0-9_]{1,80}$")
_ALLOWED_HEADS = ("sobjects", "query", "queryAll", "composite")

Route = Callable[[Org, Request, str, list[str]], Reply]


def _refuse(message: str) -> RequestFailed:
    return RequestFailed(400, SfError("INVALID_COMPOSITE_REQUEST", message))


def handle(org: Org, request: Request, version: str, route: Route) -> Reply:
    """Run the subrequests through `route` (the REST router) one after the other."""
    if request.method != "POST":
        return Reply(405, [{"message": f"HTTP Method '{request.method}' not allowed. "
                            "Allowed are POST", "errorCode": "METHOD_NOT_ALLOWED"}])
    body = request.json()
    subrequests = body.get("compositeRequest") if isinstance(body, dict) else None
    if not isinstance(subrequests, list):
        raise json_parser_error("Expected an object with a compositeRequest list")
    if not 1 <= len(subrequests) <= MAX_SUBREQUESTS:
        raise _refuse(f"a composite request takes 1 to {MAX_SUBREQUESTS} subrequests, "
                      f"not {len(subrequests)}")
    if body.get("allOrNone"):
        raise _refuse("allOrNone true is not emulated")
    parsed = [_subrequest(item, version) for item in subrequests]
    seen = [p[0] for p in parsed]
    if len(set(seen)) != len(seen):
        raise _refuse("each referenceId must be unique in the request")
    heavy = sum(1 for _, sub, parts in parsed if _collection_or_query(parts))
    if heavy > MAX_COLLECTIONS_OR_QUERIES:
        raise _refuse(f"at most {MAX_COLLECTIONS_OR_QUERIES} subrequests may be sObject "
                      f"Collections or queries, not {heavy}")
    answers = []
    for reference, sub, parts in parsed:
        try:
            reply = route(org, sub, version, parts)
        except RequestFailed as failure:
            reply = Reply(failure.status, failure.body())
        answers.append({"body": reply.body, "httpHeaders": {},
                        "httpStatusCode": reply.status, "referenceId": reference})
    return Reply(200, {"compositeResponse": answers})


def _subrequest(item: object, version: str) -> tuple[str, Request, list[str]]:
    if not isinstance(item, dict):
        raise json_parser_error("Each subrequest must be a JSON object")
    reference, method, url = item.get("referenceId"), item.get("method"), item.get("url")
    if not isinstance(reference, str) or not _REFERENCE_ID.match(reference):
        raise _refuse(f"invalid referenceId {reference!r}")
    if not isinstance(method, str) or method.upper() not in ("GET", "POST", "PATCH", "DELETE"):
        raise _refuse(f"{reference}: invalid method {method!r}")
    text = json.dumps(item)
    if "@{" in text:
        raise _refuse(f"{reference}: references between subrequests are not emulated")
    if not isinstance(url, str):
        raise _refuse(f"{reference}: url is required")
    payload = b"" if item.get("body") is None else json.dumps(item["body"]).encode()
    sub = Request.build(method, url, {"content-type": "application/json"}, payload)
    segments = sub.segments
    prefix = ["services", "data", f"v{version}"]
    if segments[:3] != prefix or len(segments) < 4:
        raise _refuse(f"{reference}: the url must start with /services/data/v{version}/")
    parts = segments[3:]
    nested = parts[0] == "composite" and (len(parts) < 2 or parts[1] != "sobjects")
    if parts[0] not in _ALLOWED_HEADS or nested:
        raise _refuse(f"{reference}: {parts[0]} is not supported in a composite request")
    return reference, sub, parts


def _collection_or_query(parts: list[str]) -> bool:
    return parts[0] in ("query", "queryAll") or parts[:2] == ["composite", "sobjects"]
