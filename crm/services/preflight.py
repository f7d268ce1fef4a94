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

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from crm import mapping
from crm.mapping import FieldConfig
from crm.salesforce.client import SalesforceClient
from crm.salesforce.config import SalesforceConfig
from crm.salesforce.errors import SalesforceError
from crm.salesforce.usage import ApiUsage
from crm.services.preflight_fields import (  # noqa: F401 (Finding, WARNING: part of this API)
    ERROR,
    INFO,
    WARNING,
    Finding,
    PreflightReport,
    _check_field,
    _describe,
    _Expect,
    _field,
)
from crm.services.preflight_products import check_products_and_renewals


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
    check_products_and_renewals(report, client)
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


# expectations ---------------------------------------------------------------------------


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
