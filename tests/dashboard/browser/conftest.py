"""A real browser (Debian's chromium through Playwright) against the app on a live server.

`playwright install` cannot download browsers here, so the tests drive /usr/bin/chromium.
Without it they are skipped on a developer's machine and fail in CI (CI installs it).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = os.environ.get("SUBSYNC_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "browser-test-password-1"
SCREENSHOTS = Path(settings.VAR_DIR) / "screenshots"


def _chromium_available() -> bool:
    return Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is not None


# Per module, not per session: Playwright's sync API runs an asyncio loop on this thread for
# as long as it is open, and later tests that start their own loop (asyncio.run) must not
# find one running.
@pytest.fixture(scope="module")
def browser():
    if not _chromium_available():
        if os.environ.get("CI"):
            pytest.fail(f"chromium not found at {CHROMIUM}: CI must install it (.ci/run)")
        pytest.skip(f"chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the test's own database work
    # (fixtures, checks) is ordinary blocking code that Django would otherwise refuse.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        yield browser
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)


@pytest.fixture
def page(browser, live_server, admin_user):
    """A logged-in page (through the dashboard's own login form) on a laptop-sized screen."""
    context = browser.new_context(viewport={"width": 1366, "height": 900},
                                  timezone_id="Europe/Berlin", accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.base = live_server.url
    page.errors = errors
    yield page
    context.close()


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Keep a picture of the page under var/screenshots/ (a test artifact)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
