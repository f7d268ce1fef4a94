"""subsync.broker: the Redis transport Celery uses when the broker URL is Redis.

The failure it fixes needs a worker waiting on BRPOP when Redis dies, so it is tested with
real processes (tests/reliability/test_redis_outage.py). Here: selecting it by name keeps
the URL's meaning (tests/test_settings.py: the settings select it for Redis URLs only).
"""

from __future__ import annotations

from kombu import Connection

from subsync.broker import Transport

TRANSPORT = "subsync.broker:Transport"


def test_the_transport_reads_a_redis_url_as_the_scheme_would():
    """CELERY_BROKER_TRANSPORT names our class; the URL still gives host, port, db and
    password (kombu parses it for transports that do not)."""
    conn = Connection("rediss://:secret@cache.example:6380/3", transport=TRANSPORT)
    assert isinstance(conn.transport, Transport)
    assert (conn.hostname, conn.port, conn.virtual_host, conn.password) == (
        "cache.example", 6380, "3", "secret")

