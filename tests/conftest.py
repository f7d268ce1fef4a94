import pytest


@pytest.fixture
def celery_app():
    from subsync.celery import app

    return app
