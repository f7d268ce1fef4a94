"""Work through received webhook events in batches, woken by a debounced request.

Why not one Celery message per event: publishing a message cost the webhook request more than
storing the event did, and running one task per event cost the worker more than applying it.
Instead, the request that stores an event asks for a drain, and only the first ask of a quiet
period sends a task (a shared flag, set-if-absent). The drain claims received events in
batches and applies each batch in one transaction until none is left.

The flag protocol loses nothing: the drain clears the flag *before* its last look for work.
An event committed before that look is found by it; an event committed after it finds the flag
clear and sends a new drain. A flag left behind by a killed worker expires after
FLAG_SECONDS, and the beat task that requeues stuck events starts a drain regardless.

One requested drain at a time: a drain that cleared the flag and then found work on its last
look sets the flag again, to its own mark, and goes on; if a request set it first, a new
drain was sent, and this one stops after the batch it holds. A drain forced beside a running
one (the stuck-event requeue) stops when it runs out of work and finds the flag holding
another drain's mark. Without that, a steady trickle of events kept two drains lingering
side by side, one in each worker process, and nothing else (the Salesforce flush) could run
until the trickle stopped.

Asking costs a round trip to the cache, so a process that found the flag set does not ask
again for QUIET_SECONDS. That is safe because the drain waits twice that long between
clearing the flag and its last look: a request that stayed quiet did so before the flag was
cleared plus QUIET_SECONDS, so its event was committed before that last look.
"""

from __future__ import annotations

import logging
import time
import uuid

from django.conf import settings
from django.core.cache import cache

from billing.services.drain_requests import (  # request_drain: what the webhooks call
    DRAIN_TASK,
    FLAG,
    FLAG_SECONDS,
    HELPER_FLAG,
    QUIET_SECONDS,
    REQUESTED,
    request_drain,
)
from billing.services.processing import claim_events, process_claimed, schedule_retries
from subsync.celery import app

log = logging.getLogger(__name__)


def _ask_for_help() -> None:
    """A full batch means a backlog: let a second worker process drain beside this one."""
    try:
        if cache.add(HELPER_FLAG, "1", timeout=FLAG_SECONDS):
            app.send_task(DRAIN_TASK, kwargs={"helper": True})
    except Exception:
        log.warning("could not start a helper drain", exc_info=True)


def _take_flag_back(mark: str) -> bool:
    """Set the flag again, to this drain's own `mark`, for a drain that cleared it and then
    found work; False when someone set it first (a request that sent a new drain, or another
    drain). True if the cache cannot be asked: going on is what the drain did before it
    cleared the flag."""
    try:
        return bool(cache.add(FLAG, mark, timeout=FLAG_SECONDS))
    except Exception:
        log.warning("could not set the drain flag again", exc_info=True)
        return True


def _held_by_another_drain(mark: str) -> bool:
    """Whether another running drain has taken the flag back (a forced drain can run beside
    one that was requested): that one goes on, so this one can stop."""
    try:
        holder = cache.get(FLAG)
    except Exception:
        return False
    return holder is not None and holder not in (REQUESTED, mark)


def drain(*, helper: bool = False, batch_size: int | None = None,
          max_seconds: float | None = None) -> int:
    """Process received events batch after batch; return how many were claimed.

    Stops when nothing is left, or after `max_seconds` (a new drain is then requested, so
    that one long backlog does not hold a worker process past its time limit). A helper's
    default is much shorter (SUBSYNC_HELPER_DRAIN_SECONDS): during a backlog both worker
    processes drained until it was gone, and the Salesforce flush waited for a free process
    until then, so Contracts appeared only once a webhook storm was over. A helper that
    stops frees its process for whatever task is waiting; the main drain asks for a new
    helper at its next full batch, which queues behind that task.
    """
    batch_size = batch_size or settings.SUBSYNC_EVENT_BATCH_SIZE
    if max_seconds is None:
        max_seconds = (settings.SUBSYNC_HELPER_DRAIN_SECONDS if helper
                       else settings.SUBSYNC_DRAIN_SECONDS)
    linger = settings.SUBSYNC_DRAIN_LINGER_SECONDS
    deadline = time.monotonic() + max_seconds
    done = 0
    mark = uuid.uuid4().hex  # what this drain writes on the flag when it takes it back
    while True:
        batch = claim_events(limit=batch_size)
        last = False
        if not batch and not helper:
            if _held_by_another_drain(mark):
                return done
            # Clear the flag first, then look once more: see the module docstring.
            cache.delete(FLAG)
            time.sleep(2 * QUIET_SECONDS)
            batch = claim_events(limit=batch_size)
            # Found more: this drain goes on as the requested one, unless a request has sent
            # a new drain meanwhile; then this one stops after the batch it holds.
            last = bool(batch) and not _take_flag_back(mark)
        if not batch:
            if helper:
                cache.delete(HELPER_FLAG)
            return done
        if len(batch) == batch_size and not helper:
            _ask_for_help()
        schedule_retries(process_claimed(batch).failures)
        done += len(batch)
        if last:
            return done
        if len(batch) < batch_size:
            # Events are arriving slower than we apply them: let the next batch fill up a
            # little (a few statements per batch, not per event, is what makes it cheap).
            time.sleep(linger)
        if time.monotonic() > deadline:
            if helper:
                cache.delete(HELPER_FLAG)
            else:
                request_drain(force=True)
            return done
