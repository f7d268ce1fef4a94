"""Asking for a drain of webhook events, apart from the drain itself (billing.services.drain).

Why its own module: the drain imports event processing, and processing, having given back the
events of a run that lost its database connection (billing.services.give_back), must ask for
a drain too. The flag's rules are in billing.services.drain's docstring.
"""

from __future__ import annotations

import logging
import time

from django.core.cache import cache

from subsync.celery import app

log = logging.getLogger(__name__)

DRAIN_TASK = "billing.tasks.drain_webhook_events"
FLAG = "billing:drain-requested"
REQUESTED = "1"  # the flag's value when a request set it; a drain that took it back writes its own
HELPER_FLAG = "billing:drain-helper"
# Longer than any batch takes, short enough that a lost drain is replaced quickly.
FLAG_SECONDS = 60
QUIET_SECONDS = 0.1
# monotonic() until which this process knows a drain is requested (see the module docstring)
_requested_until = 0.0


def request_drain(*, force: bool = False) -> bool:
    """Send a drain task unless one is already requested; True when one was sent.

    Never raises: the event is stored and committed, and a failure to ask for its processing
    (broker or cache down) is covered by the beat task that requeues stuck events.
    """
    global _requested_until
    asked_at = time.monotonic()
    if not force and asked_at < _requested_until:
        return False
    try:
        if force:
            cache.set(FLAG, REQUESTED, timeout=FLAG_SECONDS)
        elif not cache.add(FLAG, REQUESTED, timeout=FLAG_SECONDS):
            _requested_until = asked_at + QUIET_SECONDS
            return False
        app.send_task(DRAIN_TASK)
        return True
    except Exception:
        log.warning("could not request a drain of webhook events; the stuck-event requeue "
                    "will start one", exc_info=True)
        return False


def forget_request(*, helper: bool = False) -> None:
    """Clear the flag of a drain that died, so that the next event starts a new one."""
    try:
        cache.delete(HELPER_FLAG if helper else FLAG)
    except Exception:
        log.warning("could not clear the drain flag", exc_info=True)
