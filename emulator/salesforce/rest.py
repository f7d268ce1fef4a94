"""The REST API under ``/services/data/vNN.N/``: gatekeeping, sObjects, collections, query.

Every call goes through ``handle``, which does what Salesforce does before any work:
logs the call, applies injected faults, checks the bearer token (401
INVALID_SESSION_ID), checks and counts the daily API budget (403
REQUEST_LIMIT_EXCEEDED), and stamps ``Sforce-Limit-Info`` on the reply.
"""

from __future__ import annotations

import re
import secrets
import time

from . import bulk, composite, ids, soql
from .describe import Field, SObject
from .errors import RequestFailed, SfError, json_parser_error, not_found
from .faults import Fault
from .messages import Reply, Request
from .org import Org, Outcome
from .rules import check_sobject
from .values import BadValue, from_json

MIN_VERSION, MAX_VERSION = 46, 64
COLLECTION_LIMIT = 200
MAX_CURSORS = 200
_VERSION = re.compile(r"^v(\d+)\.0$")
_SEASONS = ("Summer", "Winter", "Spring")


def versions() -> list[dict]:
    out = []
    for number in range(MIN_VERSION, MAX_VERSION + 1):
        step = number - MIN_VERSION
        label = f"{_SEASONS[step % 3]} '{19 + (step + 2) // 3}"
        out.append({"label": label, "url": f"/services/data/v{number}.0", "version": f"{number}.0"})
    return out


def handle(org: Org, request: Request) -> Reply:
    """Answer any request under ``/services/data``."""
    parts = request.segments[2:]
    if not parts:
        if request.method != "GET":
            return _method_not_allowed(request.method, "GET")
        return Reply(200, versions())
    match = _VERSION.match(parts[0])
    if not match or not MIN_VERSION <= int(match.group(1)) <= MAX_VERSION:
        return Reply(404, not_found().body(), headers={"Sforce-Limit-Info": org.usage_header()})
    version = f"{match.group(1)}.0"
    org.log_call(request.method, request.path)
    latency = org.faults.take("latency", request.method, request.path)
    if latency is not None:
        time.sleep(latency.seconds)
    with org.lock:
        reply = _gatekeep(org, request)
        if reply is None:
            try:
                reply = _route(org, request, version, parts[1:])
            except RequestFailed as failure:
                reply = Reply(failure.status, failure.body())
        reply.headers["Sforce-Limit-Info"] = org.usage_header()
        return reply


def _gatekeep(org: Org, request: Request) -> Reply | None:
    """Faults, authentication and the API budget; a reply here means the call is refused."""
    method, path = request.method, request.path
    if org.faults.take("invalid_session", method, path) is not None:
        org.expire_sessions()
    if not org.session_valid(_bearer(request)):
        return Reply(
            401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
        )
    limited = org.faults.take("request_limit", method, path) is not None
    if limited or org.api_used >= org.daily_limit:
        return Reply(
            403,
            [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
        )
    failure = org.faults.take("server_error", method, path)
    if failure is not None:
        if failure.status == 500:
            error = {
                "message": "An unexpected error occurred. Please include this ErrorId if you "
                f"contact support: {secrets.randbelow(10**9)}-{secrets.randbelow(10**5)} "
                "(-1000000000)",
                "errorCode": "UNKNOWN_EXCEPTION",
            }
        else:
            error = {
                "message": "Server temporarily unavailable; please retry later.",
                "errorCode": "SERVER_UNAVAILABLE",
            }
        return Reply(failure.status, [error])
    org.api_used += 1
    org.touch()
    return None


def _bearer(request: Request) -> str | None:
    header = request.header("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and token.strip():
        return token.strip()
    return None


def _method_not_allowed(method: str, allowed: str) -> Reply:
    return Reply(
        405,
        [
            {
                "message": f"HTTP Method '{method}' not allowed. Allowed are {allowed}",
                "errorCode": "METHOD_NOT_ALLOWED",
            }
        ],
    )


def _route(org: Org, request: Request, version: str, parts: list[str]) -> Reply:
    method = request.method
    head = parts[0] if parts else ""
    if not parts:
        return _only(method, "GET") or Reply(200, _resources(version))
    if head == "limits" and len(parts) == 1:
        return _only(method, "GET") or Reply(200, _limits(org))
    if head == "sobjects":
        return _sobjects(org, request, version, parts[1:])
    if head == "composite" and len(parts) >= 2 and parts[1] == "sobjects":
        return _collections(org, request, version, parts[2:])
    if head == "composite" and len(parts) == 1:
        return composite.handle(org, request, version, _route)
    if head in ("query", "queryAll"):
        return _only(method, "GET") or _query(org, request, version, parts)
    if head == "jobs":
        return bulk.handle(org, request, version, parts[1:])
    raise not_found()


def _only(method: str, allowed: str) -> Reply | None:
    return None if method in allowed.split(",") else _method_not_allowed(method, allowed)


def _resources(version: str) -> dict:
    base = f"/services/data/v{version}"
    names = ("sobjects", "query", "queryAll", "limits", "composite", "jobs")
    return {name: f"{base}/{name}" for name in names}


def _limits(org: Org) -> dict:
    def budget(maximum: int, used: int = 0) -> dict:
        return {"Max": maximum, "Remaining": max(0, maximum - used)}

    return {
        "DailyApiRequests": budget(org.daily_limit, org.api_used),
        "DailyBulkApiBatches": budget(15000),
        "DailyBulkV2QueryFileStorageMB": budget(976562),
        "DailyBulkV2QueryJobs": budget(10000),
        "DataStorageMB": budget(5, 0),
        "FileStorageMB": budget(20, 0),
    }


# sObject resources -----------------------------------------------------------------------


def _sobjects(org: Org, request: Request, version: str, parts: list[str]) -> Reply:
    method = request.method
    if not parts:
        return _only(method, "GET") or Reply(
            200,
            {
                "encoding": "UTF-8",
                "maxBatchSize": COLLECTION_LIMIT,
                "sobjects": [o.summary(version) for o in org.schema.objects.values()],
            },
        )
    sobj = check_sobject(org, parts[0])
    rest = parts[1:]
    if not rest:
        if method == "GET":
            recent = [_shape(sobj, r, version, ["Id", "Name"]) for r in org.store.all(sobj.name)]
            return Reply(200, {"objectDescribe": sobj.summary(version), "recentItems": recent[-5:]})
        if method == "POST":
            return _create_one(org, request, sobj)
        return _method_not_allowed(method, "GET,POST")
    if rest == ["describe"]:
        return _only(method, "GET") or Reply(200, sobj.describe(version))
    if len(rest) == 1:
        return _by_id(org, request, version, sobj, rest[0])
    if len(rest) == 2:
        return _by_external_id(org, request, version, sobj, rest[0], rest[1])
    raise not_found()


def _shape(sobj: SObject, record: dict, version: str, fields: list[str] | None = None) -> dict:
    names = fields if fields is not None else list(sobj.fields)
    out = {
        "attributes": {
            "type": sobj.name,
            "url": f"/services/data/v{version}/sobjects/{sobj.name}/{record['Id']}",
        }
    }
    for name in names:
        out[name] = record.get(name)
    return out


def _selected_fields(sobj: SObject, request: Request) -> list[str] | None:
    wanted = request.query.get("fields")
    if not wanted:
        return None
    names = []
    for raw in wanted.split(","):
        found = sobj.field(raw.strip())
        if found is None:
            raise RequestFailed(
                400,
                SfError("INVALID_FIELD", f"No such column '{raw.strip()}' on entity '{sobj.name}'"),
            )
        names.append(found.name)
    return names


def _lock_error(record_id: str | None = None) -> SfError:
    suffix = f" or 1 records: {record_id}" if record_id else ""
    message = f"unable to obtain exclusive access to this record{suffix}"
    return SfError("UNABLE_TO_LOCK_ROW", message)


def _body_object(request: Request) -> dict:
    body = request.json()
    if not isinstance(body, dict):
        raise json_parser_error(
            "Cannot deserialize instance of sObject from START_ARRAY value [ or request may be "
            "missing a required field at [line:1, column:1]"
        )
    return body


def _failed(outcome: Outcome) -> Reply:
    return Reply(400, [e.as_request_error() for e in outcome.errors])


def _create_one(org: Org, request: Request, sobj: SObject) -> Reply:
    body = _body_object(request)
    if org.faults.take("unable_to_lock_row", request.method, request.path):
        return Reply(400, [_lock_error().as_request_error()])
    outcome = org.create(sobj, body, [])
    if not outcome.success:
        return _failed(outcome)
    return Reply(201, {"id": outcome.id, "success": True, "errors": []})


def _by_id(org: Org, request: Request, version: str, sobj: SObject, raw_id: str) -> Reply:
    method = request.method
    if method not in ("GET", "PATCH", "DELETE"):
        return _method_not_allowed(method, "GET,PATCH,DELETE")
    record, error = org.find_existing(sobj, raw_id)
    if error is not None:
        if error.code == "MALFORMED_ID":
            raise not_found(
                f"Provided external ID field does not exist or is not accessible: {raw_id}"
            )
        if error.code == "ENTITY_IS_DELETED":
            raise RequestFailed(404, SfError("ENTITY_IS_DELETED", "entity is deleted"))
        raise not_found()
    if method == "GET":
        return Reply(200, _shape(sobj, record, version, _selected_fields(sobj, request)))
    if method == "PATCH":
        body = _body_object(request)
        if org.faults.take("unable_to_lock_row", method, request.path):
            return Reply(400, [_lock_error(record["Id"]).as_request_error()])
        outcome = org.update(sobj, record["Id"], body, [])
        return Reply(204) if outcome.success else _failed(outcome)
    if org.faults.take("unable_to_lock_row", method, request.path):
        return Reply(400, [_lock_error(record["Id"]).as_request_error()])
    outcome = org.delete(sobj, record["Id"], [])
    return Reply(204) if outcome.success else _failed(outcome)


def external_field(sobj: SObject, name: str) -> Field:
    """The field an upsert or lookup may key on, or Salesforce's 404 for any other."""
    found = sobj.field(name)
    if found is None or not (found.external_id or found.name == "Id"):
        raise not_found(f"Provided external ID field does not exist or is not accessible: {name}")
    return found


def _external_value(ext_field: Field, raw: object) -> object:
    try:
        return from_json(ext_field, raw)
    except BadValue:
        raise json_parser_error(f"Invalid external ID value: {raw}") from None


def _multiple(sobj: SObject, version: str, matches: list[str]) -> Reply:
    return Reply(300, [f"/services/data/v{version}/sobjects/{sobj.name}/{i}" for i in matches])


def _by_external_id(
    org: Org, request: Request, version: str, sobj: SObject, field_name: str, raw_value: str
) -> Reply:
    method = request.method
    ext_field = external_field(sobj, field_name)
    value = _external_value(ext_field, raw_value)
    if method in ("GET", "DELETE"):
        matches = org.match_external(sobj, ext_field, value)
        if len(matches) > 1:
            return _multiple(sobj, version, matches)
        if not matches:
            raise not_found()
        record = org.store.get(sobj.name, matches[0])
        if method == "GET":
            return Reply(200, _shape(sobj, record, version, _selected_fields(sobj, request)))
        if org.faults.take("unable_to_lock_row", method, request.path):
            return Reply(400, [_lock_error(record["Id"]).as_request_error()])
        outcome = org.delete(sobj, record["Id"], [])
        return Reply(204) if outcome.success else _failed(outcome)
    if method != "PATCH":
        return _method_not_allowed(method, "GET,PATCH,DELETE")
    body = _body_object(request)
    if any(sobj.field(k) is ext_field for k in body if k != "attributes"):
        raise RequestFailed(
            400,
            SfError(
                "INVALID_FIELD",
                f"The external ID field {ext_field.name} is in the URL; it must not also be in "
                "the request body.",
                (ext_field.name,),
            ),
        )
    if org.faults.take("unable_to_lock_row", method, request.path):
        return Reply(400, [_lock_error().as_request_error()])
    outcome = org.upsert(sobj, ext_field, value, body, [])
    if outcome.matches:
        return _multiple(sobj, version, outcome.matches)
    if not outcome.success:
        if outcome.errors[0].code == "NOT_FOUND":
            return Reply(404, [outcome.errors[0].as_request_error()])
        return _failed(outcome)
    result = {"id": outcome.id, "success": True, "errors": [], "created": outcome.created}
    return Reply(201 if outcome.created else 200, result)


# sObject Collections ---------------------------------------------------------------------

_ROLLED_BACK = SfError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone "
    "header",
)


def _collections(org: Org, request: Request, version: str, parts: list[str]) -> Reply:
    method = request.method
    if not parts:
        if method == "DELETE":
            return _delete_collection(org, request)
        if method not in ("POST", "PATCH"):
            return _method_not_allowed(method, "POST,PATCH,DELETE")
        records, all_or_none = _collection_body(request)
        return _run_collection(
            org, request, records, all_or_none, _create_or_update(method), upsert=False
        )
    if len(parts) != 2:
        raise not_found()
    if method != "PATCH":
        return _method_not_allowed(method, "PATCH")
    sobj = check_sobject(org, parts[0])
    ext_field = external_field(sobj, parts[1])
    records, all_or_none = _collection_body(request)
    for record in records:
        if _record_type(org, record).name != sobj.name:
            raise RequestFailed(
                400,
                SfError(
                    "INVALID_TYPE",
                    f"Record type {record['attributes']['type']} does not "
                    f"match the type {sobj.name} in the URL",
                ),
            )
    return _run_collection(
        org, request, records, all_or_none, _upserter(sobj, ext_field, records), upsert=True
    )


def _collection_body(request: Request) -> tuple[list[dict], bool]:
    body = request.json()
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise json_parser_error("Expected an object with a records list at [line:1, column:1]")
    records = body["records"]
    if len(records) > COLLECTION_LIMIT:
        raise RequestFailed(
            400,
            SfError(
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records into "
                "this call",
            ),
        )
    if not records:
        raise RequestFailed(400, SfError("INVALID_FIELD", "No records were provided"))
    for record in records:
        if not isinstance(record, dict):
            raise json_parser_error("Each record must be a JSON object at [line:1, column:1]")
        attributes = record.get("attributes")
        if not isinstance(attributes, dict) or not attributes.get("type"):
            raise RequestFailed(
                400,
                SfError(
                    "INVALID_TYPE",
                    "When using sObject Collections, each record must specify its type in "
                    "attributes.type",
                ),
            )
    return records, bool(body.get("allOrNone", False))


def _record_type(org: Org, record: dict) -> SObject:
    name = record["attributes"]["type"]
    sobj = org.schema.get(name)
    if sobj is None:
        raise RequestFailed(
            400, SfError("INVALID_TYPE", f"sObject type '{name}' is not supported.")
        )
    return sobj


def _create_or_update(method: str):
    def write(org: Org, index: int, record: dict, journal: list) -> Outcome:
        sobj = _record_type(org, record)
        if method == "POST":
            return org.create(sobj, record, journal)
        body = {k: v for k, v in record.items() if k != "Id"}
        if not record.get("Id"):
            return Outcome(
                errors=[SfError("MISSING_ARGUMENT", "Id not specified in an update call", ())]
            )
        return org.update(sobj, record["Id"], body, journal)

    return write


def _upserter(sobj: SObject, ext_field: Field, records: list[dict]):
    counts: dict[object, int] = {}
    keys = []
    for record in records:
        raw = next((v for k, v in record.items() if sobj.field(k) is ext_field), None)
        key = None
        if raw is not None:
            value = _external_value(ext_field, raw)
            key = (
                value.casefold()
                if isinstance(value, str) and not ext_field.case_sensitive
                else value
            )
            counts[key] = counts.get(key, 0) + 1
        keys.append((key, raw))

    def write(org: Org, index: int, record: dict, journal: list) -> Outcome:
        key, raw = keys[index]
        if raw is None:
            return Outcome(
                errors=[
                    SfError(
                        "MISSING_ARGUMENT", f"{ext_field.name} not specified", (ext_field.name,)
                    )
                ]
            )
        if counts[key] > 1:
            return Outcome(
                errors=[
                    SfError(
                        "DUPLICATE_EXTERNAL_ID",
                        f"Duplicate external id specified: {raw}",
                        (ext_field.name,),
                    )
                ]
            )
        body = {k: v for k, v in record.items() if sobj.field(k) is not ext_field}
        outcome = org.upsert(sobj, ext_field, _external_value(ext_field, raw), body, journal)
        if outcome.matches:
            return Outcome(
                errors=[
                    SfError(
                        "DUPLICATE_EXTERNAL_ID",
                        f"{ext_field.name}: more than one record found for external id field: "
                        f"{outcome.matches}",
                        (ext_field.name,),
                    )
                ]
            )
        return outcome

    return write


def _locked(fault: Fault | None, index: int) -> bool:
    return fault is not None and (fault.records is None or index < fault.records)


def _run_collection(
    org: Org, request: Request, records: list[dict], all_or_none: bool, write, *, upsert: bool
) -> Reply:
    """Write each record; with ``all_or_none`` one failure undoes every write of the call."""
    lock_fault = org.faults.take("unable_to_lock_row", request.method, request.path)
    journal: list = []
    outcomes: list[Outcome] = []
    try:
        for index, record in enumerate(records):
            if _locked(lock_fault, index):
                outcomes.append(Outcome(errors=[_lock_error()]))
                continue
            outcomes.append(write(org, index, record, journal))
    except RequestFailed:
        org.store.rollback(journal)
        raise
    failed = any(not o.success for o in outcomes)
    if all_or_none and failed:
        org.store.rollback(journal)
        outcomes = [o if not o.success else Outcome(errors=[_ROLLED_BACK]) for o in outcomes]
    return Reply(200, [_record_result(o, upsert) for o in outcomes])


def _record_result(outcome: Outcome, upsert: bool) -> dict:
    if not outcome.success:
        return {"success": False, "errors": [e.as_record_error() for e in outcome.errors]}
    result = {"id": outcome.id, "success": True, "errors": []}
    if upsert:
        result["created"] = outcome.created
    return result


def _delete_collection(org: Org, request: Request) -> Reply:
    raw_ids = [i for i in (request.query.get("ids") or "").split(",") if i]
    if not raw_ids:
        raise RequestFailed(400, SfError("MISSING_ARGUMENT", "ids parameter is required"))
    if len(raw_ids) > COLLECTION_LIMIT:
        raise RequestFailed(
            400,
            SfError(
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records",
            ),
        )
    all_or_none = (request.query.get("allOrNone") or "").lower() == "true"

    def write(org: Org, index: int, record: dict, journal: list) -> Outcome:
        normalized = ids.normalize(record["id"])
        sobj = next(
            (o for o in org.schema.objects.values() if ids.has_prefix(normalized, o.name)), None
        )
        if sobj is None:
            return Outcome(errors=[SfError("MALFORMED_ID", f"malformed id {record['id']}")])
        return org.delete(sobj, normalized, journal)

    records = [{"id": i} for i in raw_ids]
    return _run_collection(org, request, records, all_or_none, write, upsert=False)


# query ------------------------------------------------------------------------------------


def _query(org: Org, request: Request, version: str, parts: list[str]) -> Reply:
    include_deleted = parts[0] == "queryAll"
    if len(parts) == 2:
        return _query_more(org, version, parts[1])
    if len(parts) != 1:
        raise not_found()
    text = request.query.get("q")
    if not text:
        raise RequestFailed(400, SfError("MALFORMED_QUERY", "A query string has to be specified"))
    result = soql.run(org, text, include_deleted=include_deleted, version=version)
    batch = _batch_size(org, request)
    if len(result.records) <= batch:
        return Reply(200, {"totalSize": result.total, "done": True, "records": result.records})
    while len(org.cursors) >= MAX_CURSORS:
        org.cursors.pop(next(iter(org.cursors)))
    locator = ids.KEY_PREFIXES["QueryLocator"] + secrets.token_hex(8)[:12] + "EMU"
    org.cursors[locator] = {"records": result.records, "batch": batch, "kind": parts[0]}
    return _page(org, version, locator, 0)


def _batch_size(org: Org, request: Request) -> int:
    options = request.header("sforce-query-options") or ""
    match = re.search(r"batchSize\s*=\s*(\d+)", options)
    if match:
        return max(200, min(2000, int(match.group(1))))
    return org.page_size


def _query_more(org: Org, version: str, locator_text: str) -> Reply:
    locator, _, offset = locator_text.rpartition("-")
    cursor = org.cursors.get(locator)
    if cursor is None or not offset.isdigit() or int(offset) > len(cursor["records"]):
        raise RequestFailed(400, SfError("INVALID_QUERY_LOCATOR", "invalid query locator"))
    return _page(org, version, locator, int(offset))


def _page(org: Org, version: str, locator: str, offset: int) -> Reply:
    cursor = org.cursors[locator]
    records, batch = cursor["records"], cursor["batch"]
    page = records[offset : offset + batch]
    done = offset + batch >= len(records)
    body: dict = {"totalSize": len(records), "done": done, "records": page}
    if done:
        org.cursors.pop(locator, None)
    else:
        body["nextRecordsUrl"] = (
            f"/services/data/v{version}/{cursor['kind']}/{locator}-{offset + batch}"
        )
    return Reply(200, body)
