"""The start-up warnings for webhooks that would be refused (billing.checks)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from billing.checks import webhook_settings


def unconfigure(settings, *, chargebee: bool = True, braintree: bool = True) -> None:
    if chargebee:
        settings.CHARGEBEE_WEBHOOK_USERNAME = settings.CHARGEBEE_WEBHOOK_PASSWORD = ""
    else:
        settings.CHARGEBEE_WEBHOOK_USERNAME = "h"
        settings.CHARGEBEE_WEBHOOK_PASSWORD = "a-long-webhook-password"
    if braintree:
        settings.BRAINTREE_MERCHANT_ID = settings.BRAINTREE_PUBLIC_KEY = ""
        settings.BRAINTREE_PRIVATE_KEY = ""
    else:
        settings.BRAINTREE_MERCHANT_ID = "merchant"
        settings.BRAINTREE_PUBLIC_KEY, settings.BRAINTREE_PRIVATE_KEY = "pub", "priv"


def test_one_warning_per_refused_provider_naming_what_to_set(settings):
    unconfigure(settings)
    warnings = webhook_settings()
    assert [w.id for w in warnings] == ["billing.W001", "billing.W002"]
    assert all(w.level == checks.WARNING for w in warnings)
    chargebee, braintree = warnings
    assert "CHARGEBEE_WEBHOOK_PASSWORD" in chargebee.msg
    assert "/webhooks/chargebee/" in chargebee.hint and "billing.W001" in chargebee.hint
    assert "BRAINTREE_PRIVATE_KEY" in braintree.msg


def test_no_warning_for_a_configured_provider(settings):
    unconfigure(settings, chargebee=False, braintree=True)
    assert [w.id for w in webhook_settings()] == ["billing.W002"]
    unconfigure(settings, chargebee=False, braintree=False)
    assert webhook_settings() == []


def test_registered_with_djangos_checks_and_can_be_silenced(settings):
    unconfigure(settings, chargebee=True, braintree=False)
    assert [m.id for m in checks.run_checks(tags=["subsync"])] == ["billing.W001"]
    # `manage.py check` reports it, and SILENCED_SYSTEM_CHECKS hides it.
    with pytest.raises(SystemCheckError, match=r"billing\.W001"):
        call_command("check", "--fail-level", "WARNING")
    settings.SILENCED_SYSTEM_CHECKS = ["billing.W001"]
    call_command("check", "--fail-level", "WARNING")


def test_manage_py_check_prints_it_unless_silenced_in_the_environment(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CHARGEBEE_", "BRAINTREE_", "SILENCED_", "DATABASE_"))}
    env.update(DEBUG="true", SUBSYNC_VAR_DIR=str(tmp_path), CHARGEBEE_WEBHOOK_USERNAME="h",
               CHARGEBEE_WEBHOOK_PASSWORD="a-long-webhook-password")
    root = Path(__file__).resolve().parents[2]

    def check(**extra) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "manage.py", "check"], cwd=root,
                              env={**env, **extra}, capture_output=True, text=True)

    reported = check()
    assert reported.returncode == 0
    assert "(billing.W002) Braintree webhooks are refused" in reported.stderr
    assert "billing.W001" not in reported.stderr
    silenced = check(SILENCED_SYSTEM_CHECKS="billing.W002")
    assert "billing.W002" not in silenced.stdout + silenced.stderr
    assert "no issues (1 silenced)" in silenced.stdout


@pytest.mark.parametrize("password", ["pw", "s3cret-pass", "x" * 15])
def test_a_short_chargebee_webhook_password_stops_the_app(settings, password):
    settings.CHARGEBEE_WEBHOOK_USERNAME = "hooks"
    settings.CHARGEBEE_WEBHOOK_PASSWORD = password
    with pytest.raises(SystemCheckError) as refused:
        call_command("check")
    assert "billing.E001" in str(refused.value)
    assert f"CHARGEBEE_WEBHOOK_PASSWORD is {len(password)} characters long" in str(refused.value)
    assert password not in str(refused.value).replace("CHARGEBEE_WEBHOOK_PASSWORD", "")


@pytest.mark.parametrize("password", ["", "x" * 16, "a-long-webhook-password"])
def test_long_or_unset_passwords_pass(settings, password):
    settings.CHARGEBEE_WEBHOOK_USERNAME = "hooks"
    settings.CHARGEBEE_WEBHOOK_PASSWORD = password
    settings.SILENCED_SYSTEM_CHECKS = ["billing.W001", "billing.W002"]
    call_command("check", "--fail-level", "WARNING")
