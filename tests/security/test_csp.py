"""The Content-Security-Policy: our own static files only, nothing inline.

The browser check (tests/dashboard/browser/test_csp.py) loads every page and fails on any
violation; these tests pin the header and keep the templates free of what it would block.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    policy = {}
    for directive in header.split(";"):
        name, *values = directive.split()
        policy[name] = values
    return policy


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/healthz", "/admin/login/"])
def test_every_page_allows_only_its_own_files(client, path):
    policy = _policy(client.get(path))
    for directive in ("default-src", "script-src", "style-src", "img-src", "connect-src"):
        assert policy[directive] == ["'self'"], directive
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]


@pytest.mark.django_db
def test_dashboard_pages_carry_the_policy(admin_client):
    policy = _policy(admin_client.get("/"))
    assert "'unsafe-inline'" not in policy["script-src"] + policy["style-src"]


def _templates():
    """Our templates: the project's and each of our apps' (not the installed packages')."""
    roots = [TEMPLATES, *Path(settings.BASE_DIR).glob("*/templates")]
    return sorted(path for root in roots for path in root.rglob("*.html"))


@pytest.mark.parametrize("template", _templates(), ids=lambda path: path.name)
def test_templates_have_no_inline_styles_or_scripts(template):
    text = re.sub(r"\{#.*?#\}", "", template.read_text())  # not template comments
    assert not re.search(r"\sstyle\s*=", text), "inline style attribute"
    assert "<style" not in text, "inline <style> element"
    assert not re.search(r"\son[a-z]+\s*=", text), "inline event handler"
    for tag in re.findall(r"<script\b[^>]*>", text):
        assert "src=" in tag or 'type="application/json"' in tag, tag


def test_htmx_adds_no_style_element():
    """htmx inserts a <style> for its request indicators unless told not to."""
    base = (TEMPLATES / "dashboard" / "base.html").read_text()
    assert '<meta name="htmx-config" content=\'{"includeIndicatorStyles": false}\'>' in base
