"""The Overview after a ledger change: the last figures, at most a minute old, marked as such on
the page and in the API, while a worker computes new ones (billing.selectors.overview_cache)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from billing.selectors import overview_cache
from dashboard.views.common import utc_today
from tests.billing.selectors.factories import change

NOTICE = "newer figures are being computed"


@pytest.fixture
def refreshes(monkeypatch) -> list[str]:
    """No worker runs here: the refresh asked for is recorded instead of sent."""
    asked: list[str] = []
    monkeypatch.setattr(overview_cache.app, "send_task", lambda name, **kw: asked.append(name))
    return asked


def test_a_changed_ledger_shows_the_last_figures_with_their_time_and_a_notice(
        login, viewer, subscription, refreshes):
    client = login(viewer)
    first = client.get(reverse("dashboard:overview")).content.decode()
    stored = overview_cache.cached_dashboard(today=utc_today())
    assert NOTICE not in first
    subscription.mrr = 30_000  # $300.00: a change the stored figures do not know yet
    subscription.save(update_fields=["mrr"])
    change(subscription, when=stored.computed_at, before="active", after="active",
           mrr_before=12_000, mrr_after=30_000, movement="expansion", amount=18_000)

    page = client.get(reverse("dashboard:overview")).content.decode()
    summary = client.get("/api/v1/metrics/summary/").json()

    assert NOTICE in page and f"Figures as of {stored.computed_at:%H:%M} UTC." in page
    # The MRR tile holds the last figures ($120), the renewal tiles are read live.
    mrr_tile = page.split('<div class="label">MRR</div>')[1].split("</div>")[0]
    assert "$120" in mrr_tile and "$300" not in mrr_tile
    assert summary["stale"] is True and summary["mrr"]["value"]["amount"] == 12_000
    assert refreshes == ["billing.tasks.refresh_overview_figures"]
