"""Tests never flush a shared Redis: `cache.clear()` on Django's Redis cache is FLUSHDB, and
the cache shares its database with the Celery broker unless CACHE_URL says otherwise, so it
would empty the queue (issue 15, test suite hygiene)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from tests.support.cache import forget_test_keys

TESTS = Path(__file__).parent
CLEAR = re.compile(r"\bcache\.clear\(\)|\bcaches\[[^\]]+\]\.clear\(\)")


def test_no_test_clears_the_whole_cache():
    offenders = [str(path.relative_to(TESTS)) for path in TESTS.rglob("*.py")
                 if path.name != "cache.py" and path != Path(__file__)
                 and CLEAR.search(path.read_text())]
    assert offenders == [], "use tests.support.cache.forget_test_keys()"


def test_the_run_has_a_cache_prefix_of_its_own():
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    assert prefix.startswith("subsync-test-") and prefix != "subsync"


def test_forgetting_deletes_only_this_run_s_keys():
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        pytest.skip("the cache is Redis only when CELERY_BROKER_URL or CACHE_URL is (CI)")
    client = backend._cache.get_client(write=True)
    foreign = f"{settings.CACHES['default']['KEY_PREFIX']}-not-ours:queue"  # e.g. Celery's
    client.rpush(foreign, "a message")
    try:
        cache.set("reliab-own-key", 1)
        forget_test_keys()
        assert cache.get("reliab-own-key") is None
        assert client.lrange(foreign, 0, -1) == [b"a message"]
    finally:
        client.delete(foreign)
