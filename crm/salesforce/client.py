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
  per-record results of sObject Collections as `RecordResult`s classified one by one.

Later additions (Bulk API 2.0 for backfills, reconciliation) are meant to be methods here,
built on `_call` so they inherit re-login, timeouts, usage and error classification.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError as LibraryError
from simple_salesforce.exceptions import SalesforceExpiredSession

from crm.salesforce import errors
from crm.salesforce.auth import fetch_token
from crm.salesforce.config import SalesforceConfig
from crm.salesforce.errors import SalesforceError
from crm.salesforce.usage import ApiUsage, parse_limit_info

log = logging.getLogger(__name__)

COLLECTION_LIMIT = 200


@dataclass(frozen=True)
class RecordResult:
    """The outcome of one record of a collection call, in the order the records were sent.

    `ref` is what identified the record in the request (its external id value, or its Id).
    """

    ref: str
    success: bool
    id: str | None = None
    created: bool | None = None
    error: SalesforceError | None = None

    def as_dict(self) -> dict:
        out: dict[str, Any] = {"ref": self.ref, "success": self.success}
        if self.id:
            out["id"] = self.id
        if self.created is not None:
            out["created"] = self.created
        if self.error is not None:
            out["error_code"] = self.error.code
            out["message"] = self.error.message
        return out


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
    one; a failing sink is logged and otherwise ignored (usage is advisory).
    """

    def __init__(
        self,
        *,
        config: SalesforceConfig,
        usage_sink: Callable[[ApiUsage], None] | None = None,
    ):
        self.config = config
        self.usage: ApiUsage | None = None
        self.last_status: int | None = None
        # REST API requests answered (the ones Salesforce counts against the daily limit,
        # refused ones included); logins are not counted.
        self.api_calls = 0
        self.instance_url: str | None = None
        self._usage_sink = usage_sink
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
            raise errors.from_body(exc.status, exc.content) from None
        except requests.Timeout:
            raise SalesforceError(
                f"no answer from Salesforce within {self.config.timeout:g} s",
                code="TIMEOUT", permanent=False,
            ) from None
        except requests.RequestException as exc:
            raise SalesforceError(
                f"cannot reach Salesforce: {type(exc).__name__}: {_short(exc)}",
                code="CONNECTION_ERROR", permanent=False,
            ) from None
        except ValueError as exc:  # a body that is not JSON (a proxy's error page)
            raise SalesforceError(
                f"unexpected response from Salesforce: {_short(exc)}",
                code="UNEXPECTED_RESPONSE", permanent=False, status=self.last_status,
            ) from None

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
        if not records:
            return []
        _check_size(records)
        refs = [str(record.get(external_field) or "") for record in records]
        body = {
            "allOrNone": all_or_none,
            "records": [{"attributes": {"type": sobject}, **record} for record in records],
        }
        data = self._call(
            lambda sf: sf.restful(
                f"composite/sobjects/{sobject}/{external_field}", method="PATCH", json=body
            )
        )
        return _record_results(data, refs, status=self.last_status)

    def update_collection(
        self, *, sobject: str, records: Sequence[dict], all_or_none: bool = False
    ) -> list[RecordResult]:
        """Update up to 200 records by Id (one API call); each record must carry `Id`."""
        if not records:
            return []
        _check_size(records)
        refs = [str(record.get("Id") or "") for record in records]
        body = {
            "allOrNone": all_or_none,
            "records": [{"attributes": {"type": sobject}, **record} for record in records],
        }
        data = self._call(lambda sf: sf.restful("composite/sobjects", method="PATCH", json=body))
        return _record_results(data, refs, status=self.last_status)

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
