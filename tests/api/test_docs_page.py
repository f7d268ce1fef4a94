"""The browsable docs: served from our static files (no CDN), staff only, linked from the
dashboard."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_docs_page_loads_everything_from_our_own_static_files(client, viewer):
    client.force_login(viewer)

    page = client.get(reverse("api:docs"))
    script = client.get(reverse("api:docs") + "?script=")

    assert page.status_code == 200
    html = page.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui-bundle.js" in source for source in sources)
    assert all(source.startswith("/") for source in sources), sources
    for source in sources:
        if source.startswith("/static/"):
            assert finders.find(source.removeprefix("/static/")), source
    assert "<script>" not in html and "<style>" not in html  # the CSP allows files only
    assert script.status_code == 200 and reverse("api:schema") in script.content.decode()


def test_the_docs_and_schema_are_for_staff(client, outsider):
    assert client.get(reverse("api:docs")).status_code == 302  # to the login page
    assert client.get(reverse("api:schema")).status_code == 401
    client.force_login(outsider)
    assert client.get(reverse("api:docs")).status_code == 403
    assert client.get(reverse("api:schema")).status_code == 403


def test_the_dashboard_links_to_the_docs(client, viewer):
    client.force_login(viewer)

    page = client.get(reverse("dashboard:overview")).content.decode()

    assert f'href="{reverse("api:docs")}"' in page
