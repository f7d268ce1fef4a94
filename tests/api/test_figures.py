"""The API and the dashboard never disagree: on the same rows, each endpoint answers the figures
the matching page shows (both call the same selectors), and the renewal figures are also
checked against their definition, written out here."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.selectors.renewals import next_quarter, this_quarter
from crm.models import ContractSync
from tests.billing.selectors.factories import customer, rate, subscription


@pytest.fixture
def book(settings, db):
    """Four customers renewing this quarter and next, in USD, EUR (1.10) and JPY (no rate)."""
    settings.SUBSYNC_REPORTING_CURRENCY = "USD"
    rate("EUR", "1.10")
    today = timezone.now().date()
    q1, q2 = this_quarter(today=today), next_quarter(today=today)

    def on(window, days):
        return dt.datetime.combine(window.start + dt.timedelta(days=days), dt.time(12),
                                   tzinfo=dt.UTC)

    acme, beta = customer("Acme Ltd"), customer("Beta GmbH")
    gamma, delta = customer("Gamma KK"), customer("Delta Inc")
    subs = {
        "acme-usd": subscription(acme, mrr=12_000, current_term_end=on(q1, 10), plan_id="pro"),
        "acme-eur": subscription(acme, mrr=10_000, currency="EUR",
                                 current_term_end=on(q1, 40), plan_id="pro"),
        "beta-eur": subscription(beta, mrr=50_000, currency="EUR", status="non_renewing",
                                 current_term_end=on(q2, 5), plan_id="enterprise"),
        "gamma-jpy": subscription(gamma, mrr=100_000, currency="JPY",
                                  current_term_end=on(q1, 20), plan_id="pro"),
        "delta-usd": subscription(delta, mrr=3_000, status="past_due",
                                  current_term_end=on(q1, 30), plan_id="starter"),
        "delta-trial": subscription(delta, mrr=0, status="trial", current_term_end=on(q1, 3)),
    }
    ContractSync.objects.create(subscription=subs["acme-usd"], state=ContractSync.State.FAILED,
                                version=2, synced_version=1, last_error_code="X")
    ContractSync.objects.create(subscription=subs["beta-eur"], state=ContractSync.State.SYNCED,
                                version=1, synced_version=1)
    return subs


@pytest.fixture
def page(client, viewer):
    """The dashboard page's template context for a URL, as the viewer sees it."""
    client.force_login(viewer)

    def context(name: str, query: str = ""):
        response = client.get(reverse(f"dashboard:{name}") + query)
        assert response.status_code == 200
        return response.context

    return context


def test_renewals_this_quarter_by_definition(book, as_viewer):
    body = as_viewer.get(reverse("api:renewals")).json()

    assert body["window"]["name"] == "this_quarter"
    assert [group["customer_name"] for group in body["results"]] == [
        "Acme Ltd", "Delta Inc", "Gamma KK"]  # 120 + 110 USD, 30 USD, JPY without a rate last
    acme = body["results"][0]
    assert acme["subtotal"]["amount"] == 12_000 + 11_000
    assert [row["external_id"] for row in acme["rows"]] == [book["acme-usd"].external_id,
                                                           book["acme-eur"].external_id]
    total = body["mrr_at_stake"]
    assert (total["amount"], total["major"], total["currency"]) == (26_000, "260.00", "USD")
    assert total["missing_rates"] == ["JPY"] and "JPY" in total["warning"]
    assert {part["currency"]: part["amount"] for part in total["breakdown"]} == {
        "EUR": 10_000, "JPY": 100_000, "USD": 15_000}
    assert (body["customers"], body["subscriptions"]) == (3, 4)


def test_renewals_equal_the_dashboard_report(book, as_viewer, page):
    query = "?window=next_quarter"
    for params in ("", query, "?min_mrr=100", "?status=past_due,active&page_size=1&page=2"):
        report = page("renewals", params)["report"]
        body = as_viewer.get(reverse("api:renewals") + params).json()

        assert body["mrr_at_stake"]["amount"] == report.mrr_at_stake.amount
        assert body["mrr_at_stake"]["missing_rates"] == list(report.mrr_at_stake.missing_rates)
        assert (body["customers"], body["subscriptions"]) == (report.customers,
                                                              report.subscriptions)
        assert body["page"]["total"] == report.groups.total
        assert [(g["customer_id"], g["subtotal"]["amount"], [r["subscription_id"]
                                                             for r in g["rows"]])
                for g in body["results"]] == [
            (g.customer_id, g.subtotal.amount, [r.subscription_id for r in g.rows])
            for g in report.groups.items]


def test_flat_renewals_are_the_dashboard_csv(book, as_viewer, client, viewer):
    client.force_login(viewer)
    export = client.get(reverse("dashboard:renewals-csv") + "?window=this_quarter")
    lines = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))

    response = as_viewer.get(reverse("api:renewal-rows") + "?window=this_quarter")
    rows = json.loads(b"".join(response.streaming_content))["results"]

    assert response["Content-Type"] == "application/json"
    assert [(r["external_id"], r["mrr_major"], r["mrr_converted_major"] or "")
            for r in rows] == [(line["subscription_id"], line["mrr"],
                                line["mrr_reporting_currency"]) for line in lines]
    assert [r["external_id"] for r in rows] == [book[name].external_id for name in (
        "acme-usd", "acme-eur", "delta-usd", "gamma-jpy")]
    eur = rows[1]
    assert (eur["mrr"], eur["mrr_major"], eur["currency"], eur["mrr_converted"],
            eur["reporting_currency"]) == (10_000, "100.00", "EUR", 11_000, "USD")
    assert all(not isinstance(value, dict | list) for row in rows for value in row.values())


def test_metric_summary_equals_the_overview_tiles(book, as_viewer, page):
    tiles = page("overview")["o"]

    body = as_viewer.get(reverse("api:metrics-summary")).json()

    for name in ("mrr", "arr", "net_new_mrr"):
        assert body[name]["value"]["amount"] == getattr(tiles, name).value.amount
        assert body[name]["previous"]["amount"] == getattr(tiles, name).previous.amount
    for name in ("active_subscriptions", "paying_customers"):
        assert body[name]["value"] == getattr(tiles, name).value
    for name in ("logo_churn", "gross_mrr_churn", "net_mrr_churn", "nrr"):
        value = getattr(tiles, name).value.value
        assert body[name]["value"]["value"] == (None if value is None else f"{value:.6f}")
    assert body["missing_rates"] == list(tiles.missing_rates) == ["JPY"]
    assert body["warnings"] == list(tiles.warnings)


def test_metric_series_equal_the_overview_charts(book, as_viewer, page):
    figures = page("overview")["figures"]

    mrr = as_viewer.get(reverse("api:metrics-mrr") + "?months=12").json()
    movements = as_viewer.get(reverse("api:metrics-movements")).json()
    churn = as_viewer.get(reverse("api:metrics-churn-rates")).json()

    assert [(p["month"], p["mrr"]["amount"], p["active_subscriptions"])
            for p in mrr["results"]] == [
        (p.month.isoformat(), p.mrr.amount, p.active_subscriptions) for p in figures.mrr_series]
    assert [m["net_new"]["amount"] for m in movements["results"]] == [
        m.net_new.amount for m in figures.movements]
    assert [c["logo_churn"]["numerator"] for c in churn["results"]] == [
        c.logo_churn.numerator for c in figures.churn_rates]
    assert mrr["results"][-1]["mrr"]["missing_rates"] == ["JPY"]


def test_churn_equals_the_churn_page(book, as_viewer, page):
    report = page("churn")["report"]

    body = as_viewer.get(reverse("api:metrics-churn")).json()

    assert body["lost_mrr"]["amount"] == report.lost_mrr.amount
    assert [m["month"] for m in body["months"]] == [m.month.isoformat() for m in report.months]


def test_sync_and_events_equal_the_sync_page(book, as_viewer, page, failed_event):
    context = page("sync")

    summary = as_viewer.get(reverse("api:sync-summary")).json()
    failures = as_viewer.get(reverse("api:sync-failures")).json()
    counts = as_viewer.get(reverse("api:event-counts")).json()["counts"]

    for state in ("pending", "synced", "failed", "parked", "dirty", "due"):
        assert summary[state] == getattr(context["summary"], state)
    assert (summary["failed"], summary["synced"]) == (1, 1)
    assert [f["sync_id"] for f in failures["results"]] == [
        f.sync_id for f in context["failures"].items]
    assert counts == context["events"]


def test_subscription_pages_equal_the_dashboard_list(book, as_viewer, page):
    for ordering in ("-mrr", "mrr", "renewal", "-renewal", "-updated", "updated"):
        shown = [row.id for row in page("subscriptions", f"?ordering={ordering}")["page"].items]

        ids, url = [], reverse("api:subscriptions") + f"?ordering={ordering}&page_size=2"
        while url:
            body = as_viewer.get(url).json()
            ids += [row["id"] for row in body["results"]]
            url = body["next"]

        assert ids == shown, ordering
