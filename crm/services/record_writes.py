"""Writes of any number of records at the fewest API calls, each call a SyncAttempt: the one
dispatcher between sObject Collections, `/composite` and Bulk API 2.0 jobs, used by the
Contract push (crm.services.flush) and by products and renewals alike.

- up to 200 records: one collection call;
- more: groups of up to five collection requests of 200, each group sent as one
  `/composite` request, which Salesforce counts as ONE API call toward the daily limit
  (REST API Developer Guide, "Composite": at most 25 subrequests, at most 5 of them
  collections or queries), so up to 1,000 records cost one call;
- more than BULK_BREAK_EVEN such calls, or whenever the caller says so (the flush's Bulk API
  batches, chosen in crm.services.flush.use_bulk), one Bulk API 2.0 job: about five calls
  whatever its size, but jobs have daily limits of their own and take seconds to finish, so
  they are kept for volumes where they save calls.

Failures come back per record, in order; a failure of the org or the network marks the run
stopped so the rest of the batch is not tried.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, Protocol

from django.conf import settings

from crm.salesforce.client import COLLECTION_LIMIT, COMPOSITE_COLLECTIONS, SalesforceClient
from crm.salesforce.errors import NOT_TRIED, SalesforceError
from crm.salesforce.results import RecordResult
from crm.services.attempts import record_call

# A Bulk API job costs create, upload, close, at least one poll and one or two result files.
BULK_BREAK_EVEN = 5
# Records one collections call carries: one collection, or one /composite of five.
COMPOSITE_RECORDS = COLLECTION_LIMIT * COMPOSITE_COLLECTIONS
QUERY_CHUNK = 300  # ids per `IN (...)`: keeps the query URL well under the 16 KB limit


class Run(Protocol):
    """What a write needs from the flush's batch (crm.services.flush._Batch)."""

    client: SalesforceClient
    report: Any  # FlushReport: its `stopped` says the org or network is failing


def _chunks(values: Sequence, size: int = COLLECTION_LIMIT):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _not_tried(refs: Sequence[str], reason: str) -> list[RecordResult]:
    error = SalesforceError(f"not tried: {reason}", code=NOT_TRIED, permanent=False)
    return [RecordResult(ref=ref, success=False, error=error) for ref in refs]


def _failed(run: Run, exc: SalesforceError, *, sobject: str, operation: str,
            refs: Sequence[str]) -> list[RecordResult]:
    if exc.stops_run:
        run.report.stopped = f"{sobject} {operation} failed: {exc}"
    return [RecordResult(ref=ref, success=False, error=exc) for ref in refs]


def write(
    run: Run, *, operation: str, sobject: str, records: Sequence[dict], refs: Sequence[str],
    external_field: str = "", match: tuple[str, ...] = (), bulk: bool = False,
) -> list[RecordResult]:
    """`operation` is upsert (by `external_field`), update (by Id), insert (results matched
    by the `match` columns in bulk) or delete (`records` are {"Id": ...}). `bulk` asks for a
    Bulk API job whatever the size. Results in order."""
    if not records:
        return []
    if run.report.stopped:
        return _not_tried(refs, run.report.stopped)
    if bulk or -(-len(records) // COMPOSITE_RECORDS) > BULK_BREAK_EVEN:
        try:
            return _bulk(run, operation=operation, sobject=sobject, records=records, refs=refs,
                         external_field=external_field, match=match)
        except SalesforceError as exc:
            return _failed(run, exc, sobject=sobject, operation=operation, refs=refs)
    results: list[RecordResult] = []
    for group, group_refs in zip(_chunks(records, COMPOSITE_RECORDS),
                                 _chunks(refs, COMPOSITE_RECORDS), strict=True):
        if run.report.stopped:
            results += _not_tried(group_refs, run.report.stopped)
            continue
        try:
            results += _collections(run, operation=operation, sobject=sobject, records=group,
                                    refs=group_refs, external_field=external_field)
        except SalesforceError as exc:
            results += _failed(run, exc, sobject=sobject, operation=operation,
                               refs=group_refs)
    return results


def _collections(run: Run, *, operation: str, sobject: str, records: Sequence[dict],
                 refs: Sequence[str], external_field: str) -> list[RecordResult]:
    """Up to COMPOSITE_RECORDS records in one call: a collection, or a /composite of them."""
    client = run.client
    if len(records) > COLLECTION_LIMIT:
        results = record_call(
            client=client, operation=f"composite_{operation}", sobject=sobject, refs=refs,
            call=partial(client.composite_collections, operation=operation, sobject=sobject,
                         parts=list(_chunks(records)), refs=list(_chunks(refs)),
                         external_field=external_field))
        # A subrequest that failed as a whole (the org, not a record) stops the run.
        stop = next((r.error for r in results if r.error is not None and r.error.status
                     and r.error.stops_run), None)
        if stop is not None:
            run.report.stopped = f"{sobject} {operation} failed: {stop}"
        return results
    if operation == "upsert":
        call = partial(client.upsert_collection, sobject=sobject,
                       external_field=external_field, records=records)
    elif operation == "update":
        call = partial(client.update_collection, sobject=sobject, records=records)
    elif operation == "insert":
        call = partial(client.create_collection, sobject=sobject, records=records, refs=refs)
    else:
        call = partial(client.delete_collection, ids=[r["Id"] for r in records])
    return record_call(client=client, operation=operation, sobject=sobject, refs=refs,
                       call=call)


def _bulk(run: Run, *, operation: str, sobject: str, records: Sequence[dict],
          refs: Sequence[str], external_field: str, match: tuple[str, ...]
          ) -> list[RecordResult]:
    client = run.client

    def step(name, step_refs, call):
        return record_call(client=client, operation=name, sobject=sobject, refs=step_refs,
                           call=call)

    timeout = settings.SUBSYNC_SF_BULK_TIMEOUT_SECONDS
    if operation == "upsert":
        results = client.bulk_upsert(sobject=sobject, external_field=external_field,
                                     records=records, step=step, timeout=timeout)
    elif operation == "update":
        results = client.bulk_update(sobject=sobject, records=records, step=step,
                                     timeout=timeout)
    elif operation == "insert":
        results = client.bulk_insert(sobject=sobject, records=records, match=match, step=step,
                                     timeout=timeout)
    else:
        results = client.bulk_delete(sobject=sobject, ids=[r["Id"] for r in records],
                                     step=step, timeout=timeout)
    # Bulk results are named by their key values; give them the caller's refs back.
    return [RecordResult(ref=ref, success=r.success, id=r.id, created=r.created, error=r.error)
            for ref, r in zip(refs, results, strict=True)]


def query(run: Run, *, sobject: str, soql: str) -> list[dict]:
    """One SOQL query (its pages included), logged; raises SalesforceError."""
    if run.report.stopped:
        raise SalesforceError(f"not tried: {run.report.stopped}", code=NOT_TRIED,
                              permanent=False)
    try:
        return record_call(client=run.client, operation="query", sobject=sobject,
                           call=lambda: run.client.query_all(soql))
    except SalesforceError as exc:
        if exc.stops_run:
            run.report.stopped = f"{sobject} query failed: {exc}"
        raise


def query_in(run: Run, *, sobject: str, select: str, field: str, values: Sequence[str],
             where: str = "") -> list[dict]:
    """`SELECT <select> FROM <sobject> WHERE <field> IN (...)`, in chunks of ids."""
    rows: list[dict] = []
    for part in _chunks(list(values), QUERY_CHUNK):
        quoted = ",".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in part)
        extra = f" AND {where}" if where else ""
        # Names are ours (constants); values are quoted and escaped above.
        soql = f"SELECT {select} FROM {sobject} WHERE {field} IN ({quoted}){extra}"  # noqa: S608
        rows += query(run, sobject=sobject, soql=soql)
    return rows
