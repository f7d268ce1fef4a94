"""What a real org refuses, checked before any record is written.

Order matters because Salesforce reports by stage: first the body is read (unknown
fields, read-only fields, values of the wrong type), then field rules (required, length,
restricted picklists, references, uniqueness), then the object's own rules (for Contract:
created Draft, activated later, Account and currency frozen once Activated, no
Terminated/Expired through the API). A stage that finds errors stops the record there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import ids
from .describe import STATUS_CODES, Field, SObject
from .errors import RequestFailed, SfError, invalid_field, json_parser_error
from .values import BadValue, contract_end_date, from_csv, from_json, parser_message, within_range

if TYPE_CHECKING:
    from .org import Org

CREATE, UPDATE = "create", "update"


@dataclass
class Changes:
    """A request body read against the schema: canonical field name -> stored value."""

    values: dict[str, object] = field(default_factory=dict)
    errors: list[SfError] = field(default_factory=list)


def read_body(org: Org, sobj: SObject, body: dict, op: str, *, csv: bool = False) -> Changes:
    """Map a JSON body (or CSV row) onto fields; raises ``RequestFailed`` on JSON type errors.

    ``csv`` rows come from Bulk API 2.0: a bad cell is a row error, not a request error.
    """
    changes = Changes()
    references: dict[str, str] = {}
    for key, raw in body.items():
        if key == "attributes":
            continue
        target = sobj.field(key)
        if target is None:
            relation = sobj.relationship(key)
            if relation is not None and isinstance(raw, dict):
                _read_reference(org, sobj, relation, key, raw, changes, references)
            else:
                changes.errors.append(invalid_field(key, sobj.name))
            continue
        if target.name == "Id":
            if op == CREATE:
                changes.errors.append(
                    SfError("INVALID_FIELD", "cannot specify Id in an insert call", ("Id",))
                )
            continue
        if not (target.createable if op == CREATE else target.updateable):
            changes.errors.append(
                SfError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {target.name}. Please check the security "
                    "settings of this field and verify that it is read/write for your profile "
                    "or permission set.",
                    (target.name,),
                )
            )
            continue
        try:
            value = from_csv(target, raw) if csv else from_json(target, raw)
        except BadValue:
            if not csv:
                raise json_parser_error(parser_message(target, raw)) from None
            changes.errors.append(
                SfError(
                    "INVALID_TYPE_ON_FIELD_IN_RECORD",
                    f"{target.label}: value not of required type: {raw}",
                    (target.name,),
                )
            )
            continue
        if target.name in references:
            changes.errors.append(_both_given(references[target.name], target.name))
            continue
        changes.values[target.name] = value
    return changes


def _both_given(relationship: str, field_name: str) -> SfError:
    return SfError(
        "INVALID_FIELD",
        f"Cannot specify both an external ID reference {relationship} and a salesforce id, "
        f"{field_name}",
    )


def _read_reference(
    org: Org,
    sobj: SObject,
    relation: Field,
    key: str,
    raw: dict,
    changes: Changes,
    references: dict[str, str],
) -> None:
    """Resolve ``"Account": {"Subsync_Customer_Id__c": "..."}`` to an AccountId."""
    parent = org.schema.get(relation.reference_to[0]) if relation.reference_to else None
    lookup = {k: v for k, v in raw.items() if k != "attributes"}
    if parent is None or len(lookup) != 1:
        raise json_parser_error(
            f"Foreign key reference {key} must name exactly one external ID field"
        )
    ((ext_name, ext_value),) = lookup.items()
    ext_field = parent.field(ext_name)
    if ext_field is None or not (ext_field.external_id or ext_field.name == "Id"):
        changes.errors.append(
            SfError(
                "INVALID_FIELD",
                f"Field name provided, {ext_name} is not an External ID or indexed field for "
                f"{parent.name}",
            )
        )
        return
    if relation.name in changes.values:
        changes.errors.append(_both_given(relation.relationship_name or key, relation.name))
        return
    try:
        wanted = from_json(ext_field, ext_value)
    except BadValue:
        raise json_parser_error(parser_message(ext_field, ext_value)) from None
    if ext_field.name == "Id":
        normalized = ids.normalize(wanted)
        found = [normalized] if normalized and org.store.get(parent.name, normalized) else []
    else:
        found = org.store.find(parent.name, ext_field, wanted)
    if not found:
        changes.errors.append(
            SfError(
                "INVALID_FIELD",
                f"Foreign key external ID: {ext_value} not found for field {ext_field.name} in "
                f"entity {parent.name}",
            )
        )
    elif len(found) > 1:
        changes.errors.append(
            SfError(
                "INVALID_FIELD",
                f"More than 1 record found for External ID field {ext_field.name} with value "
                f"{ext_value} in entity {parent.name}",
            )
        )
    else:
        references[relation.name] = relation.relationship_name or key
        changes.values[relation.name] = found[0]


def validate(
    org: Org, sobj: SObject, existing: dict | None, record: dict, changes: Changes, op: str
) -> list[SfError]:
    """Field rules, then object rules, for ``record`` (the proposed new version)."""
    errors = _field_rules(org, sobj, existing, record, changes.values, op)
    if errors:
        return errors
    if sobj.name == "Contract":
        return _contract_rules(existing, record, changes.values, op)
    return []


def _field_rules(
    org: Org, sobj: SObject, existing: dict | None, record: dict, values: dict, op: str
) -> list[SfError]:
    missing = []
    for f in sobj.fields.values():
        if f.nillable or f.read_only:
            continue
        cleared = f.name in values and values[f.name] is None
        absent = op == CREATE and not f.defaulted_on_create and record.get(f.name) is None
        if cleared or absent:
            missing.append(f.name)
    if missing:
        return [
            SfError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                tuple(missing),
            )
        ]
    errors: list[SfError] = []
    for name, value in values.items():
        f = sobj.fields[name]
        if value is None:
            continue
        error = _value_rule(org, f, value)
        if error is not None:
            errors.append(error)
        elif f.type == "reference":
            values[name] = record[name] = ids.normalize(value)
    if errors:
        return errors
    own_id = existing["Id"] if existing else None
    for f in sobj.indexed_fields():
        if not f.unique or values.get(f.name) is None:
            continue
        others = [i for i in org.store.find(sobj.name, f, values[f.name]) if i != own_id]
        if others:
            errors.append(
                SfError(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {f.name} duplicates value on record with id: "
                    f"{others[0]}",
                    (f.name,),
                )
            )
    return errors


def _value_rule(org: Org, f: Field, value: object) -> SfError | None:
    if f.is_text and f.length and isinstance(value, str) and len(value) > f.length:
        shown = value if len(value) <= 100 else value[:100] + "..."
        return SfError(
            "STRING_TOO_LONG",
            f"{f.label}: data value too large: {shown} (max length={f.length})",
            (f.name,),
        )
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and not within_range(f, value)
    ):
        return SfError(
            "NUMBER_OUTSIDE_VALID_RANGE",
            f"{f.label}: value outside of valid range on numeric field: {value}",
            (f.name,),
        )
    if f.name == "Status" and value in ("Terminated", "Expired"):
        return SfError(
            "FIELD_INTEGRITY_EXCEPTION",
            f"Status: {value} can't be set through the API. Choose a valid contract status "
            "and save your changes.",
            ("Status",),
        )
    if f.type == "picklist" and f.restricted and value not in f.picklist:
        if f.name == "CurrencyIsoCode":
            message = f"{f.label}: invalid currency code: {value}"
        else:
            message = f"{f.label}: bad value for restricted picklist field: {value}"
        return SfError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", message, (f.name,))
    if f.type == "reference":
        return _reference_rule(org, f, value)
    return None


def _reference_rule(org: Org, f: Field, value: object) -> SfError | None:
    normalized = ids.normalize(value)
    if normalized is None:
        return SfError("MALFORMED_ID", f"{f.label}: id value of incorrect type: {value}", (f.name,))
    target = f.reference_to[0]
    if target == "User":
        if normalized != org.user_id:
            return SfError(
                "INVALID_CROSS_REFERENCE_KEY", f"{f.label}: invalid cross reference id", (f.name,)
            )
        return None
    if not ids.has_prefix(normalized, target):
        return SfError(
            "FIELD_INTEGRITY_EXCEPTION",
            f"{f.label}: id value of incorrect type: {value}",
            (f.name,),
        )
    if org.store.get(target, normalized) is None:
        deleted = org.store.get(target, normalized, include_deleted=True) is not None
        return SfError(
            "ENTITY_IS_DELETED" if deleted else "INVALID_CROSS_REFERENCE_KEY",
            "entity is deleted" if deleted else f"{f.label}: invalid cross reference id",
            (f.name,),
        )
    return None


def _contract_rules(existing: dict | None, record: dict, values: dict, op: str) -> list[SfError]:
    status = record.get("Status") or "Draft"
    if op == CREATE:
        if status != "Draft":
            return [
                SfError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    f"Status: A contract must be created with status Draft, not {status}; "
                    "activate it with a later update.",
                    ("Status",),
                )
            ]
    elif existing and existing.get("Status") == "Activated":
        errors = []
        if record.get("AccountId") != existing.get("AccountId"):
            errors.append(
                SfError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "Account ID: You can't change the account of an activated contract.",
                    ("AccountId",),
                )
            )
        if record.get("CurrencyIsoCode") != existing.get("CurrencyIsoCode"):
            errors.append(
                SfError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "Currency ISO Code: You can't change the currency of an activated contract.",
                    ("CurrencyIsoCode",),
                )
            )
        if status != "Activated":
            errors.append(
                SfError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    f"Status: An activated contract can't go back to {status}.",
                    ("Status",),
                )
            )
        if errors:
            return errors
    term = record.get("ContractTerm")
    if term is not None and term < 1:
        return [
            SfError(
                "NUMBER_OUTSIDE_VALID_RANGE",
                f"Contract Term: value outside of valid range on numeric field: {term}",
                ("ContractTerm",),
            )
        ]
    activating = status == "Activated" and (existing or {}).get("Status") != "Activated"
    if activating and not record.get("StartDate"):
        return [
            SfError(
                "FIELD_INTEGRITY_EXCEPTION",
                "Contract Start Date: You must enter a start date to activate a contract.",
                ("StartDate",),
            )
        ]
    return []


def derive(org: Org, sobj: SObject, existing: dict | None, record: dict, now: str) -> None:
    """Fill what Salesforce computes: audit fields, EndDate, StatusCode, activation stamp."""
    record["LastModifiedDate"] = record["SystemModstamp"] = now
    record["LastModifiedById"] = org.user_id
    if existing is None:
        record["CreatedDate"] = now
        record["CreatedById"] = org.user_id
        record["IsDeleted"] = False
        for f in sobj.fields.values():
            if f.defaulted_on_create and record.get(f.name) is None and f.default is not None:
                record[f.name] = f.default
        if "OwnerId" in sobj.fields and not record.get("OwnerId"):
            record["OwnerId"] = org.user_id
    if sobj.name != "Contract":
        return
    if existing is None:
        record["ContractNumber"] = org.next_contract_number()
    record["EndDate"] = contract_end_date(record.get("StartDate"), record.get("ContractTerm"))
    record["StatusCode"] = STATUS_CODES.get(record.get("Status") or "Draft", "Draft")
    if record.get("Status") == "Activated" and (existing or {}).get("Status") != "Activated":
        record["ActivatedDate"] = now
        record["ActivatedById"] = org.user_id


def check_sobject(org: Org, name: str) -> SObject:
    """The sObject called ``name`` or the 404 Salesforce gives for an unknown type."""
    sobj = org.schema.get(name)
    if sobj is None:
        raise RequestFailed(404, SfError("NOT_FOUND", "The requested resource does not exist"))
    return sobj
