"""Forgetting what the tests put in the shared cache, without flushing anything else.

`cache.clear()` on Django's Redis cache is FLUSHDB: when the cache shares its Redis database
with the Celery broker (CACHE_URL defaults to CELERY_BROKER_URL), it empties the queue of a
worker the same run (or another run on that database) relies on. The test run has a key
prefix of its own (CACHE_KEY_PREFIX, set by tests.environment), and only keys under it are
deleted here.
"""

from __future__ import annotations

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache


def forget_test_keys() -> None:
    """Delete every cache key of this test run. On Redis only the run's own keys (a scan of
    its prefix); a file cache lives in the run's own var dir and is cleared whole."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        client = backend._cache.get_client(write=True)
        keys = list(client.scan_iter(match=backend.make_key("*"), count=1000))
        if keys:
            client.delete(*keys)
        return
    backend.clear()
