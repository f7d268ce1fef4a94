"""Which Celery worker this process belongs to, so that a claim can name its holder.

A worker killed mid-batch leaves its claims behind (events `processing`, ContractSync rows
leased). Its leases would free them, but only minutes later. Each claim records the worker's
node name instead (`claimed_by`), and a worker that starts gives back what its own node name
held before it started: Celery requires node names to be unique (the default one includes
the host name), so those claims can only belong to an earlier incarnation that died
(subsync.celery, worker_ready).

Set from Celery's celeryd_init signal in the worker's main process, before the pool forks,
so that prefork children inherit it. Empty outside a worker (the web process, commands,
tests): their claims name nobody and are freed by their lease alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.db import connections

log = logging.getLogger(__name__)

_node = ""
_started_at: datetime | None = None


def node_name() -> str:
    """This worker's node name (e.g. `celery@host`); "" outside a worker."""
    return _node


def started_at() -> datetime | None:
    """When this worker started (UTC); None outside a worker. Claims of its node name made
    before it are an earlier incarnation's."""
    return _started_at


def set_identity(*, node: str, started: datetime | None) -> None:
    global _node, _started_at
    _node, _started_at = node, started


def release_earlier_claims(release: Callable[..., int], *, what: str) -> None:
    """Call `release(node=..., before=...)` for this worker as it starts (Celery's
    worker_ready, before it consumes any task), to give back `what` an earlier incarnation
    held. Never raises: the leases still free those claims, later. The main process needs no
    database connection afterwards, so the one the release opened is closed."""
    if not _node or _started_at is None:
        return
    try:
        released = release(node=_node, before=_started_at)
    except Exception:
        log.exception("could not release the %s held by a dead worker named %s; their lease "
                      "will free them", what, _node)
        return
    finally:
        connections.close_all()
    if released:
        log.warning("released %d %s held by an earlier worker named %s (it died)",
                    released, what, _node)
