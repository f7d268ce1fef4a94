"""``/_emulator/``: the control API for tests and the benchmark running in another process.

Not part of Salesforce: it never counts toward the API budget, needs no token, and only
listens where the emulator listens (127.0.0.1). Routes:

- ``GET  /_emulator/state``            counts per object, call count, API usage, pending faults
- ``GET  /_emulator/records/<Type>``   the stored records (``?include_deleted=1``)
- ``GET|POST|DELETE /_emulator/faults`` list, add (``{"kind", "count", ...}`` or a list), clear
- ``POST /_emulator/reset``            forget records, jobs, usage, faults and the call log
- ``POST /_emulator/reset-usage``      daily API usage back to 0
- ``POST /_emulator/expire-sessions``  every issued token becomes invalid
- ``POST /_emulator/daily-limit``      ``{"limit": n}``
- ``POST /_emulator/schema``           ``{"drop": ["Contract.Field"], "alter": [{"field":
  "Account.Field", "unique": false, "external_id": false}]}`` to build a broken org
- ``POST /_emulator/token``            a fresh access token without an OAuth round trip
"""

from __future__ import annotations

from .errors import RequestFailed
from .faults import make_fault
from .messages import Reply, Request
from .org import Org

_ALTERABLE = {
    "unique",
    "external_id",
    "case_sensitive",
    "nillable",
    "createable",
    "updateable",
    "length",
}


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"error": message})


def summary(org: Org) -> dict:
    with org.lock:
        return {
            "url": org.base_url,
            "counts": {name: org.store.count(name) for name in org.schema.objects},
            "call_count": org.call_total,
            "token_requests": org.token_requests,
            "api_usage": {"used": org.api_used, "max": org.daily_limit},
            "sessions": len(org.sessions),
            "multi_currency": org.schema.multi_currency,
            "faults": org.faults.pending(),
            "bulk_jobs": len(org.jobs),
        }


def handle(org: Org, request: Request) -> Reply:
    parts = request.segments[1:]
    method = request.method
    route = parts[0] if parts else "state"
    try:
        if route == "state" and method == "GET":
            return Reply(200, summary(org))
        if route == "records" and method == "GET" and len(parts) == 2:
            return _records(org, request, parts[1])
        if route == "faults":
            return _faults(org, request)
        if method != "POST":
            return _error(405, f"{method} not allowed on /_emulator/{route}")
        if route == "reset":
            org.reset()
        elif route == "reset-usage":
            with org.lock:
                org.api_used = 0
                org.touch()
        elif route == "expire-sessions":
            with org.lock:
                org.expire_sessions()
        elif route == "daily-limit":
            body = request.json()
            with org.lock:
                org.daily_limit = int(body["limit"])
        elif route == "schema":
            _schema(org, request.json())
        elif route == "token":
            with org.lock:
                token, _ = org.open_session(org.credentials.username)
            return Reply(200, {"access_token": token, "instance_url": org.base_url})
        else:
            return _error(404, f"unknown control route {route}")
    except (KeyError, TypeError, ValueError, RequestFailed) as exc:
        return _error(400, f"bad control request: {exc}")
    return Reply(200, summary(org))


def _records(org: Org, request: Request, name: str) -> Reply:
    sobj = org.schema.get(name)
    if sobj is None:
        return _error(404, f"unknown sObject {name}")
    include_deleted = request.query.get("include_deleted") in ("1", "true")
    with org.lock:
        rows = org.store.all(sobj.name, include_deleted=include_deleted)
    return Reply(200, {"records": rows})


def _faults(org: Org, request: Request) -> Reply:
    if request.method == "GET":
        return Reply(200, {"faults": org.faults.pending()})
    if request.method == "DELETE":
        org.faults.clear()
        return Reply(200, {"faults": []})
    if request.method != "POST":
        return _error(405, "use GET, POST or DELETE")
    body = request.json()
    specs = body if isinstance(body, list) else body.get("faults", [body])
    faults = []
    for spec in specs:
        options = dict(spec)
        kind = options.pop("kind")
        count = int(options.pop("count", 1))
        faults.append(make_fault(kind, count, **options))
    for fault in faults:
        org.faults.add(fault)
    return Reply(201, {"faults": org.faults.pending()})


def _schema(org: Org, body: dict) -> None:
    for target in body.get("drop", []):
        sobject, _, field_name = target.partition(".")
        org.drop_field(sobject, field_name)
    for change in body.get("alter", []):
        change = dict(change)
        sobject, _, field_name = change.pop("field").partition(".")
        unknown = set(change) - _ALTERABLE
        if unknown:
            raise ValueError(f"cannot alter {', '.join(sorted(unknown))}")
        org.alter_field(sobject, field_name, **change)
