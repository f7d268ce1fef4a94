import pytest

from subsync.celery import app

pytestmark = pytest.mark.django_db


def test_healthz_is_public_and_ok_when_database_and_broker_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok"}


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
