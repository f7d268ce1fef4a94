"""What a Salesforce admin can do about a failed push: one sentence per error code.

Salesforce's errorCode and message say what went wrong in Salesforce's words; the admin
looking at the sync health page also needs to know what to change, and where (the org, the
integration user's profile, subsync's settings, or nothing at all because subsync retries by
itself). `hint_for` is a pure function of what ContractSync and SyncAttempt rows keep (the
code and the message; the fields when a caller still has them), so the dashboard and the REST
API give the same advice.

Stored messages may start with the record they concern ("Contract chargebee:sub_1: ..."),
as crm.services.flush prefixes them; the patterns below look inside the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Codes subsync gives failures of its own (crm.services.flush, crm.salesforce.*).
API_BUDGET = "API_BUDGET"
ACCOUNT_MOVED = "ACTIVATED_CONTRACT_ACCOUNT_CHANGED"

_METADATA = "crm/salesforce/metadata"
_NO_SUCH_COLUMN = re.compile(r"No such column '([^']+)' on (?:s?object|entity) of type (\w+)",
                             re.IGNORECASE)
# Upserting by an external id field the org does not have (or has not marked External ID).
_NO_EXTERNAL_ID = re.compile(
    r"external ID field does not exist or is not accessible: (\w+)"
    r"|Field name provided, (\w+) is not an External ID", re.IGNORECASE)
_REQUIRED_FIELDS = re.compile(r"Required fields are missing: \[([^\]]*)\]", re.IGNORECASE)
_SUBJECT = re.compile(r"^(?:Account|Contract|Activating contract) \S+: ")


def _message(message: str) -> str:
    """The message without the record prefix flush puts in front of it."""
    return _SUBJECT.sub("", message.strip(), count=1).strip()


def _named(fields: list[str]) -> str:
    return ", ".join(fields)


def _missing_field(message: str, fields: list[str]) -> str:
    match = _NO_SUCH_COLUMN.search(message)
    external = _NO_EXTERNAL_ID.search(message)
    if match:
        field, sobject = match.group(1), match.group(2)
        subject = f"The field {sobject}.{field}"
    elif external:
        field = external.group(1) or external.group(2)
        return (
            f"The external id field {field} is missing in the org, not marked External ID, or "
            f"hidden from the integration user. Deploy the custom fields in {_METADATA} (and "
            "grant the integration user field-level access to them), or name the org's own "
            f"external id field with SUBSYNC_SF_FIELD_MAP (e.g. \"{field}=My_Id__c\")."
        )
    else:
        return (
            f"Salesforce does not accept a field subsync sends{_fields_suffix(fields)}: it may "
            "not exist in the org, or the integration user cannot see it. Deploy the custom "
            f"fields in {_METADATA} to the org (and grant the "
            "integration user field-level access), or rename or drop the field with "
            "SUBSYNC_SF_FIELD_MAP."
        )
    return (
        f"{subject} does not exist in the org, or the integration user cannot see it. Deploy "
        f"the custom fields in {_METADATA} (and grant the integration user field-level "
        f"access to them), or map {field} to a field the org has (or to nothing) with "
        f"SUBSYNC_SF_FIELD_MAP, e.g. SUBSYNC_SF_FIELD_MAP=\"{field}=\"."
    )


def _validation_rule(message: str, fields: list[str]) -> str:
    rule = _message(message) or "(no message)"
    return (
        f"A validation rule in the org refused the record: \"{rule}\". Relax the rule for "
        "the integration user (for example exclude its profile or a custom permission in the "
        "rule's formula) or fix the data it objects to, then retry."
    )


def _required(message: str, fields: list[str]) -> str:
    match = _REQUIRED_FIELDS.search(message)
    named = (match.group(1) if match else "") or _named(fields)
    which = f" ({named})" if named else ""
    return (
        f"The org requires fields subsync does not send{which}. Make them optional or give "
        "them a default in Salesforce, or send a constant for them with "
        "SUBSYNC_SF_EXTRA_FIELDS, then retry."
    )


def _fields_suffix(fields: list[str]) -> str:
    return f" (field: {_named(fields)})" if fields else ""


def _fixed(text: str) -> Callable[[str, list[str]], str]:
    return lambda message, fields: text


def _with_fields(text: str) -> Callable[[str, list[str]], str]:
    return lambda message, fields: text.format(fields=_fields_suffix(fields))


_RETRIED = " subsync retries by itself; nothing to do unless it keeps failing."

_HINTS: dict[str, Callable[[str, list[str]], str]] = {
    "INVALID_FIELD": _missing_field,
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": _validation_rule,
    "REQUIRED_FIELD_MISSING": _required,
    "UNABLE_TO_LOCK_ROW": _fixed(
        "Another process (a user, a flow, a data load) was updating the same Account or "
        "Contract at that moment, so Salesforce locked the row." + _RETRIED
    ),
    "INSUFFICIENT_ACCESS": _fixed(
        "The integration user lacks a permission: give its profile or permission set Create "
        "and Edit on Account and Contract, and API Enabled, then retry."
    ),
    "INSUFFICIENT_ACCESS_OR_READONLY": _fixed(
        "The integration user may not edit this record: check its object permissions on "
        "Account and Contract, the org-wide sharing defaults and record ownership, and that "
        "no approval process has locked the record; then retry."
    ),
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": _fixed(
        "The integration user cannot see the Account this Contract points to: give it access "
        "to the Account (sharing rules or ownership), then retry."
    ),
    "FIELD_INTEGRITY_EXCEPTION": _with_fields(
        "Salesforce refused a field's value{fields}: often a contract term or date the org "
        "does not accept, or a lookup to the wrong kind of record. Compare the value in the "
        "message with the field's definition in Salesforce, fix the field there (or map it "
        "away with SUBSYNC_SF_FIELD_MAP), then retry."
    ),
    "INVALID_CROSS_REFERENCE_KEY": _fixed(
        "A Salesforce id subsync holds no longer exists (the Account or Contract was deleted "
        "or merged in Salesforce). Forget the stored ids so the next push finds or creates "
        "the records by external id: `python manage.py sync_salesforce --subscription "
        "<provider>:<id> --forget-contract`."
    ),
    "ENTITY_IS_DELETED": _fixed(
        "The record was deleted in Salesforce. Restore it from the recycle bin, or forget "
        "the stored ids (`python manage.py sync_salesforce --subscription <provider>:<id> "
        "--forget-contract`) to create it again."
    ),
    "DUPLICATE_VALUE": _with_fields(
        "Another record already holds this unique value{fields}: usually two Accounts or "
        "Contracts with the same subsync external id. Merge or delete the duplicate in "
        "Salesforce (or clear its external id), then retry."
    ),
    "DUPLICATES_DETECTED": _fixed(
        "A duplicate rule in the org blocked the record. Allow the integration user to "
        "save duplicates in the rule (Action On Create/Edit: Allow), or merge the "
        "existing record, then retry."
    ),
    "MULTIPLE_RECORDS_MATCH": _fixed(
        "More than one Salesforce record carries this external id. Keep one: merge or delete "
        "the others (or clear their external id field), then retry."
    ),
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": _with_fields(
        "A value subsync sends is not in a restricted picklist{fields}. Add the value to the "
        "picklist in Salesforce (or unrestrict it), or map the field away with "
        "SUBSYNC_SF_FIELD_MAP, then retry."
    ),
    "STRING_TOO_LONG": _with_fields(
        "A value is longer than the Salesforce field allows{fields}. Increase the field's "
        "length in Salesforce, or map the field to a longer one with SUBSYNC_SF_FIELD_MAP, "
        "then retry."
    ),
    "INVALID_TYPE_ON_FIELD_IN_RECORD": _with_fields(
        "A field in Salesforce has a different type than subsync sends{fields}. Deploy the "
        f"field definitions in {_METADATA}, or map the field to a matching one with "
        "SUBSYNC_SF_FIELD_MAP."
    ),
    "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY": _fixed(
        "A trigger, flow or process in the org failed while saving the record; its message "
        "names it. Fix or relax that automation for the integration user, then retry."
    ),
    "REQUEST_LIMIT_EXCEEDED": _fixed(
        "The org's daily API limit is spent. Pushes pause and resume by themselves as usage "
        "falls over the rolling 24 hours; to avoid it, lower SUBSYNC_SF_API_BUDGET_PCT so "
        "subsync leaves room for other integrations, or buy more API calls."
    ),
    API_BUDGET: _fixed(
        "New contracts wait because the org's API usage is over SUBSYNC_SF_API_BUDGET_PCT; "
        "existing ones are still pushed. They are pushed by themselves once usage falls; "
        "raise the setting to let them through sooner."
    ),
    "INVALID_SESSION_ID": _fixed(
        "The Salesforce session expired or was revoked; subsync logs in again by itself. If "
        "it keeps failing, check the connected app's session policies and that the "
        "integration user is active."
    ),
    "AUTHENTICATION_FAILED": _fixed(
        "subsync cannot log in to Salesforce: check SALESFORCE_LOGIN_URL, "
        "SALESFORCE_AUTH_FLOW and the credentials, the connected app (client credentials "
        "flow enabled, run-as user set, or the certificate for JWT), and run `python "
        "manage.py salesforce_check`. Pushes resume by themselves once it can."
    ),
    ACCOUNT_MOVED: _fixed(
        "The subscription moved to another customer, and Salesforce does not let an "
        "Activated contract change Account. Follow the steps in the message: delete the old "
        "Contract (or clear its external id) in Salesforce, then push with --forget-contract."
    ),
}

_TRANSIENT = {
    "SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION", "QUERY_TIMEOUT", "API_CURRENTLY_DISABLED",
    "ALL_OR_NONE_OPERATION_ROLLED_BACK", "TIMEOUT", "CONNECTION_ERROR", "UNEXPECTED_RESPONSE",
    "NOT_TRIED", "BULK_TIMEOUT",
}
_TRANSIENT_HINT = (
    "Salesforce (or the network to it) did not answer properly: an outage, a timeout or "
    "maintenance." + _RETRIED + " If it lasts, check trust.salesforce.com and the network "
    "between subsync and the org."
)
_INTERNAL_HINT = (
    "subsync itself failed while pushing (a bug or an interrupted worker); the row is "
    "retried. If it repeats, the worker's log has the traceback: please report it."
)


def hint_for(*, error_code: str, message: str, fields: list[str] | None = None) -> str:
    """What an admin can do about a failure with this Salesforce (or subsync) error code."""
    code = (error_code or "").strip().upper()
    fields = [f for f in (fields or []) if f]
    if (code == "INVALID_FIELD" or _NO_SUCH_COLUMN.search(message or "")
            or _NO_EXTERNAL_ID.search(message or "")):
        return _missing_field(message or "", fields)
    hint = _HINTS.get(code)
    if hint is not None:
        return hint(message or "", fields)
    if code in _TRANSIENT or re.fullmatch(r"HTTP_5\d\d", code):
        return _TRANSIENT_HINT
    if code == "INTERNAL_ERROR":
        return _INTERNAL_HINT
    if not code:
        return "No error recorded."
    return (
        f"Salesforce refused the record with {code}. Look the code up in Salesforce's API "
        "documentation (\"StatusCode\"), fix the record or the org's setup it points to, "
        "then retry."
    )
