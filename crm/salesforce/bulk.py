"""Bulk API 2.0 ingest data: records to CSV, result CSVs back to one result per record.

Pure functions, no I/O: the calls live in `SalesforceClient.bulk_upsert`/`bulk_update`.
Why they need care:
- in a Bulk CSV an empty cell leaves the field alone and `#N/A` clears it, so a value we want
  to be empty (a cancellation date that went away) must be written `#N/A`, while a column
  only some records carry (AccountId on contracts that are not Activated yet) is left empty
  for the others;
- Salesforce does not keep the order of the records in its result files, so results are
  matched back to the records by the key column (the external id, or Id for updates) and
  returned in the order the records were given, like sObject Collections do; a record in
  neither file (an aborted or half-processed job) comes back as a transient failure;
- a row error is one text cell, `CODE:message:Field1,Field2 --`, possibly several in a row.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from crm.salesforce import errors
from crm.salesforce.errors import SalesforceError
from crm.salesforce.results import RecordResult

NULL = "#N/A"
# Terminal states of an ingest job.
DONE_STATES = frozenset({"JobComplete", "Failed", "Aborted"})


def cell(value: Any) -> str:
    """One CSV cell for a value meant to be stored (None and "" clear the field)."""
    if value is None or value == "":
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return str(value)


def encode(records: Sequence[Mapping[str, Any]], *, key: str) -> str:
    """CSV with `key` first, then every other column in first-seen order (LF line ends)."""
    columns = [key]
    for record in records:
        for name in record:
            if name not in columns:
                columns.append(name)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([cell(record[name]) if name in record else "" for name in columns])
    return out.getvalue()


def decode(text: str) -> list[dict[str, str]]:
    """Rows of a result CSV as dicts; a malformed file is a transient UNEXPECTED_RESPONSE."""
    try:
        return list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise SalesforceError(f"unreadable Bulk API result file: {exc}",
                              code="UNEXPECTED_RESPONSE", permanent=False) from None


def row_error(text: str) -> SalesforceError:
    """Classify an `sf__Error` cell: `CODE:message:fields --`, repeated when several."""
    parsed = []
    for chunk in (part.strip() for part in (text or "").split(" --")):
        chunk = chunk.removesuffix("--").strip()
        if not chunk:
            continue
        code, sep, rest = chunk.partition(":")
        if not sep or " " in code:
            parsed.append(("", chunk, ()))
            continue
        message, sep, fields = rest.rpartition(":")
        if not sep or " " in fields.strip():
            message, fields = rest, ""
        names = tuple(name.strip() for name in fields.split(",") if name.strip())
        parsed.append((code.strip(), message.strip(), names))
    if not parsed:
        return errors.from_error("UNKNOWN_ERROR", "the bulk job gave no reason")
    code, _, fields = parsed[0]
    message = "; ".join(m for _, m, _ in parsed if m)
    return errors.from_error(code, message, fields=fields)


def job_failure(info: Mapping[str, Any]) -> SalesforceError:
    """A job that ended Failed or Aborted: every record of it failed the same way.

    `InvalidBatch`/`InvalidJob` (a column the org lacks, a bad key field) will fail again
    with the same data: permanent. Anything else (aborted by an admin, an outage) is retried.
    """
    state = str(info.get("state") or "")
    message = str(info.get("errorMessage") or f"bulk job {info.get('id')} ended {state}")
    invalid = message.startswith(("InvalidBatch", "InvalidJob"))
    return SalesforceError(
        f"Bulk API job {info.get('id')} {state.lower() or 'failed'}: {message}",
        code="BULK_JOB_FAILED" if state == "Failed" else "BULK_JOB_ABORTED",
        permanent=invalid,
    )


def key_of(row: Mapping[str, Any], key: str | tuple[str, ...]) -> str:
    """The value identifying a record or result row: its key column, or several joined by
    "|" (an insert has no key: its results are matched by columns that tell records apart).
    """
    if isinstance(key, str):
        return str(row.get(key) or "")
    return "|".join(str(row.get(name) or "") for name in key)


def match(
    refs: Sequence[str], *, key: str | tuple[str, ...], job_id: str,
    successes: Sequence[Mapping[str, str]], failures: Sequence[Mapping[str, str]],
) -> list[RecordResult]:
    """One RecordResult per ref, in the order of `refs`, from the two result files."""
    waiting: dict[str, list[int]] = defaultdict(list)
    for index, ref in enumerate(refs):
        waiting[ref].append(index)
    out: list[RecordResult | None] = [None] * len(refs)

    def place(row: Mapping[str, str], result_for) -> None:
        indices = waiting.get(key_of(row, key))
        if indices:
            index = indices.pop(0)
            out[index] = result_for(refs[index])

    for row in successes:
        place(row, lambda ref, row=row: RecordResult(
            ref=ref, success=True, id=row.get("sf__Id") or None,
            created=str(row.get("sf__Created") or "").lower() == "true"))
    for row in failures:
        place(row, lambda ref, row=row: RecordResult(
            ref=ref, success=False, id=row.get("sf__Id") or None,
            error=row_error(str(row.get("sf__Error") or ""))))
    missing = SalesforceError(f"not processed by Bulk API job {job_id}",
                              code="NOT_PROCESSED", permanent=False)
    return [result if result is not None else RecordResult(ref=ref, success=False, error=missing)
            for ref, result in zip(refs, out, strict=True)]
