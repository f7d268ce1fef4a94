"""`manage.py salesforce_check` and crm.services.preflight against good and broken orgs."""

from __future__ import annotations

from io import StringIO

from django.core.management import CommandError, call_command

from crm.services import preflight


def _check(*args) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("salesforce_check", *args, stdout=out, stderr=StringIO())
    except CommandError as failed:
        return failed.returncode, out.getvalue() + str(failed)
    return 0, out.getvalue()


def _errors(report) -> dict[str, str]:
    return {f.subject: f.message for f in report.errors}


def test_a_good_org_passes_with_its_currency_and_api_usage(emu):
    code, out = _check()
    assert code == 0, out
    assert "logged in to https://127.0.0.1" in out
    assert "multi-currency is off" in out
    assert "API usage today: 3 of 15,000 requests" in out
    assert "The org is ready for subsync." in out
    assert "ERROR" not in out


def test_multi_currency_and_usage_over_budget_are_reported(start_salesforce, settings):
    settings.SUBSYNC_SF_API_BUDGET_PCT = 10
    emu = start_salesforce(multi_currency=True, daily_limit=20)
    emu.org.api_used = 5
    report = preflight.run_preflight()
    assert report.ok and report.multi_currency is True
    assert (report.api_usage.used, report.api_usage.limit) == (8, 20)
    [usage] = [f for f in report.findings if f.check == "api_usage"]
    assert usage.severity == preflight.WARNING and "40%" in usage.message


def test_a_missing_field_fails_with_the_deploy_command(start_salesforce):
    emu = start_salesforce()
    emu.drop_field("Contract", "Subsync_MRR__c")
    code, out = _check()
    assert code == 1
    assert ("Contract.Subsync_MRR__c is missing (or hidden from the integration user by "
            "field-level security): deploy crm/salesforce/metadata with `cd "
            "crm/salesforce/metadata && sf project deploy start --source-dir force-app "
            "--target-org <alias>` and assign the Subsync Integration permission set") in out
    assert "1 problem must be fixed" in out


def test_a_non_unique_external_id_fails_and_says_how_to_fix_it(start_salesforce):
    emu = start_salesforce()
    emu.alter_field("Account", "Subsync_Customer_Id__c", unique=False)
    emu.alter_field("Contract", "Subsync_Subscription_Id__c", external_id=False, unique=False)
    report = preflight.run_preflight()
    errors = _errors(report)
    assert set(errors) == {"Account.Subsync_Customer_Id__c", "Contract.Subsync_Subscription_Id__c"}
    assert "is not Unique" in errors["Account.Subsync_Customer_Id__c"]
    assert "tick Unique" in errors["Account.Subsync_Customer_Id__c"]
    assert "is not External ID and not Unique" in errors["Contract.Subsync_Subscription_Id__c"]
    assert _check()[0] == 1


def test_wrong_types_and_missing_access_are_errors(start_salesforce):
    emu = start_salesforce()
    emu.alter_field("Contract", "Subsync_Renewal_Date__c", type="string")
    emu.alter_field("Contract", "Subsync_Provider__c", updateable=False)
    emu.alter_field("Account", "Subsync_Customer_Id__c", case_sensitive=False)
    report = preflight.run_preflight()
    errors = _errors(report)
    assert "is of type string, but subsync writes a date there" in errors[
        "Contract.Subsync_Renewal_Date__c"]
    assert "cannot edit Contract.Subsync_Provider__c" in errors["Contract.Subsync_Provider__c"]
    assert "sf org assign permset --name Subsync_Integration" in errors[
        "Contract.Subsync_Provider__c"]
    [warning] = report.warnings
    assert warning.subject == "Account.Subsync_Customer_Id__c"
    assert "case-insensitive" in warning.message


def test_renamed_and_extra_fields_are_checked_under_their_org_names(emu, settings):
    settings.SUBSYNC_SF_FIELD_MAP = {"Contract.Subsync_MRR__c": "MRR__c"}
    settings.SUBSYNC_SF_EXTRA_FIELDS = {"Account": {"Type": "Customer - Direct",
                                                    "Tier__c": "gold"}}
    errors = _errors(preflight.run_preflight())
    assert set(errors) == {"Contract.MRR__c", "Account.Tier__c"}
    assert "SUBSYNC_SF_FIELD_MAP maps Subsync_MRR__c to it" in errors["Contract.MRR__c"]


def test_a_refused_login_says_which_settings_to_check(emu, settings):
    settings.SALESFORCE_CLIENT_SECRET = "wrong"
    code, out = _check()
    assert code == 1
    assert "Login failed: Salesforce refused the client_credentials login: invalid_client" in out
    assert "Enable Client Credentials Flow" in out
    assert "wrong" not in out  # never a secret


def test_an_unreachable_org_and_missing_settings(settings):
    settings.SALESFORCE_CLIENT_ID = ""
    code, out = _check()
    assert code == 1 and "Salesforce is not configured: set SALESFORCE_CLIENT_ID" in out

    settings.SALESFORCE_CLIENT_ID = "x"
    settings.SALESFORCE_CLIENT_SECRET = "y"
    settings.SALESFORCE_LOGIN_URL = "https://127.0.0.1:9"
    settings.SALESFORCE_TIMEOUT = 2
    report = preflight.run_preflight()
    [error] = report.errors
    assert error.check == "login" and "Cannot reach Salesforce at SALESFORCE_LOGIN_URL" in \
        error.message


def test_json_output_is_what_the_dashboard_reads(emu):
    import json

    code, out = _check("--json")
    body = json.loads(out)
    assert code == 0 and body["ok"] is True and body["multi_currency"] is False
    assert {f["check"] for f in body["findings"]} >= {"login", "currency", "api_usage"}
