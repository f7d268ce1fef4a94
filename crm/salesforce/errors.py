"""One typed error for everything Salesforce (or the network to it) can do wrong.

The push engine only needs to know two things about a failure: whether trying again later
can help (`permanent`), and how long to wait at least (`retry_after`). Salesforce's own
`errorCode` and message are kept verbatim, because an admin acts on them ("Required fields
are missing: [StartDate]") and they are what Salesforce's documentation is indexed by.
"""

from __future__ import annotations

# Codes a later attempt can get past without anyone changing anything.
TRANSIENT_CODES = frozenset(
    {
        "UNABLE_TO_LOCK_ROW",
        "SERVER_UNAVAILABLE",
        "REQUEST_LIMIT_EXCEEDED",
        "UNKNOWN_EXCEPTION",
        "QUERY_TIMEOUT",
        "API_CURRENTLY_DISABLED",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "TIMEOUT",
        "CONNECTION_ERROR",
        "INVALID_SESSION_ID",
        "UNEXPECTED_RESPONSE",
        "AUTHENTICATION_FAILED",
    }
)

# The org's rolling 24-hour budget is spent: nothing will succeed for a long while.
REQUEST_LIMIT_BACKOFF_SECONDS = 3600.0
# Credentials are wrong or the connected app is misconfigured: someone has to fix settings,
# so do not hammer the token endpoint meanwhile.
AUTH_FAILURE_BACKOFF_SECONDS = 900.0


class SalesforceError(Exception):
    """A failed Salesforce call or record.

    `code` is Salesforce's errorCode (statusCode for a record) or one of ours for failures
    that never reached Salesforce (TIMEOUT, CONNECTION_ERROR, AUTHENTICATION_FAILED).
    `permanent` means retrying the same payload cannot succeed; `retry_after` is the least
    number of seconds to wait before trying again (None: use the normal backoff).
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        permanent: bool,
        retry_after: float | None = None,
        status: int | None = None,
        fields: tuple[str, ...] = (),
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status
        self.fields = tuple(fields)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        kind = "permanent" if self.permanent else "transient"
        return f"SalesforceError({self.code!r}, {kind}, status={self.status})"

    def backoff_base(self, default: float) -> float:
        """The first delay of this error's exponential backoff: short for a record's lock,
        `default` (SUBSYNC_SF_BACKOFF_BASE_SECONDS) for anything else."""
        return (RECORD_TRANSIENT_BACKOFF_BASE_SECONDS if self.code in RECORD_TRANSIENT_CODES
                else default)

    @property
    def stops_run(self) -> bool:
        """A failure of the org or the network rather than of one record: later calls in the
        same run would fail the same way, so the run should stop and leave the rest due."""
        return not self.permanent and self.code not in RECORD_TRANSIENT_CODES


# Transient, but of one record, not of the org: the run goes on (stops_run) and the record
# keeps its own backoff.
RECORD_TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW"})
# Their first backoff: Salesforce waits up to 10 s for a record's lock before answering
# UNABLE_TO_LOCK_ROW, and the transaction holding it (another integration, a user's save) is
# usually over by then, so a minute (the normal base) would hold the row for nothing. The
# fault campaign saw a whole batch of 200 refused at once wait 30-120 s with the normal base.
RECORD_TRANSIENT_BACKOFF_BASE_SECONDS = 10.0
# The rest of a batch whose run stopped before its records were sent.
NOT_TRIED = "NOT_TRIED"
# The codes rows carry (last_error_code) after an error that stops a run: Salesforce's
# transient codes but per-record ones (a 503 is SERVER_UNAVAILABLE, a 500 UNKNOWN_EXCEPTION,
# then INVALID_SESSION_ID, REQUEST_LIMIT_EXCEEDED, ...), ours for calls that got no answer
# from it (TIMEOUT, CONNECTION_ERROR, a proxy's page: UNEXPECTED_RESPONSE), and NOT_TRIED;
# a 5xx without a Salesforce error body is stored as HTTP_5xx (ORG_FAILURE_HTTP_PREFIX).
# Not in it: INTERNAL_ERROR (a bug of ours) and Bulk API job failures (one job, not the org).
ORG_FAILURE_CODES = (TRANSIENT_CODES - RECORD_TRANSIENT_CODES) | {NOT_TRIED}
ORG_FAILURE_HTTP_PREFIX = "HTTP_5"


def is_transient(code: str, status: int | None = None) -> bool:
    if code in TRANSIENT_CODES:
        return True
    return status is not None and status >= 500


def retry_after_for(code: str) -> float | None:
    if code == "REQUEST_LIMIT_EXCEEDED":
        return REQUEST_LIMIT_BACKOFF_SECONDS
    if code == "AUTHENTICATION_FAILED":
        return AUTH_FAILURE_BACKOFF_SECONDS
    return None


def from_error(
    code: str, message: str, *, status: int | None = None, fields: tuple[str, ...] = ()
) -> SalesforceError:
    """Classify one Salesforce error (of a request or of a record)."""
    code = code or "UNKNOWN_ERROR"
    return SalesforceError(
        message or code,
        code=code,
        permanent=not is_transient(code, status),
        retry_after=retry_after_for(code),
        status=status,
        fields=fields,
    )


def from_body(status: int, body: object) -> SalesforceError:
    """Classify a failed request from its HTTP status and decoded body.

    Salesforce sends a JSON list of `{errorCode, message, fields}`; a 300 sends the list of
    matching record URLs instead; proxies and outages may send HTML or nothing at all.
    """
    if status == 300:
        shown = ", ".join(str(url) for url in body) if isinstance(body, list) else str(body)
        return SalesforceError(
            f"More than one record matches this external id: {shown}",
            code="MULTIPLE_RECORDS_MATCH",
            permanent=True,
            status=status,
        )
    first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else None
    if first is not None:
        code = str(first.get("errorCode") or first.get("statusCode") or "")
        message = str(first.get("message") or "")
        fields = tuple(first.get("fields") or ())
        if not code:
            code = f"HTTP_{status}"
        return from_error(code, message, status=status, fields=fields)
    text = body if isinstance(body, str) else repr(body)
    return from_error(f"HTTP_{status}", f"HTTP {status}: {text[:500]}", status=status)
