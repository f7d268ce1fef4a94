import pytest

from subsync.celery import app

pytestmark = pytest.mark.django_db


def configure_webhooks(settings, *, chargebee: bool, braintree: bool) -> None:
    settings.CHARGEBEE_WEBHOOK_USERNAME = "cb-user-value" if chargebee else ""
    settings.CHARGEBEE_WEBHOOK_PASSWORD = "hook-secret-value" if chargebee else ""
    settings.BRAINTREE_MERCHANT_ID = "merchant-id-value" if braintree else ""
    settings.BRAINTREE_PUBLIC_KEY = "public" if braintree else ""
    settings.BRAINTREE_PRIVATE_KEY = "private-secret-value" if braintree else ""


def test_healthz_is_public_and_ok_when_database_and_broker_answer(client, settings):
    configure_webhooks(settings, chargebee=True, braintree=True)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok",
                               "webhooks": {"chargebee": "ok", "braintree": "ok"},
                               "salesforce": "not configured: needs SALESFORCE_CLIENT_ID, "
                                             "SALESFORCE_CLIENT_SECRET"}


def test_healthz_says_when_pushes_go_to_the_built_in_emulator(client, settings):
    settings.SUBSYNC_SALESFORCE_EMULATOR = True
    assert client.get("/healthz").json()["salesforce"] == "built-in emulator"
    settings.SUBSYNC_SALESFORCE_EMULATOR = False
    settings.SALESFORCE_CLIENT_ID = "client-id-value"
    settings.SALESFORCE_CLIENT_SECRET = "client-secret-value"
    body = client.get("/healthz")
    assert body.json()["salesforce"] == "configured"
    assert b"client-secret-value" not in body.content


def test_healthz_says_which_webhooks_are_refused_and_what_to_set(client, settings):
    configure_webhooks(settings, chargebee=False, braintree=True)
    settings.CHARGEBEE_WEBHOOK_USERNAME = "cb-user-value"  # the password alone is missing
    response = client.get("/healthz")
    # The app is up: a load balancer must not take it out for one provider's settings.
    assert response.status_code == 200
    assert response.json()["webhooks"] == {
        "chargebee": "refused: needs CHARGEBEE_WEBHOOK_PASSWORD", "braintree": "ok"}


def test_healthz_names_settings_but_never_their_values(client, settings):
    configure_webhooks(settings, chargebee=True, braintree=False)
    settings.BRAINTREE_MERCHANT_ID = "merchant-id-value"
    body = client.get("/healthz").content.decode()
    assert "BRAINTREE_PUBLIC_KEY" in body and "BRAINTREE_PRIVATE_KEY" in body
    for value in ("cb-user-value", "hook-secret-value", "merchant-id-value"):
        assert value not in body


def test_healthz_is_503_naming_the_broker_when_it_is_down(client, monkeypatch):
    # Port 9 on loopback has no server: a real connection attempt that is refused.
    # Celery reads CELERY_BROKER_URL from the environment before its configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:9/0")
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:9/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"].startswith("error")


def test_healthz_is_503_when_the_database_is_down(client, monkeypatch):
    from subsync import health

    def broken_cursor(*args, **kwargs):
        raise health.connection.Database.OperationalError("connection refused")

    # The test database cannot be stopped under the test runner; fail its cursor instead.
    monkeypatch.setattr(health.connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"].startswith("error")


def test_everything_else_requires_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302 and "/login/" in response["Location"]
