"""`make run` (subsync/run.py): no debug server on a public address, the emulator only when
chosen and never over an operator's settings, and the first admin's password on no command
line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from subsync import run
from subsync.first_admin import ensure_first_admin

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("bind", ["0.0.0.0:8000", "192.168.1.5:8000", "[::]:8000",
                                  "example.com:8000"])
def test_a_public_bind_with_debug_on_is_refused_naming_what_to_set(bind):
    with pytest.raises(SystemExit) as refused:
        run.check_bind(bind, debug=True)
    message = str(refused.value)
    assert bind in message and "127.0.0.1" in message and "DEBUG=false" in message
    assert "SECRET_KEY" in message


@pytest.mark.parametrize("bind", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000",
                                  "127.0.0.2:9000"])
def test_loopback_binds_are_fine_with_debug_on(bind):
    run.check_bind(bind, debug=True)


def test_a_public_bind_is_fine_with_debug_off():
    run.check_bind("0.0.0.0:8000", debug=False)


def test_make_run_refuses_before_starting_anything(tmp_path):
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DEBUG", "SUBSYNC_"))}
    env.update(SUBSYNC_VAR_DIR=str(tmp_path), SUBSYNC_BIND="0.0.0.0:8000")
    result = subprocess.run([sys.executable, "-m", "subsync.run"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SUBSYNC_BIND=0.0.0.0:8000" in result.stderr
    assert "applying database migrations" not in result.stdout


def test_the_emulator_is_the_default_only_without_any_salesforce_setting():
    assert run.emulator_wanted({"DEBUG": "true"}) is True
    assert run.emulator_wanted({"DEBUG": "true", "SALESFORCE_LOGIN_URL": "https://x"}) is False
    assert run.emulator_wanted({"DEBUG": "true", "SALESFORCE_CA_BUNDLE": "/ca.pem"}) is False
    # Not without DEBUG, and never when turned off.
    assert run.emulator_wanted({"DEBUG": "false"}) is False
    assert run.emulator_wanted({"DEBUG": "true", "SUBSYNC_SALESFORCE_EMULATOR": "false"}) \
        is False
    assert run.emulator_wanted({"DEBUG": "true", "SUBSYNC_SALESFORCE_EMULATOR": "true"}) is True


@pytest.mark.parametrize("name", run.SALESFORCE_SETTINGS)
def test_an_explicit_emulator_never_overrides_operator_settings(name, tmp_path):
    env = {"DEBUG": "true", "SUBSYNC_SALESFORCE_EMULATOR": "true", name: "operator-value"}
    with pytest.raises(SystemExit) as refused:
        run.start_emulator(env, tmp_path)
    assert name in str(refused.value)
    assert env[name] == "operator-value"


def test_operator_settings_stay_as_given_when_the_emulator_is_not_started(tmp_path):
    env = {"DEBUG": "true", "SALESFORCE_LOGIN_URL": "https://acme.my.salesforce.com"}
    assert run.start_emulator(env, tmp_path) is None
    assert env["SALESFORCE_LOGIN_URL"] == "https://acme.my.salesforce.com"
    assert env["SUBSYNC_SALESFORCE_EMULATOR"] == "false"


def test_production_settings_refuse_the_emulator(tmp_path):
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DEBUG", "SUBSYNC_"))}
    env.update(SUBSYNC_VAR_DIR=str(tmp_path), SECRET_KEY="s" * 50, DEBUG="false",
               SUBSYNC_SALESFORCE_EMULATOR="true", DJANGO_SETTINGS_MODULE="subsync.settings")
    result = subprocess.run([sys.executable, "-c", "from django.conf import settings; "
                             "settings.DEBUG"], cwd=ROOT, env=env, capture_output=True,
                            text=True)
    assert result.returncode != 0
    assert "SUBSYNC_SALESFORCE_EMULATOR=true is for `make run`" in result.stderr


@pytest.mark.django_db
def test_the_first_admin_is_created_once_with_a_password_printed_once():
    message = ensure_first_admin()
    password = message.split("password '")[1].split("'")[0]
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    assert password not in admin.password
    assert ensure_first_admin() == ""


def test_the_first_admin_password_is_on_no_command_line(monkeypatch):
    """make run starts a child that makes the password; nothing secret is in its argv."""
    seen = []

    def fake_run(cmd, **kwargs):
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, stdout="created the first admin account: "
                                           "user 'admin', password 'Zx9'", stderr="")

    monkeypatch.setattr(run.subprocess, "run", fake_run)
    run.ensure_admin({})
    assert seen == [[sys.executable, "-m", "subsync.first_admin"]]
