"""Is the org ready for subsync? Structured findings an admin can act on.

Everything the push needs from the org, checked the way the push will meet it: log in with
the configured flow, describe Account and Contract, and hold every field subsync sends
(`crm.mapping`, with SUBSYNC_SF_FIELD_MAP renames and SUBSYNC_SF_EXTRA_FIELDS) to the types
in `mapping.FIELD_TYPES`; the external ids must be External ID + Unique, and the integration
user must be able to create and edit each field. Each problem says what to do, in the words
of the admin who has to do it. Used by `manage.py salesforce_check` and the dashboard.

No database access and no call log: the check must work on a fresh install before `migrate`,
and it never changes anything in Salesforce.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from crm import mapping
from crm.mapping import FieldConfig
from crm.salesforce.client import SalesforceClient
from crm.salesforce.config import SalesforceConfig
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


def run_preflight(
    *, config: SalesforceConfig | None = None, client: SalesforceClient | None = None,
    fields: FieldConfig | None = None,
) -> PreflightReport:
    """Check configuration, login, schema, access and API usage; never raises for Salesforce
    trouble (it becomes a finding)."""
    config = config or SalesforceConfig.from_settings()
    report = PreflightReport(login_url=config.login_url, auth_flow=config.auth_flow)
    missing = config.missing()
    if missing:
        report.add(ERROR, "config", "settings",
                   f"Salesforce is not configured: set {', '.join(missing)} (flow "
                   f"{config.auth_flow}); see README, Salesforce push.")
        return report
    try:
        fields = fields or FieldConfig.from_settings()
    except ImproperlyConfigured as exc:
        report.add(ERROR, "config", "SUBSYNC_SF_FIELD_MAP", str(exc))
        return report
    client = client or SalesforceClient(config=config)
    try:
        client.authenticate()
    except SalesforceError as exc:
        report.add(ERROR, "login", "login", _login_advice(config, exc))
        return report
    report.instance_url = client.instance_url or ""
    report.add(INFO, "login", "login",
               f"logged in to {report.instance_url} with the {config.auth_flow} flow")
    described: dict[str, dict | None] = {}
    for sobject in (mapping.ACCOUNT, mapping.CONTRACT):
        described[sobject] = _describe(report, client, sobject)
    contract = described[mapping.CONTRACT]
    if contract is not None:
        report.multi_currency = _field(contract, "CurrencyIsoCode") is not None
        report.add(INFO, "currency", "CurrencyIsoCode",
                   "multi-currency is on: new contracts get the subscription's currency"
                   if report.multi_currency else
                   "multi-currency is off: contracts are in the org's currency, MRR is sent "
                   "in each subscription's own currency")
    for expect in _expectations(fields, multi_currency=bool(report.multi_currency)):
        body = described.get(expect.sobject)
        if body is not None:
            _check_field(report, expect, _field(body, expect.name))
    _check_usage(report, client)
    return report


# login -----------------------------------------------------------------------------------


def _login_advice(config: SalesforceConfig, exc: SalesforceError) -> str:
    if exc.code in ("CONNECTION_ERROR", "TIMEOUT"):
        return (f"Cannot reach Salesforce at SALESFORCE_LOGIN_URL={config.login_url}: "
                f"{exc.message}. Check the URL (your My Domain URL, e.g. "
                "https://acme.my.salesforce.com), DNS and proxies; if a proxy re-signs TLS, "
                "point SALESFORCE_CA_BUNDLE at its CA.")
    hints = {
        "client_credentials": (
            "check SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET (the connected app's "
            "consumer key and secret), that the connected app has 'Enable Client Credentials "
            "Flow' ticked with a Run As user, and that SALESFORCE_LOGIN_URL is your My Domain "
            "URL (login.salesforce.com does not serve this flow)"),
        "jwt": (
            "check SALESFORCE_CLIENT_ID, SALESFORCE_USERNAME and SALESFORCE_PRIVATE_KEY_FILE: "
            "the connected app must hold the certificate of that key ('Use digital "
            "signatures') and the user must be pre-authorized (Admin approved users, via a "
            "profile or permission set)"),
        "password": (
            "check SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET, SALESFORCE_USERNAME and "
            "SALESFORCE_PASSWORD (followed by the user's security token unless the server's "
            "IP is trusted), and that the org allows the OAuth username-password flow"),
    }
    hint = hints.get(config.auth_flow, "check SALESFORCE_AUTH_FLOW")
    return f"Login failed: {exc.message}. To fix: {hint}."


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


def _expectations(fields: FieldConfig, *, multi_currency: bool) -> list[_Expect]:
    out = []
    for sobject in (mapping.ACCOUNT, mapping.CONTRACT):
        external = (fields.account_external_field if sobject == mapping.ACCOUNT
                    else fields.contract_external_field)
        for default, name in fields.sent(sobject):
            out.append(_Expect(sobject=sobject, name=name, default=default,
                               types=mapping.FIELD_TYPES[sobject][default],
                               external_id=name == external,
                               custom=default.endswith("__c") or name != default))
        for name in fields.extra.get(sobject, {}):
            out.append(_Expect(sobject=sobject, name=name, default=name,
                               custom=name.endswith("__c")))
    out.append(_Expect(mapping.CONTRACT, "AccountId", "AccountId",
                       frozenset({"reference"}), custom=False, ruled=True))
    out.append(_Expect(mapping.CONTRACT, "Status", "Status", frozenset({"picklist"}),
                       custom=False, ruled=True))
    if multi_currency:
        out.append(_Expect(mapping.CONTRACT, "CurrencyIsoCode", "CurrencyIsoCode",
                           frozenset({"picklist"}), custom=False, ruled=True))
    return out


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


# usage -----------------------------------------------------------------------------------


def _check_usage(report: PreflightReport, client: SalesforceClient) -> None:
    try:
        limits = client.limits()
    except SalesforceError as exc:
        report.add(WARNING, "api_usage", "limits",
                   f"Cannot read the org's limits ({exc.code}: {exc.message}); the push still "
                   "works, the budget guard uses the usage reported on each response.")
        limits = {}
    daily = (limits or {}).get("DailyApiRequests") or {}
    usage = client.usage
    if daily.get("Max"):
        usage = ApiUsage(used=int(daily["Max"]) - int(daily.get("Remaining", 0)),
                         limit=int(daily["Max"]))
    report.api_usage = usage
    if usage is None:
        return
    budget = float(settings.SUBSYNC_SF_API_BUDGET_PCT)
    line = (f"API usage today: {usage.used:,} of {usage.limit:,} requests "
            f"({usage.percent:g}%); the push holds back new contracts past {budget:g}% "
            "(SUBSYNC_SF_API_BUDGET_PCT)")
    report.add(WARNING if usage.over(budget) else INFO, "api_usage", "DailyApiRequests", line)
