"""The call log: one SyncAttempt per Salesforce call, written before the call, completed after.

Written first so that a worker killed mid-call still leaves a `started` row behind (the
Healthchecks pattern): the dashboard can tell "never tried" from "tried and vanished".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from crm.models import SyncAttempt
from crm.salesforce.client import SalesforceClient
from crm.salesforce.errors import SalesforceError
from crm.salesforce.results import RecordResult

T = TypeVar("T")
Outcome = SyncAttempt.Outcome


def _outcome(results: Sequence[RecordResult]) -> str:
    failed = sum(1 for r in results if not r.success)
    if not failed:
        return Outcome.SUCCESS
    return Outcome.FAILED if failed == len(results) else Outcome.PARTIAL


def _finish(
    attempt: SyncAttempt, client: SalesforceClient, started: float, **fields
) -> None:
    usage = client.usage
    status = client.last_status
    SyncAttempt.objects.filter(pk=attempt.pk).update(
        duration_ms=int((time.monotonic() - started) * 1000),
        http_status=status if status and 100 <= status < 600 else None,
        api_usage_used=usage.used if usage else None,
        api_usage_max=usage.limit if usage else None,
        **fields,
    )


def record_call(
    *,
    client: SalesforceClient,
    operation: str,
    sobject: str = "",
    refs: Sequence[str] = (),
    call: Callable[[], T],
) -> T:
    """Run `call` (one Salesforce request) between a `started` row and its completion.

    A list of RecordResult is logged record by record; a SalesforceError is logged with its
    code and re-raised; so is anything unexpected (as INTERNAL_ERROR).
    """
    attempt = SyncAttempt.objects.create(
        operation=operation, sobject=sobject, records=list(refs)
    )
    client.last_status = None
    started = time.monotonic()
    try:
        result = call()
    except SalesforceError as exc:
        _finish(attempt, client, started, outcome=Outcome.FAILED, error_code=exc.code[:64],
                error_message=exc.message)
        raise
    except Exception as exc:
        _finish(attempt, client, started, outcome=Outcome.FAILED, error_code="INTERNAL_ERROR",
                error_message=repr(exc)[:2000])
        raise
    if isinstance(result, list) and all(isinstance(r, RecordResult) for r in result):
        failures = [r.error for r in result if r.error is not None]
        _finish(
            attempt, client, started, outcome=_outcome(result),
            results=[r.as_dict() for r in result],
            error_code=failures[0].code[:64] if failures else "",
            error_message=failures[0].message if failures else "",
        )
    else:
        _finish(attempt, client, started, outcome=Outcome.SUCCESS)
    return result
