"""Classifying Salesforce failures: transient (try again later) or permanent (fix something)."""

from __future__ import annotations

import pytest

from crm.salesforce import errors
from crm.salesforce.usage import parse_limit_info


@pytest.mark.parametrize(
    ("status", "code", "permanent"),
    [
        (400, "UNABLE_TO_LOCK_ROW", False),
        (503, "SERVER_UNAVAILABLE", False),
        (500, "UNKNOWN_EXCEPTION", False),
        (403, "REQUEST_LIMIT_EXCEEDED", False),
        (502, "SOMETHING_NEW", False),
        (400, "REQUIRED_FIELD_MISSING", True),
        (400, "INVALID_FIELD", True),
        (400, "FIELD_INTEGRITY_EXCEPTION", True),
        (400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", True),
        (403, "INSUFFICIENT_ACCESS_OR_READONLY", True),
        (404, "NOT_FOUND", True),
    ],
)
def test_request_errors(status, code, permanent):
    error = errors.from_body(status, [{"errorCode": code, "message": "m", "fields": ["F"]}])
    assert (error.code, error.permanent, error.status) == (code, permanent, status)
    assert error.fields == ("F",)


def test_request_limit_waits_at_least_an_hour():
    error = errors.from_body(403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "x"}])
    assert error.retry_after >= 3600


def test_several_matches_are_permanent_and_name_the_records():
    error = errors.from_body(300, ["/services/data/v62.0/sobjects/Account/001A",
                                   "/services/data/v62.0/sobjects/Account/001B"])
    assert error.permanent and error.code == "MULTIPLE_RECORDS_MATCH"
    assert "001A" in error.message and "001B" in error.message


def test_a_proxy_error_page_is_classified_by_status():
    assert not errors.from_body(502, "<html>Bad gateway</html>").permanent
    assert errors.from_body(400, "<html>nope</html>").permanent


def test_only_org_wide_failures_stop_a_run():
    lock = errors.from_error("UNABLE_TO_LOCK_ROW", "locked")
    limit = errors.from_error("REQUEST_LIMIT_EXCEEDED", "limit")
    invalid = errors.from_error("INVALID_FIELD", "bad")
    assert (lock.stops_run, limit.stops_run, invalid.stops_run) == (False, True, False)


@pytest.mark.parametrize(("status", "body", "code"), [
    (503, [{"errorCode": "SERVER_UNAVAILABLE", "message": "retry later"}], "SERVER_UNAVAILABLE"),
    (500, [{"errorCode": "UNKNOWN_EXCEPTION", "message": "ErrorId"}], "UNKNOWN_EXCEPTION"),
    (502, "<html>Bad gateway</html>", "HTTP_502"),
    (401, [{"errorCode": "INVALID_SESSION_ID", "message": "expired"}], "INVALID_SESSION_ID"),
])
def test_a_failure_that_stops_a_run_leaves_a_code_counted_as_an_org_failure(status, body, code):
    """Rows carry only the code: the codes of errors that stop a run must be recognised as
    org failures (crm.services.claims.bring_forward_after_outage), a lock's must not."""
    error = errors.from_body(status, body)
    assert error.code == code and error.stops_run
    assert code in errors.ORG_FAILURE_CODES or code.startswith(errors.ORG_FAILURE_HTTP_PREFIX)


def test_our_codes_for_unanswered_calls_are_org_failures_and_a_lock_is_not():
    ours = {"TIMEOUT", "CONNECTION_ERROR", "UNEXPECTED_RESPONSE", "NOT_TRIED"}
    assert ours <= errors.ORG_FAILURE_CODES
    assert "UNABLE_TO_LOCK_ROW" not in errors.ORG_FAILURE_CODES
    assert "INTERNAL_ERROR" not in errors.ORG_FAILURE_CODES  # a bug of ours, not the org


@pytest.mark.parametrize(
    ("header", "used", "limit"),
    [("api-usage=18/5000", 18, 5000),
     ("api-usage=25/5000; per-app-api-usage=17/250(appName=sample)", 25, 5000)],
)
def test_limit_info_header(header, used, limit):
    usage = parse_limit_info(header)
    assert (usage.used, usage.limit) == (used, limit)


def test_usage_budget_threshold():
    usage = parse_limit_info("api-usage=80/100")
    assert usage.over(80) and not usage.over(80.5)
    assert parse_limit_info("per-app-api-usage=1/2(appName=x)") is None
    assert parse_limit_info(None) is None


def test_a_lock_backs_off_from_ten_seconds_anything_else_from_the_configured_base():
    lock = errors.from_error("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access")
    outage = errors.from_error("SERVER_UNAVAILABLE", "down", status=503)
    assert lock.backoff_base(60.0) == 10.0
    assert outage.backoff_base(60.0) == 60.0
