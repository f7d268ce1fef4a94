"""What an operator deploys: the image's build context, the proxy header, `check --deploy`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def _pattern_regex(pattern: str) -> re.Pattern:
    """A .dockerignore line as Docker reads it: relative to the context root, `**` any
    number of directories, `*` and `?` within one name; it matches a path or any directory
    above it (excluding a directory excludes what is in it)."""
    pattern = pattern.strip("/")
    parts = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif pattern[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            parts.append("[^/]")
            index += 1
        else:
            parts.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(parts) + "(?:/.*)?")


def build_context(root: Path, dockerignore: str) -> set[str]:
    """The files `docker build` would send from `root` (later lines win, `!` re-includes)."""
    rules = []
    for line in dockerignore.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        rules.append((negated, _pattern_regex(line.lstrip("!"))))
    sent = set()
    for path in root.rglob("*"):
        if path.is_dir():
            continue
        relative = path.relative_to(root).as_posix()
        excluded = False
        for negated, regex in rules:
            if regex.fullmatch(relative):
                excluded = not negated
        if not excluded:
            sent.add(relative)
    return sent


def test_the_build_context_leaves_out_secrets_local_data_and_history(tmp_path):
    for name in (".env", ".env.production", "var/subsync.sqlite3", "var/sf-emulator/ca.key",
                 ".git/config", ".git/objects/ab/cdef", ".venv/bin/python", "deploy/.env",
                 "billing/models.py", "manage.py", "Dockerfile", "requirements/base.txt",
                 "static/css/subsync.css", "templates/dashboard/base.html"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    sent = build_context(tmp_path, (ROOT / ".dockerignore").read_text())
    assert sent == {"billing/models.py", "manage.py", "Dockerfile", "requirements/base.txt",
                    "static/css/subsync.css", "templates/dashboard/base.html"}


def test_the_image_copies_the_folder_so_the_ignore_file_matters():
    assert "COPY . ." in (ROOT / "Dockerfile").read_text()


def test_git_ignores_the_env_file():
    lines = (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in lines
    for path in (".env", "deploy/.env", ".env.production"):
        result = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert result.returncode == 0, path


def _settings_value(tmp_path, name: str, **environ) -> str:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SUBSYNC_", "SECURE_", "DEBUG"))}
    env.update(SUBSYNC_VAR_DIR=str(tmp_path), SECRET_KEY="k" * 50,
               DJANGO_SETTINGS_MODULE=settings.SETTINGS_MODULE, **environ)
    code = f"from django.conf import settings; print(repr(settings.{name}))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_forwarded_proto_header_is_trusted_only_behind_a_proxy(tmp_path):
    assert _settings_value(tmp_path, "SECURE_PROXY_SSL_HEADER") == "None"
    assert _settings_value(tmp_path, "SECURE_PROXY_SSL_HEADER", SUBSYNC_BEHIND_PROXY="true") \
        == "('HTTP_X_FORWARDED_PROTO', 'https')"


PRODUCTION = {
    "SECRET_KEY": "p" * 30 + "-Zq8#x" + "r" * 30,
    "DEBUG": "false",
    "ALLOWED_HOSTS": "subsync.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SUBSYNC_BEHIND_PROXY": "true",
    "CHARGEBEE_WEBHOOK_USERNAME": "chargebee",
    "CHARGEBEE_WEBHOOK_PASSWORD": "a-long-webhook-password-1",
    "BRAINTREE_MERCHANT_ID": "merchant",
    "BRAINTREE_PUBLIC_KEY": "public",
    "BRAINTREE_PRIVATE_KEY": "private",
}


@pytest.mark.slow
def test_check_deploy_is_clean_under_production_settings(tmp_path):
    # DJANGO_ALLOW_ASYNC_UNSAFE: set by the browser tests for their own process, never a
    # deployment's.
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SUBSYNC_", "SECURE_", "DEBUG", "SALESFORCE_", "CHARGEBEE_",
                                  "BRAINTREE_", "SILENCED_", "DJANGO_ALLOW_ASYNC_UNSAFE"))}
    env.update(PRODUCTION, SUBSYNC_VAR_DIR=str(tmp_path),
               DJANGO_SETTINGS_MODULE=settings.SETTINGS_MODULE)
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy",
                             "--fail-level", "WARNING"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
