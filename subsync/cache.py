"""Django's Redis cache, keeping one client per connection pool.

Django builds a new redis.Redis client for every cache call, and building one copies a table
of some 170 response callbacks: about 0.2 ms per call, more than the SET it then sends. The
drain flag is checked on every webhook request, so the client is kept. Redis clients are
thread-safe; the pool hands each command its own connection.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class ReusingRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
