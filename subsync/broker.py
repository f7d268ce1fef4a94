"""kombu's Redis transport, with a channel that outlives its connection without ending the
worker. Selected by CELERY_BROKER_TRANSPORT in settings when the broker URL is Redis.

Why: when Redis goes away, Celery's consumer first collects the broken connection (kombu
`Connection.collect`), which closes the channel and then detaches the transport from its
connection (`transport.client = None`). If the channel was waiting on BRPOP, that first
close fails on the dead socket before the channel is marked closed, so Celery's next
`connection.close()` closes it again. Closing gives the unacknowledged messages (acks_late:
the tasks running and the ones prefetched) back to Redis through a new client, built from
`transport.client`, which is None by then: kombu 5.7 raises AttributeError, which is not a
connection error, so nothing ignores it and the worker stops ("Unrecoverable error"). A
task that finishes later acks through the same channel and fails the same way.

Here a detached channel does not try: closing it skips the restore with a warning, and any
other use of it (the late ack) raises a Redis ConnectionError, which Celery and kombu treat
as the broker being away (logged, the worker reconnects). The messages stay in Redis's
unacked hash, from which kombu restores them after the visibility timeout
(CELERY_BROKER_TRANSPORT_OPTIONS); if Redis lost them, the beat task that requeues stuck
work sends it again (billing.services.requeue, the Salesforce sweeper).
"""

from __future__ import annotations

import logging

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

log = logging.getLogger(__name__)


class DetachedChannelError(RedisConnectionError):
    """The channel's connection has been closed: it cannot reach Redis any more."""


class Channel(kombu_redis.Channel):
    def _detached(self) -> bool:
        # Closing a channel drops its transport (`connection`); closing a connection drops
        # the transport's `client`, the connection parameters a new Redis client needs.
        return self.connection is None or self.connection.client is None

    def _connparams(self, asynchronous=False):
        # Every new Redis client of the channel is built from these parameters.
        if self._detached():
            raise DetachedChannelError("the broker connection of this channel was closed")
        return super()._connparams(asynchronous=asynchronous)

    def close(self):
        if not self.closed and self._detached():
            self.do_restore = False
            log.warning("broker connection lost: unacknowledged messages were not given back "
                        "to Redis; they stay in its unacked hash until the visibility timeout "
                        "restores them")
        super().close()


class Transport(kombu_redis.Transport):
    Channel = Channel
