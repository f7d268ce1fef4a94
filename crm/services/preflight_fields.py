"""The parts of salesforce_check that hold one object's describe to what subsync writes:
findings, the report, what a field must be, and the checks of a field, an external id and a
picklist. Shared by crm.services.preflight (Accounts and Contracts) and
crm.services.preflight_products (products and renewal opportunities).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from crm import mapping
from crm.salesforce.client import SalesforceClient
from crm.salesforce.errors import SalesforceError
from crm.salesforce.usage import ApiUsage

ERROR, WARNING, INFO = "error", "warning", "info"
METADATA_DIR = "crm/salesforce/metadata"
DEPLOY = (f"deploy {METADATA_DIR} with `cd {METADATA_DIR} && sf project deploy start "
          "--source-dir force-app --target-org <alias>`")
PERMSET = "Subsync_Integration"
ASSIGN = (f"assign the Subsync Integration permission set to the integration user (`sf org "
          f"assign permset --name {PERMSET} --target-org <alias> --on-behalf-of <username>`)")


@dataclass(frozen=True)
class Finding:
    """One result: `severity` error (the push cannot work), warning, or info."""

    severity: str
    check: str  # config, login, object, field, external_id, access, currency, api_usage
    subject: str  # "Contract.Subsync_MRR__c", "login", ...
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class PreflightReport:
    login_url: str = ""
    auth_flow: str = ""
    instance_url: str = ""
    multi_currency: bool | None = None
    api_usage: ApiUsage | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, severity: str, check: str, subject: str, message: str) -> None:
        self.findings.append(Finding(severity, check, subject, message))

    def as_dict(self) -> dict:
        usage = self.api_usage
        return {
            "ok": self.ok, "login_url": self.login_url, "auth_flow": self.auth_flow,
            "instance_url": self.instance_url, "multi_currency": self.multi_currency,
            "api_usage": {"used": usage.used, "limit": usage.limit} if usage else None,
            "findings": [f.as_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class _Expect:
    """What one field must be: `types` (describe types), an external id or not."""

    sobject: str
    name: str  # in the org
    default: str  # as in docs/architecture.md (the Salesforce field contract)
    types: frozenset[str] = frozenset()
    external_id: bool = False
    custom: bool = True
    ruled: bool = False  # AccountId, Status, CurrencyIsoCode: standard, set by the engine

    @property
    def subject(self) -> str:
        return f"{self.sobject}.{self.name}"


# describe --------------------------------------------------------------------------------


def _describe(report: PreflightReport, client: SalesforceClient, sobject: str) -> dict | None:
    try:
        body = client.describe(sobject)
    except SalesforceError as exc:
        report.add(ERROR, "object", sobject,
                   f"Cannot describe {sobject} ({exc.code}: {exc.message}): the integration "
                   f"user needs read, create and edit access to {sobject}; {ASSIGN}.")
        return None
    missing = [right for right in ("createable", "updateable") if body.get(right) is False]
    if missing:
        report.add(ERROR, "access", sobject,
                   f"The integration user cannot {' or '.join(_verb(m) for m in missing)} "
                   f"{sobject} records: {ASSIGN}, or grant those object permissions in its "
                   "profile.")
    return body


def _verb(right: str) -> str:
    return {"createable": "create", "updateable": "edit"}[right]


def _field(described: Mapping[str, Any], name: str) -> dict | None:
    lowered = name.lower()
    for item in described.get("fields") or ():
        if str(item.get("name", "")).lower() == lowered:
            return item
    return None


def _renamed(expect: _Expect) -> str:
    if expect.name != expect.default:
        return f" (SUBSYNC_SF_FIELD_MAP maps {expect.default} to it)"
    return ""


def _check_field(report: PreflightReport, expect: _Expect, found: dict | None) -> None:
    subject = expect.subject
    if found is None:
        if expect.custom:
            fix = (f"create it, or change SUBSYNC_SF_FIELD_MAP, then {ASSIGN}"
                   if expect.name != expect.default else f"{DEPLOY} and {ASSIGN}")
            report.add(ERROR, "field", subject,
                       f"{subject} is missing{_renamed(expect)} (or hidden from the integration "
                       f"user by field-level security): {fix}.")
        else:
            report.add(ERROR, "field", subject,
                       f"{subject} is not visible to the integration user: give it read and "
                       "edit access to this standard field (field-level security in its "
                       "profile or a permission set).")
        return
    kind = str(found.get("type") or "")
    if expect.types and kind not in expect.types:
        wanted = " or ".join(sorted(expect.types))
        report.add(ERROR, "field", subject,
                   f"{subject}{_renamed(expect)} is of type {kind}, but subsync writes a "
                   f"{wanted} there: change the field's type (Setup > Object Manager > "
                   f"{expect.sobject} > Fields & Relationships) or {DEPLOY}.")
        return
    cannot = [right for right in ("createable", "updateable") if not found.get(right)]
    if expect.name == "Status" and expect.ruled:
        cannot = [right for right in cannot if right != "createable"]
    if cannot:
        report.add(ERROR, "access", subject,
                   f"The integration user cannot {' or '.join(_verb(c) for c in cannot)} "
                   f"{subject}: {ASSIGN}, or make the field editable in its field-level "
                   "security.")
    if expect.external_id:
        _check_external_id(report, expect, found)
    if expect.default == "Subsync_Status__c" and kind == "picklist":
        _check_picklist(report, subject, found, mapping.SUBSYNC_STATUS_VALUES)
    if expect.name == "Status" and expect.ruled:
        _check_picklist(report, subject, found, {"Draft", mapping.ACTIVATED})


def _check_external_id(report: PreflightReport, expect: _Expect, found: dict) -> None:
    subject = expect.subject
    lacking = [label for label, key in (("External ID", "externalId"), ("Unique", "unique"))
               if not found.get(key)]
    if lacking:
        report.add(ERROR, "external_id", subject,
                   f"{subject} is not {' and not '.join(lacking)}: subsync upserts by it, so "
                   f"it must be both External ID and Unique (Unique also stops two records "
                   f"sharing one billing id). Edit the field in Setup > Object Manager > "
                   f"{expect.sobject} > Fields & Relationships and tick "
                   f"{' and '.join(lacking)}, or {DEPLOY}.")
    elif not found.get("caseSensitive"):
        report.add(WARNING, "external_id", subject,
                   f"{subject} is unique but case-insensitive: billing ids that differ only in "
                   "case would share a record. Prefer 'Treat ABC and abc as different values "
                   "(case sensitive)'.")
    if found.get("length") and int(found["length"]) < 255:
        report.add(WARNING, "field", subject,
                   f"{subject} holds {found['length']} characters; provider:id values can "
                   "be longer, make it 255.")


def _check_picklist(report: PreflightReport, subject: str, found: dict, needed) -> None:
    values = {str(v.get("value")) for v in found.get("picklistValues") or () if v.get("active",
                                                                                     True)}
    absent = sorted(set(needed) - values)
    if not absent:
        return
    severity = ERROR if found.get("restrictedPicklist") else WARNING
    report.add(severity, "field", subject,
               f"{subject} lacks the picklist values {', '.join(absent)}: add them (Setup > "
               f"Object Manager > {subject.split('.')[0]} > Fields & Relationships) or {DEPLOY}.")
