"""Giving back a run's claims when its database connection dies under it.

A flush or a drain claims work (ContractSync leases, `processing` events) and then works on
it. When PostgreSQL restarts meanwhile, the run's connection dies (OperationalError) while
the worker lives on: nothing would free those claims before their lease runs out (minutes).
Instead, the run gives back what it claimed and has not finished as soon as the database
answers again: a restart takes seconds, so the release is tried on a fresh connection about
once a second (RETRY_INTERVAL) for up to RETRY_SECONDS, then the original error is raised as
before. A database down for longer leaves the claims to their lease, the fallback.

Only connection-level errors (OperationalError, InterfaceError) do this: an IntegrityError or
a bug leaves the connection usable and the run gives its verdicts as it always did. Inside a
caller's transaction nothing is tried: the connection cannot be replaced there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from django.db import InterfaceError, OperationalError, connection

log = logging.getLogger(__name__)

CONNECTION_ERRORS = (OperationalError, InterfaceError)
RETRY_SECONDS = 30.0
RETRY_INTERVAL = 1.0


@contextmanager
def give_back_on_connection_loss(release: Callable[[], int], *, what: str) -> Iterator[None]:
    """Run the block; if it loses the database connection, call `release()` (which gives
    back `what` this run claimed and returns how many) until it succeeds or RETRY_SECONDS
    pass, then raise the error the block raised."""
    try:
        yield
    except CONNECTION_ERRORS:
        retry_release(release, what=what)
        raise


def retry_release(release: Callable[[], int], *, what: str) -> int | None:
    """Call `release()` on a fresh connection, again about once a second while the database
    does not answer, for up to RETRY_SECONDS; how many it released, None if it never could."""
    if connection.in_atomic_block:
        log.warning("lost the database connection inside a transaction; the %s this run "
                    "claimed wait for their lease", what)
        return None
    deadline = time.monotonic() + RETRY_SECONDS
    tries = 0
    while True:
        tries += 1
        # Django forgets the connection even if closing it fails: the next query opens one.
        with suppress(*CONNECTION_ERRORS):
            connection.close()
        try:
            released = release()
        except CONNECTION_ERRORS as exc:
            if time.monotonic() + RETRY_INTERVAL > deadline:
                log.warning("could not give back the %s this run claimed after %d tries: the "
                            "database did not answer (%s); their lease will free them",
                            what, tries, exc)
                return None
            time.sleep(RETRY_INTERVAL)
            continue
        log.warning("lost the database connection; gave back %d %s this run had claimed",
                    released, what)
        return released
