"""The one way subsync talks to Salesforce: a thin wrapper over simple-salesforce.

What it adds to simple-salesforce, and why:
- it logs itself in (crm.salesforce.auth) and logs in again once when the session expires
  mid-run, because a session-id instance of simple-salesforce cannot refresh itself;
- every request goes through one `requests.Session` that trusts only the configured CA
  (`trust_env = False`: these machines set REQUESTS_CA_BUNDLE, which would otherwise win)
  and has a timeout, so a hung org cannot hang a worker;
- it reads `Sforce-Limit-Info` from every response, failed ones included (simple-salesforce
  only parses successful ones), and hands the usage to a sink that persists it;
- every failure comes out as one typed `SalesforceError` (transient or permanent), and the
  per-record results of sObject Collections as `RecordResult`s (crm.salesforce.results)
  classified one by one.

Bulk API 2.0 (`bulk_upsert`, `bulk_update`, for backfills and reconciliation) is built on
`_call` too, so it inherits re-login, timeouts, usage and error classification; each HTTP
request of a job goes through an optional `step` hook, which the engine uses to log every
request as a SyncAttempt.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError as LibraryError
from simple_salesforce.exceptions import SalesforceExpiredSession
from simple_salesforce.util import call_salesforce

from crm.salesforce import bulk, errors
from crm.salesforce.auth import fetch_token
from crm.salesforce.config import SalesforceConfig
from crm.salesforce.errors import SalesforceError
from crm.salesforce.results import RecordResult
from crm.salesforce.usage import ApiUsage, parse_limit_info

log = logging.getLogger(__name__)

COLLECTION_LIMIT = 200
# One `/composite` request carries at most 25 subrequests, at most 5 of them sObject
# Collections or queries, and counts as one API call (REST API Developer Guide, "Composite").
COMPOSITE_COLLECTIONS = 5
# Bulk API 2.0 accepts up to 150 MB per upload; stay well below with our small records.
BULK_LIMIT = 100_000
# A job is polled right after it is closed, then after these pauses (seconds): quick at first,
# since small jobs finish in a second or two, then every 10 s.
BULK_POLL_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)

T = TypeVar("T")
# step(operation, refs, call) runs one HTTP request of a bulk job; the default just calls it.
Step = Callable[[str, Sequence[str], Callable[[], Any]], Any]


def _direct(operation: str, refs: Sequence[str], call: Callable[[], T]) -> T:
    return call()


class _Session(requests.Session):
    """A session with a default timeout: simple-salesforce passes none on most calls."""

    def __init__(self, *, timeout: float):
        super().__init__()
        self.default_timeout = timeout

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, url, *args, **kwargs)


class _SessionExpired(Exception):
    pass


class SalesforceClient:
    """Calls to one org. Not thread-safe: use one client per thread (see crm.salesforce.factory).

    `usage_sink` is called with the latest `ApiUsage` after every REST response that carries
    one, and `login_sink` with the org's instance URL after every login (for links to records);
    a failing sink is logged and otherwise ignored (both are advisory).
    """

    def __init__(
        self,
        *,
        config: SalesforceConfig,
        usage_sink: Callable[[ApiUsage], None] | None = None,
        login_sink: Callable[[str], None] | None = None,
    ):
        self.config = config
        self.usage: ApiUsage | None = None
        self.last_status: int | None = None
        # REST API requests answered (the ones Salesforce counts against the daily limit,
        # refused ones included); logins are not counted.
        self.api_calls = 0
        self.instance_url: str | None = None
        self._usage_sink = usage_sink
        self._login_sink = login_sink
        self._session = self._make_session()
        self._sf: Salesforce | None = None

    # session and login -----------------------------------------------------------------

    def _make_session(self) -> requests.Session:
        session = _Session(timeout=self.config.timeout)
        session.trust_env = False
        if self.config.ca_bundle:
            session.verify = self.config.ca_bundle
        session.hooks["response"].append(self._observe)
        return session

    def _observe(self, response: requests.Response, *args, **kwargs) -> None:
        self.last_status = response.status_code
        if "/services/data/" in (response.url or ""):
            self.api_calls += 1
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
        if usage is None:
            return
        self.usage = usage
        if self._usage_sink is not None:
            try:
                self._usage_sink(usage)
            except Exception:
                log.exception("could not record Salesforce API usage")

    def authenticate(self) -> None:
        """Log in now (normally done on the first call); raises SalesforceError."""
        token = fetch_token(config=self.config, session=self._session)
        self.instance_url = token.instance_url
        self._sf = Salesforce(
            instance_url=token.instance_url,
            session_id=token.access_token,
            session=self._session,
            version=self.config.api_version,
        )
        log.info("logged in to Salesforce", extra={"instance_url": token.instance_url,
                                                    "auth_flow": self.config.auth_flow})
        if self._login_sink is not None:
            try:
                self._login_sink(token.instance_url)
            except Exception:
                log.exception("could not record the Salesforce instance URL")

    @property
    def authenticated(self) -> bool:
        return self._sf is not None

    def close(self) -> None:
        self._session.close()

    # the one call path -----------------------------------------------------------------

    def _call(self, operation: Callable[[Salesforce], Any]) -> Any:
        """Run `operation` against the org, logging in again once if the session expired."""
        if self._sf is None:
            self.authenticate()
        try:
            return self._translated(operation)
        except _SessionExpired:
            log.info("Salesforce session expired; logging in again")
            self.authenticate()
            try:
                return self._translated(operation)
            except _SessionExpired:
                raise SalesforceError(
                    "Salesforce refused a session it had just issued",
                    code="INVALID_SESSION_ID", permanent=False, status=401,
                ) from None

    def _translated(self, operation: Callable[[Salesforce], Any]) -> Any:
        try:
            return operation(self._sf)
        except SalesforceExpiredSession:
            raise _SessionExpired() from None
        except LibraryError as exc:
            raise self._limited_by_usage(errors.from_body(exc.status, exc.content)) from None
        except requests.Timeout:
            raise SalesforceError(
                f"no answer from Salesforce within {self.config.timeout:g} s",
                code="TIMEOUT", permanent=False,
            ) from None
        except requests.exceptions.JSONDecodeError as exc:
            # Before RequestException, which it also is: something answered, not in JSON (a
            # proxy's page); not a network failure.
            raise self._unexpected(exc) from None
        except requests.RequestException as exc:
            raise SalesforceError(
                f"cannot reach Salesforce: {type(exc).__name__}: {_short(exc)}",
                code="CONNECTION_ERROR", permanent=False,
            ) from None
        except ValueError as exc:  # a body that is not JSON (a proxy's error page)
            raise self._unexpected(exc) from None

    def _limited_by_usage(self, error: SalesforceError) -> SalesforceError:
        """REQUEST_LIMIT_EXCEEDED waits an hour (errors.REQUEST_LIMIT_BACKOFF_SECONDS) only when
        the usage Salesforce sent with it shows the daily limit used up. Below it, another
        limit refused the call (concurrent long-running requests), and the usual backoff
        applies: the fault campaign found a whole batch of new Contracts held for an hour by
        one such refusal while the org had nearly all of its daily calls left."""
        if (error.code == "REQUEST_LIMIT_EXCEEDED" and self.usage is not None
                and self.usage.used < self.usage.limit):
            error.retry_after = None
        return error

    def _unexpected(self, exc: Exception) -> SalesforceError:
        return SalesforceError(f"unexpected response from Salesforce: {_short(exc)}",
                               code="UNEXPECTED_RESPONSE", permanent=False,
                               status=self.last_status)

    # operations ------------------------------------------------------------------------

    def upsert_collection(
        self,
        *,
        sobject: str,
        external_field: str,
        records: Sequence[dict],
        all_or_none: bool = False,
    ) -> list[RecordResult]:
        """Create or update up to 200 records by external id (one API call).

        Each record must carry `external_field`; results come back in the same order.
        """
        refs = [str(record.get(external_field) or "") for record in records]
        return self._collection("upsert", sobject=sobject, records=records, refs=refs,
                                external_field=external_field, all_or_none=all_or_none)

    def update_collection(
        self, *, sobject: str, records: Sequence[dict], all_or_none: bool = False
    ) -> list[RecordResult]:
        """Update up to 200 records by Id (one API call); each record must carry `Id`."""
        refs = [str(record.get("Id") or "") for record in records]
        return self._collection("update", sobject=sobject, records=records, refs=refs,
                                all_or_none=all_or_none)

    def create_collection(
        self, *, sobject: str, records: Sequence[dict], refs: Sequence[str],
        all_or_none: bool = False,
    ) -> list[RecordResult]:
        """Insert up to 200 records (one API call); `refs` name them in the results."""
        return self._collection("insert", sobject=sobject, records=records, refs=list(refs),
                                all_or_none=all_or_none)

    def delete_collection(self, *, ids: Sequence[str]) -> list[RecordResult]:
        """Delete up to 200 records by Id (one API call)."""
        return self._collection("delete", sobject="", records=[{"Id": i} for i in ids],
                                refs=list(ids))

    def _collection(
        self, operation: str, *, sobject: str, records: Sequence[dict], refs: list[str],
        external_field: str = "", all_or_none: bool = False,
    ) -> list[RecordResult]:
        if not records:
            return []
        method, path, body = collection_request(operation, sobject=sobject, records=records,
                                                external_field=external_field,
                                                all_or_none=all_or_none)
        data = self._call(lambda sf: sf.restful(path, method=method, json=body))
        return _record_results(data, refs, status=self.last_status)

    def composite_collections(
        self, *, operation: str, sobject: str, parts: Sequence[Sequence[dict]],
        refs: Sequence[Sequence[str]], external_field: str = "",
    ) -> list[RecordResult]:
        """Up to COMPOSITE_COLLECTIONS sObject Collections requests of up to 200 records each,
        sent as ONE `/composite` request, which Salesforce counts as one API call (REST API
        guide, "Composite": 25 subrequests at most, of which at most 5 sObject Collections or
        queries; collections inside composite since API 43.0). `allOrNone` is false at both
        levels: each record stands alone, as in a single collection call. A subrequest that
        fails as a whole fails each of its records with that error. Results in order."""
        if not 1 <= len(parts) <= COMPOSITE_COLLECTIONS or len(parts) != len(refs):
            raise ValueError(f"1 to {COMPOSITE_COLLECTIONS} parts, each with its refs")
        version = self.config.api_version
        subrequests = []
        for index, part in enumerate(parts):
            method, path, body = collection_request(operation, sobject=sobject, records=part,
                                                    external_field=external_field)
            subrequests.append({"method": method, "url": f"/services/data/v{version}/{path}",
                                "referenceId": f"part{index}",
                                **({"body": body} if body is not None else {})})
        data = self._call(lambda sf: sf.restful(
            "composite", method="POST",
            json={"allOrNone": False, "compositeRequest": subrequests}))
        answers = data.get("compositeResponse") if isinstance(data, dict) else None
        if not isinstance(answers, list) or len(answers) != len(parts):
            raise SalesforceError(
                f"expected {len(parts)} composite subresponses, got {type(answers).__name__}",
                code="UNEXPECTED_RESPONSE", permanent=False, status=self.last_status)
        results: list[RecordResult] = []
        for part_refs, answer in zip(refs, answers, strict=True):
            status = int(answer.get("httpStatusCode") or 0)
            if 200 <= status < 300:
                results += _record_results(answer.get("body"), list(part_refs), status=status)
            else:
                error = errors.from_body(status, answer.get("body"))
                results += [RecordResult(ref=ref, success=False, error=error)
                            for ref in part_refs]
        return results

    def query_all(self, soql: str) -> list[dict]:
        """Every record a SOQL query returns, following `nextRecordsUrl` pages."""
        data = self._call(lambda sf: sf.query_all(soql))
        return list(data.get("records", []))

    def describe(self, sobject: str) -> dict:
        """The describe of one sObject (fields, their types and attributes)."""
        return self._call(lambda sf: sf.restful(f"sobjects/{sobject}/describe"))

    def limits(self) -> dict:
        """The org's limits; also refreshes `usage` from the response header."""
        return self._call(lambda sf: sf.limits())

    # Bulk API 2.0 --------------------------------------------------------------------

    def bulk_upsert(
        self, *, sobject: str, external_field: str, records: Sequence[dict],
        step: Step | None = None, timeout: float = 600.0,
    ) -> list[RecordResult]:
        """Create or update any number of records by external id in one ingest job.

        About five API calls whatever the size (create, upload, close, poll until done,
        results). Results come back one per record in the order given, like
        `upsert_collection`; a job that fails as a whole raises SalesforceError.
        """
        return self._bulk_job(operation="upsert", sobject=sobject, key=external_field,
                              records=records, step=step, timeout=timeout)

    def bulk_update(
        self, *, sobject: str, records: Sequence[dict], step: Step | None = None,
        timeout: float = 600.0,
    ) -> list[RecordResult]:
        """Update any number of records by Id in one ingest job (see `bulk_upsert`)."""
        return self._bulk_job(operation="update", sobject=sobject, key="Id", records=records,
                              step=step, timeout=timeout)

    def bulk_insert(
        self, *, sobject: str, records: Sequence[dict], match: tuple[str, ...],
        step: Step | None = None, timeout: float = 600.0,
    ) -> list[RecordResult]:
        """Insert any number of records in one ingest job. Inserted records have no key, so
        results are matched back by the `match` columns, which must tell the records apart;
        each result's ref is those values joined by "|"."""
        return self._bulk_job(operation="insert", sobject=sobject, key=match, records=records,
                              step=step, timeout=timeout)

    def bulk_delete(
        self, *, sobject: str, ids: Sequence[str], step: Step | None = None,
        timeout: float = 600.0,
    ) -> list[RecordResult]:
        """Delete any number of records by Id in one ingest job."""
        return self._bulk_job(operation="delete", sobject=sobject, key="Id",
                              records=[{"Id": record_id} for record_id in ids], step=step,
                              timeout=timeout)

    def _bulk_job(
        self, *, operation: str, sobject: str, key: str | tuple[str, ...],
        records: Sequence[dict], step: Step | None, timeout: float,
    ) -> list[RecordResult]:
        if not records:
            return []
        if len(records) > BULK_LIMIT:
            raise ValueError(f"at most {BULK_LIMIT} records per bulk job")
        step = step or _direct
        name = f"bulk_{operation}"
        refs = [bulk.key_of(record, key) for record in records]
        data = bulk.encode(records, key=key if isinstance(key, str) else key[0]).encode()
        spec: dict[str, Any] = {"object": sobject, "operation": operation,
                                "contentType": "CSV", "lineEnding": "LF",
                                "columnDelimiter": "COMMA"}
        if operation == "upsert":
            spec["externalIdFieldName"] = key
        job = step(f"{name}.create_job", (), lambda: self._call(
            lambda sf: sf.restful("jobs/ingest", method="POST", json=spec)))
        job_id = str((job or {}).get("id") or "")
        if not job_id:
            raise SalesforceError("Bulk API job creation returned no job id",
                                  code="UNEXPECTED_RESPONSE", permanent=False)
        path = f"jobs/ingest/{job_id}"
        try:
            step(f"{name}.upload", refs, lambda: self._call(
                lambda sf: _send(sf, "PUT", f"{path}/batches", data=data,
                                 content_type="text/csv")))
            step(f"{name}.close", (), lambda: self._call(
                lambda sf: sf.restful(path, method="PATCH", json={"state": "UploadComplete"})))
        except SalesforceError:
            # Do not leave an Open job behind (they count against the org's job limits).
            with contextlib.suppress(SalesforceError):
                step(f"{name}.abort", (), lambda: self._call(
                    lambda sf: sf.restful(path, method="PATCH", json={"state": "Aborted"})))
            raise
        info = self._wait_for_job(path, name=name, step=step, timeout=timeout)
        if info.get("state") != "JobComplete":
            raise bulk.job_failure(info)
        return step(f"{name}.results", (), lambda: self._bulk_results(
            path, info=info, refs=refs, key=key, job_id=job_id))

    def _wait_for_job(self, path: str, *, name: str, step: Step, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        polls = 0
        while True:
            polls += 1
            info = step(f"{name}.poll", (), lambda: self._call(lambda sf: sf.restful(path)))
            info = dict(info or {})
            state = str(info.get("state") or "")
            if state in bulk.DONE_STATES:
                return info
            if time.monotonic() >= deadline:
                raise SalesforceError(
                    f"Bulk API job {path.rsplit('/', 1)[-1]} still {state or 'unknown'} after "
                    f"{timeout:g} s; its records are retried later (upserts are idempotent)",
                    code="BULK_TIMEOUT", permanent=False)
            delay = BULK_POLL_DELAYS[min(polls, len(BULK_POLL_DELAYS)) - 1]
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))

    def _bulk_results(
        self, path: str, *, info: Mapping[str, Any], refs: list[str],
        key: str | tuple[str, ...], job_id: str,
    ) -> list[RecordResult]:
        """Download the result files that can have rows (one or two calls)."""
        failed = _count(info.get("numberRecordsFailed"))
        processed = _count(info.get("numberRecordsProcessed"))
        successes: list[dict[str, str]] = []
        failures: list[dict[str, str]] = []
        if processed is None or failed is None or processed > failed:
            successes = bulk.decode(self._call(
                lambda sf: _send(sf, "GET", f"{path}/successfulResults/", accept="text/csv")
            ).text)
        if failed is None or failed > 0:
            failures = bulk.decode(self._call(
                lambda sf: _send(sf, "GET", f"{path}/failedResults/", accept="text/csv")
            ).text)
        return bulk.match(refs, key=key, job_id=job_id, successes=successes, failures=failures)


def _send(
    sf: Salesforce, method: str, path: str, *, data: bytes | None = None,
    content_type: str | None = None, accept: str | None = None,
) -> requests.Response:
    """A raw request under the org's REST base URL (CSV in or out), through simple-salesforce's
    own request helper so failures come out as its typed exceptions."""
    headers = dict(sf.headers)
    if content_type:
        headers["Content-Type"] = content_type
    if accept:
        headers["Accept"] = accept
    return call_salesforce(url=sf.base_url + path, method=method, session=sf.session,
                           headers=headers, data=data)


def collection_request(
    operation: str, *, sobject: str, records: Sequence[dict], external_field: str = "",
    all_or_none: bool = False,
) -> tuple[str, str, dict | None]:
    """(method, path under the versioned REST base, JSON body) of one sObject Collections
    request: upsert by `external_field`, update by Id, insert, or delete (records {"Id"})."""
    _check_size(records)
    if operation == "delete":
        ids = ",".join(str(record["Id"]) for record in records)
        return "DELETE", f"composite/sobjects?ids={ids}&allOrNone=false", None
    body = {"allOrNone": all_or_none,
            "records": [{"attributes": {"type": sobject}, **record} for record in records]}
    if operation == "upsert":
        return "PATCH", f"composite/sobjects/{sobject}/{external_field}", body
    if operation == "update":
        return "PATCH", "composite/sobjects", body
    if operation == "insert":
        return "POST", "composite/sobjects", body
    raise ValueError(f"unknown collection operation {operation!r}")


def _count(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _check_size(records: Sequence[dict]) -> None:
    if len(records) > COLLECTION_LIMIT:
        raise ValueError(f"at most {COLLECTION_LIMIT} records per collection call")


def _short(exc: Exception) -> str:
    return str(exc)[:300]


def _record_results(data: Any, refs: list[str], *, status: int | None) -> list[RecordResult]:
    if not isinstance(data, list) or len(data) != len(refs):
        raise SalesforceError(
            f"expected {len(refs)} record results, got {type(data).__name__}"
            f"{f' of {len(data)}' if isinstance(data, list) else ''}",
            code="UNEXPECTED_RESPONSE", permanent=False, status=status,
        )
    results = []
    for ref, item in zip(refs, data, strict=True):
        if item.get("success"):
            results.append(
                RecordResult(ref=ref, success=True, id=item.get("id"), created=item.get("created"))
            )
            continue
        problems = item.get("errors") or [{}]
        first = problems[0]
        error = errors.from_error(
            str(first.get("statusCode") or first.get("errorCode") or ""),
            "; ".join(str(p.get("message") or "") for p in problems if p.get("message")),
            fields=tuple(first.get("fields") or ()),
        )
        results.append(RecordResult(ref=ref, success=False, id=item.get("id"), error=error))
    return results
