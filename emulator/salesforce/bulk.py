"""Bulk API 2.0: ingest jobs (insert, update, upsert, delete) and query jobs.

Ingest follows the real life cycle (Open -> UploadComplete -> JobComplete, or Aborted /
Failed) and row semantics: an empty cell leaves a field alone, ``#N/A`` clears it, a bad
cell fails only its row, an unknown column fails the whole job. Jobs are processed as
soon as the upload is marked complete, so a client polling for completion finishes at
once. Each row goes through the same ``Org`` write path as the REST API.
"""

from __future__ import annotations

import csv
import io

from . import ids, soql
from .errors import RequestFailed, SfError, not_found
from .messages import CSV_TYPE, Reply, Request
from .org import Org, Outcome

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
_INTERNAL = ("data", "success", "failed", "unprocessed", "header", "results")


def _job_error(message: str, code: str = "INVALIDJOB", status: int = 400) -> RequestFailed:
    return RequestFailed(status, SfError(code, message))


def handle(org: Org, request: Request, version: str, parts: list[str]) -> Reply:
    """Route ``/jobs/ingest/...`` and ``/jobs/query/...``."""
    if not parts or parts[0] not in ("ingest", "query"):
        raise not_found()
    kind, rest, method = parts[0], parts[1:], request.method
    if not rest:
        if method == "POST":
            return _create(org, request, version, kind)
        if method == "GET":
            jobs = [_public(j) for j in org.jobs.values() if j["kind"] == kind]
            return Reply(200, {"done": True, "records": jobs, "nextRecordsUrl": None})
        raise _job_error(f"HTTP Method '{method}' not allowed", "METHOD_NOT_ALLOWED", 405)
    job = org.jobs.get(rest[0])
    if job is None or job["kind"] != kind:
        raise not_found()
    if len(rest) == 1:
        if method == "GET":
            return Reply(200, _public(job))
        if method == "PATCH":
            return _change_state(org, request, job)
        if method == "DELETE":
            if job["state"] in ("Open", "InProgress"):
                raise _job_error(
                    "Job must be closed or aborted before it is deleted", "INVALIDSTATUS"
                )
            del org.jobs[job["id"]]
            return Reply(204)
        raise _job_error(f"HTTP Method '{method}' not allowed", "METHOD_NOT_ALLOWED", 405)
    action = rest[1]
    if kind == "ingest" and action == "batches" and method == "PUT":
        return _upload(org, request, job)
    if (
        method == "GET"
        and kind == "ingest"
        and action
        in ("successfulResults", "failedResults", "unprocessedrecords", "unprocessedRecords")
    ):
        return _ingest_results(job, action.lower())
    if method == "GET" and kind == "query" and action == "results":
        return _query_results(request, job)
    raise not_found()


def _public(job: dict) -> dict:
    return {k: v for k, v in job.items() if k not in _INTERNAL and k != "kind"}


def _create(org: Org, request: Request, version: str, kind: str) -> Reply:
    spec = request.json()
    if not isinstance(spec, dict):
        raise _job_error("Job definition must be a JSON object")
    delimiter = spec.get("columnDelimiter", "COMMA")
    line_ending = spec.get("lineEnding", "LF")
    if delimiter not in DELIMITERS:
        raise _job_error(f"Invalid column delimiter: {delimiter}")
    if line_ending not in LINE_ENDINGS:
        raise _job_error(f"Invalid line ending: {line_ending}")
    if spec.get("contentType", "CSV") != "CSV":
        raise _job_error(f"Invalid content type: {spec.get('contentType')}")
    job_id = org.new_id("Job")
    now = org.now()
    job = {
        "id": job_id,
        "kind": kind,
        "operation": spec.get("operation"),
        "createdById": org.user_id,
        "createdDate": now,
        "systemModstamp": now,
        "state": "Open",
        "concurrencyMode": "Parallel",
        "contentType": "CSV",
        "apiVersion": float(version),
        "lineEnding": line_ending,
        "columnDelimiter": delimiter,
        "numberRecordsProcessed": 0,
        "retries": 0,
        "totalProcessingTime": 0,
    }
    if kind == "query":
        _create_query(org, spec, job, version)
    else:
        _check_ingest(org, spec, job)
        job["contentUrl"] = f"services/data/v{version}/jobs/ingest/{job_id}/batches"
    org.jobs[job_id] = job
    return Reply(200, _public(job))


def _check_ingest(org: Org, spec: dict, job: dict) -> None:
    sobj = org.schema.get(str(spec.get("object") or ""))
    if sobj is None:
        raise _job_error(f"InvalidJob : Invalid object: {spec.get('object')}")
    operation = spec.get("operation")
    if operation not in OPERATIONS:
        raise _job_error(f"InvalidJob : Invalid operation: {operation}")
    job.update(
        object=sobj.name,
        numberRecordsFailed=0,
        jobType="V2Ingest",
        apiActiveProcessingTime=0,
        apexProcessingTime=0,
    )
    if operation == "upsert":
        name = spec.get("externalIdFieldName")
        if not name:
            raise _job_error(
                f"InvalidJob : External ID was blank for {sobj.name}. An External ID must be "
                "specified for upsert."
            )
        found = sobj.field(name)
        if found is None or not (found.external_id or found.name == "Id"):
            raise _job_error(
                f"InvalidJob : Field name provided, {name} is not an External ID or indexed "
                f"field for {sobj.name}"
            )
        job["externalIdFieldName"] = found.name
    else:
        job["externalIdFieldName"] = "Id"
    job.update(data=None, success=[], failed=[], unprocessed=[], header=[])


def _upload(org: Org, request: Request, job: dict) -> Reply:
    if job["state"] != "Open" or job["data"] is not None:
        raise _job_error(
            "Found multiple data uploads or the job is not Open; upload data once, then close "
            "the job",
            "INVALIDSTATUS",
            409,
        )
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    if content_type != "text/csv":
        raise _job_error(
            f"Unsupported content type: {content_type or 'none'}", "INVALIDCONTENTTYPE"
        )
    job["data"] = request.text()
    return Reply(201)


def _change_state(org: Org, request: Request, job: dict) -> Reply:
    body = request.json()
    wanted = body.get("state") if isinstance(body, dict) else None
    state = job["state"]
    if wanted == "UploadComplete" and job["kind"] == "ingest" and state == "Open":
        lock_fault = org.faults.take("unable_to_lock_row", request.method, request.path)
        job["state"] = "UploadComplete"
        reply = _public(job)
        _process(org, job, lock_fault)
        return Reply(200, reply)
    if wanted == "Aborted" and state in ("Open", "UploadComplete", "InProgress"):
        job["state"] = "Aborted"
        if job["kind"] == "ingest" and job["data"]:
            job["header"], rows = _rows(job)
            job["unprocessed"] = rows
        return Reply(200, _public(job))
    raise _job_error(f"Cannot change job state from {state} to {wanted}", "INVALIDSTATUS")


def _rows(job: dict) -> tuple[list[str], list[list[str]]]:
    reader = csv.reader(
        io.StringIO(job["data"] or "", newline=""), delimiter=DELIMITERS[job["columnDelimiter"]]
    )
    rows = [row for row in reader if row]
    return (rows[0], rows[1:]) if rows else ([], [])


def _fail_job(job: dict, message: str) -> None:
    job["state"] = "Failed"
    job["errorMessage"] = message


def _process(org: Org, job: dict, lock_fault) -> None:
    """Apply every row, recording per-row success or failure, then complete the job."""
    if not job["data"]:
        _fail_job(job, "InvalidBatch : No data was uploaded for this job")
        return
    header, rows = _rows(job)
    job["header"] = header
    sobj = org.schema.get(job["object"])
    operation = job["operation"]
    key = job["externalIdFieldName"]
    for column in header:
        name = column.split(".", 1)[0]
        if "." in column:
            relation = sobj.relationship(name)
            if relation is None:
                _fail_job(job, f"InvalidBatch : Field name not found : {column}")
                return
        elif sobj.field(column) is None:
            _fail_job(job, f"InvalidBatch : Field name not found : {column}")
            return
    canonical = [sobj.field(c).name if "." not in c else c for c in header]
    if operation in ("update", "delete", "hardDelete", "upsert") and key not in canonical:
        _fail_job(job, f"InvalidBatch : Field name not found : {key}")
        return
    if operation in ("delete", "hardDelete") and canonical != ["Id"]:
        _fail_job(job, "InvalidBatch : The 'delete' batch must contain only 'Id'")
        return
    duplicates = _duplicate_keys(sobj, canonical, rows, key) if operation == "upsert" else set()
    for index, row in enumerate(rows):
        if len(row) != len(header):
            outcome = Outcome(
                errors=[
                    SfError(
                        "TooManyFields" if len(row) > len(header) else "TooFewFields",
                        "Incorrect number of columns in this row",
                    )
                ]
            )
        elif lock_fault is not None and (lock_fault.records is None or index < lock_fault.records):
            outcome = Outcome(
                errors=[
                    SfError(
                        "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record"
                    )
                ]
            )
        else:
            outcome = _apply_row(org, sobj, operation, key, canonical, row, duplicates)
        record_id = outcome.id or ""
        if outcome.success:
            job["success"].append([record_id, "true" if outcome.created else "false", *row])
        else:
            if not record_id and key == "Id" and key in canonical:
                record_id = ids.normalize(row[canonical.index("Id")]) or ""
            error = (
                " ".join(e.as_bulk_error() for e in outcome.errors)
                if outcome.errors
                else (
                    "DUPLICATE_EXTERNAL_ID:more than one record found for external id "
                    f"{outcome.matches}: --"
                )
            )
            job["failed"].append([record_id, error, *row])
    job["numberRecordsProcessed"] = len(rows)
    job["numberRecordsFailed"] = len(job["failed"])
    job["state"] = "JobComplete"
    job["systemModstamp"] = org.now()


def _duplicate_keys(sobj, canonical: list[str], rows: list[list[str]], key: str) -> set:
    column = canonical.index(key)
    field = sobj.field(key)
    seen: dict[str, int] = {}
    for row in rows:
        if column < len(row) and row[column]:
            value = row[column] if field.case_sensitive else row[column].casefold()
            seen[value] = seen.get(value, 0) + 1
    return {value for value, count in seen.items() if count > 1}


def _apply_row(
    org: Org, sobj, operation: str, key: str, canonical: list[str], row: list[str], duplicates: set
) -> Outcome:
    body: dict = {}
    for column, cell in zip(canonical, row, strict=True):
        if cell == "":
            continue
        if "." in column:
            relation_name, ext_name = column.split(".", 1)
            body.setdefault(relation_name, {})[ext_name] = cell
        else:
            body[column] = cell
    try:
        if operation == "insert":
            return org.create(sobj, body, [], csv=True)
        raw_key = body.pop(key, None)
        if not raw_key:
            return Outcome(errors=[SfError("MISSING_ARGUMENT", f"{key} not specified", (key,))])
        if operation == "update":
            return org.update(sobj, raw_key, body, [], csv=True)
        if operation in ("delete", "hardDelete"):
            return org.delete(sobj, raw_key, [])
        ext_field = sobj.field(key)
        lookup = raw_key if ext_field.case_sensitive else raw_key.casefold()
        if lookup in duplicates:
            return Outcome(
                errors=[
                    SfError(
                        "DUPLICATE_EXTERNAL_ID",
                        f"Duplicate external id specified: {raw_key}",
                        (key,),
                    )
                ]
            )
        return org.upsert(sobj, ext_field, raw_key, body, [], csv=True)
    except RequestFailed as failure:
        return Outcome(errors=failure.errors)


def _ingest_results(job: dict, which: str) -> Reply:
    header = job.get("header") or []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=LINE_ENDINGS[job["lineEnding"]])
    if which == "successfulresults":
        writer.writerow(["sf__Id", "sf__Created", *header])
        writer.writerows(job["success"])
    elif which == "failedresults":
        writer.writerow(["sf__Id", "sf__Error", *header])
        writer.writerows(job["failed"])
    else:
        writer.writerow(header)
        writer.writerows(job["unprocessed"])
    return Reply(200, out.getvalue(), content_type=CSV_TYPE)


# query jobs ------------------------------------------------------------------------------


def _create_query(org: Org, spec: dict, job: dict, version: str) -> None:
    operation = spec.get("operation")
    if operation not in ("query", "queryAll"):
        raise _job_error(f"InvalidJob : Invalid operation: {operation}")
    text = spec.get("query")
    if not text:
        raise _job_error("InvalidJob : A query is required")
    parsed = soql.parse(org, text)
    if parsed.count_only or parsed.count_field is not None:
        raise _job_error("InvalidJob : Aggregate queries are not supported by Bulk API 2.0")
    result = soql.run(org, text, include_deleted=operation == "queryAll", version=version)
    header = [p.text for p in parsed.paths]
    rows = []
    for record in result.records:
        row = []
        for path in parsed.paths:
            if path.relation is None:
                value = record.get(path.field.name)
            else:
                nested = record.get(path.relation.relationship_name) or {}
                value = nested.get(path.field.name)
            row.append(_csv_cell(value))
        rows.append(row)
    job.update(
        object=parsed.sobject.name,
        query=text,
        jobType="V2Query",
        state="JobComplete",
        numberRecordsProcessed=len(rows),
        header=header,
        results=rows,
    )


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _query_results(request: Request, job: dict) -> Reply:
    rows = job["results"]
    locator = request.query.get("locator") or "0"
    start = int(locator) if locator.isdigit() else 0
    max_records = request.query.get("maxRecords") or ""
    size = int(max_records) if max_records.isdigit() and int(max_records) > 0 else len(rows) or 1
    page = rows[start : start + size]
    out = io.StringIO()
    writer = csv.writer(
        out,
        lineterminator=LINE_ENDINGS[job["lineEnding"]],
        quoting=csv.QUOTE_ALL,
        delimiter=DELIMITERS[job["columnDelimiter"]],
    )
    writer.writerow(job["header"])
    writer.writerows(page)
    following = start + len(page)
    headers = {
        "Sforce-NumberOfRecords": str(len(page)),
        "Sforce-Locator": str(following) if following < len(rows) else "null",
    }
    return Reply(200, out.getvalue(), headers=headers, content_type=CSV_TYPE)
