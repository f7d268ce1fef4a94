"""crm.salesforce.hints: what an admin can do, for each error code a push records."""

from __future__ import annotations

import pytest

from crm.salesforce.hints import hint_for

# (code, stored message, fields, phrases the hint must contain)
CASES = [
    ("INVALID_FIELD",
     "Contract chargebee:sub_1: No such column 'Subsync_MRR__c' on sobject of type Contract",
     None, ["Contract.Subsync_MRR__c", "crm/salesforce/metadata", "SUBSYNC_SF_FIELD_MAP"]),
    ("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"],
     ["(field: Id)", "crm/salesforce/metadata", "SUBSYNC_SF_FIELD_MAP"]),
    ("NOT_FOUND",
     "Account chargebee:cus_1: Provided external ID field does not exist or is not accessible: "
     "Subsync_Customer_Id__c",
     None, ["Subsync_Customer_Id__c", "External ID", "crm/salesforce/metadata"]),
    ("FIELD_CUSTOM_VALIDATION_EXCEPTION",
     "Contract chargebee:sub_1: Contracts need a signed date before activation",
     ["CustomerSignedDate"],
     ['"Contracts need a signed date before activation"', "integration user"]),
    ("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record", None,
     ["retries by itself"]),
    ("INSUFFICIENT_ACCESS", "insufficient access rights", None, ["permission"]),
    ("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id", None,
     ["may not edit"]),
    ("FIELD_INTEGRITY_EXCEPTION", "Contract Term: value outside of valid range",
     ["ContractTerm"], ["(field: ContractTerm)"]),
    ("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", None, ["--forget-contract"]),
    ("ENTITY_IS_DELETED", "entity is deleted", None, ["recycle bin", "--forget-contract"]),
    ("REQUIRED_FIELD_MISSING", "Required fields are missing: [StartDate, Region__c]", None,
     ["StartDate, Region__c", "SUBSYNC_SF_EXTRA_FIELDS"]),
    ("DUPLICATE_VALUE", "duplicate value found", ["Subsync_Customer_Id__c"],
     ["(field: Subsync_Customer_Id__c)", "duplicate"]),
    ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "bad value for restricted picklist field: Gold",
     ["Tier__c"], ["(field: Tier__c)", "picklist"]),
    ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", None,
     ["SUBSYNC_SF_API_BUDGET_PCT"]),
    ("API_BUDGET", "Waiting: Salesforce daily API usage is 90/100 (90%)", None,
     ["SUBSYNC_SF_API_BUDGET_PCT"]),
    ("INVALID_SESSION_ID", "Session expired or invalid", None, ["logs in again"]),
    ("AUTHENTICATION_FAILED", "Salesforce refused the client_credentials login", None,
     ["salesforce_check", "SALESFORCE_LOGIN_URL"]),
    ("STRING_TOO_LONG", "Account Name: data value too large", ["Name"],
     ["(field: Name)", "length"]),
    ("ACTIVATED_CONTRACT_ACCOUNT_CHANGED", "Contract 800... is Activated under Account ...",
     None, ["--forget-contract"]),
    ("MULTIPLE_RECORDS_MATCH", "More than one record matches this external id", None,
     ["merge or delete"]),
    ("SERVER_UNAVAILABLE", "login failed with HTTP 503", None, ["retries by itself"]),
    ("HTTP_502", "HTTP 502: <html>", None, ["retries by itself"]),
    ("TIMEOUT", "login to https://x timed out", None, ["retries by itself"]),
    ("INTERNAL_ERROR", "internal error during the push: KeyError('x')", None, ["traceback"]),
    ("SOMETHING_NEW", "whatever", None, ["SOMETHING_NEW", "retry"]),
    ("", "", None, ["No error recorded"]),
]


@pytest.mark.parametrize("code, message, fields, phrases", CASES,
                         ids=[f"{case[0] or 'none'}-{i}" for i, case in enumerate(CASES)])
def test_hint_names_what_to_do(code, message, fields, phrases):
    hint = hint_for(error_code=code, message=message, fields=fields)
    for phrase in phrases:
        assert phrase in hint


def test_a_missing_column_is_recognised_from_the_message_whatever_the_code():
    """Bulk job failures carry the message under another code (e.g. InvalidBatch)."""
    hint = hint_for(error_code="INVALIDBATCH",
                    message="No such column 'Plan__c' on entity of type Contract")
    assert "Contract.Plan__c" in hint and "SUBSYNC_SF_FIELD_MAP" in hint


def test_the_validation_rule_message_is_quoted_without_the_record_prefix():
    hint = hint_for(error_code="FIELD_CUSTOM_VALIDATION_EXCEPTION",
                    message="Activating contract 800000000000001AAA: Region is required")
    assert '"Region is required"' in hint
    assert "800000000000001AAA" not in hint


def test_codes_are_matched_whatever_their_case():
    assert hint_for(error_code="unable_to_lock_row", message="") == hint_for(
        error_code="UNABLE_TO_LOCK_ROW", message="")
