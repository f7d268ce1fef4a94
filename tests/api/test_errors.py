"""One error body for every 4xx (and 5xx): status, code, message, fields; bad input is a 400."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.throttling import UserRateThrottle

from api.errors import exception_handler


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"status", "code", "message", "fields"}
    assert (body["error"]["status"], body["error"]["code"]) == (status, code)
    assert body["error"]["message"]
    return body["error"]["fields"]


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "fields"), [
    ("/api/v1/renewals/?window=someday", {"window"}),
    ("/api/v1/renewals/?from=2027-02-30&to=x", {"from", "to"}),
    ("/api/v1/renewals/?window=range&from=2020-01-01&to=2030-01-01", {"to"}),
    ("/api/v1/renewals/?min_mrr=-5&currency=EURO", {"min_mrr", "currency"}),
    ("/api/v1/renewals/?page=0", {"page"}),
    ("/api/v1/renewals/?min_mrr=1.5e308", {"min_mrr"}),
    ("/api/v1/renewals/rows/?min_mrr=10000000000000", {"min_mrr"}),
    ("/api/v1/subscriptions/?max_mrr=1e20", {"max_mrr"}),
    ("/api/v1/renewals/rows/?status=gone", {"status"}),
    ("/api/v1/metrics/mrr/?months=0", {"months"}),
    ("/api/v1/metrics/movements/?months=121", {"months"}),
    ("/api/v1/metrics/churn-rates/?months=ten", {"months"}),
    ("/api/v1/metrics/nrr/?months=999999999999999999999999", {"months"}),
    ("/api/v1/metrics/churn/?from=2020-01&to=2027-01", {"to"}),
    ("/api/v1/metrics/churn/subscriptions/?page_size=501", {"page_size"}),
    ("/api/v1/subscriptions/?ordering=name&status=lost", {"ordering", "status"}),
    ("/api/v1/subscriptions/?min_mrr=lots&renewal_from=yesterday", {"min_mrr", "renewal_from"}),
    ("/api/v1/subscriptions/?cursor=bm90LWEtY3Vyc29y", {"cursor"}),
    ("/api/v1/subscriptions/?page_size=0", {"page_size"}),
    ("/api/v1/customers/?provider=stripe", {"provider"}),
    ("/api/v1/events/?from=2027-01-02&to=2027-01-01", {"to"}),
    ("/api/v1/events/?cursor=%00", {"cursor"}),
    ("/api/v1/sync/failures/?state=broken&page=-1", {"state", "page"}),
    ("/api/v1/sync/attempts/?limit=0", {"limit"}),
    ("/api/v1/sync/reconcile-runs/?limit=1e3", {"limit"}),
])
def test_unreadable_parameters_are_a_400_naming_each(as_viewer, url, fields):
    assert set(assert_error(as_viewer.get(url), 400, "invalid_parameters")) == fields


@pytest.mark.django_db
def test_a_cursor_from_another_ordering_is_refused(as_viewer, subscription):
    for extra in range(3):
        subscription.pk, subscription.external_id = None, f"sub_extra_{extra}"
        subscription.save()
    first = as_viewer.get("/api/v1/subscriptions/?ordering=-mrr&page_size=1").json()

    cursor = first["next"].split("cursor=")[1].split("&")[0]
    response = as_viewer.get(f"/api/v1/subscriptions/?ordering=renewal&cursor={cursor}")

    assert set(assert_error(response, 400, "invalid_parameters")) == {"cursor"}


@pytest.mark.django_db
def test_unknown_objects_and_paths_are_404s_in_the_same_shape(as_operator):
    assert_error(as_operator.get("/api/v1/subscriptions/999999/"), 404, "not_found")
    assert_error(as_operator.get("/api/v1/events/999999/"), 404, "not_found")
    assert_error(as_operator.get("/api/v1/customers/999999/"), 404, "not_found")
    assert_error(as_operator.post("/api/v1/sync/999999/park/"), 404, "not_found")
    assert_error(as_operator.get("/api/v1/no-such-thing/"), 404, "not_found")
    assert_error(as_operator.get("/api/v2/"), 404, "not_found")


@pytest.mark.django_db
def test_wrong_methods_and_bodies(as_operator, failed_sync):
    assert_error(as_operator.delete("/api/v1/renewals/"), 405, "method_not_allowed")
    assert_error(as_operator.get(f"/api/v1/sync/{failed_sync.pk}/park/"), 405,
                 "method_not_allowed")
    assert_error(as_operator.post(f"/api/v1/sync/{failed_sync.pk}/park/", "{not json",
                                  content_type="application/json"), 400, "parse_error")
    assert_error(as_operator.post(f"/api/v1/sync/{failed_sync.pk}/park/", "reason=x",
                                  content_type="application/x-www-form-urlencoded"), 415,
                 "unsupported_media_type")
    fields = assert_error(as_operator.post(f"/api/v1/sync/{failed_sync.pk}/park/",
                                           {"reason": "x" * 501}, format="json"), 400,
                          "invalid_parameters")
    assert set(fields) == {"reason"}


@pytest.mark.django_db
def test_throttled_requests_get_a_429_with_retry_after(as_viewer, monkeypatch):
    monkeypatch.setitem(UserRateThrottle.THROTTLE_RATES, "user", "2/min")

    statuses = [as_viewer.get(reverse("api:sync-summary")).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    response = as_viewer.get(reverse("api:sync-summary"))
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0


def test_an_unexpected_exception_is_a_500_in_the_same_shape(caplog):
    class Request:
        path = "/api/v1/renewals/"

    response = exception_handler(RuntimeError("a bug"), {"request": Request()})

    assert response.status_code == 500
    assert response.data["error"]["code"] == "server_error"
    assert "a bug" not in str(response.data)
    assert "a bug" in caplog.text
