"""What an operator can do from the sync health page: push, retry, park and unpark.

Each action is idempotent (doing it twice leaves the rows as doing it once), says what it did
in a small `ActionResult`, and logs one line naming the acting user and the rows, so that
"who parked this?" has an answer. Permissions are checked by the callers (dashboard views,
REST API); these functions trust them.

Parking takes a row out of the push entirely: flushes never claim a parked row
(crm.services.claims), billing changes still count its version up without unparking it
(crm.services.sync_state.keep_parked), and a push already under way when it was parked
leaves it parked. Unparking makes it due at once with whatever changed meanwhile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction

from crm.models import ContractSync
from crm.services.org_state import expire_api_usage
from crm.services.sync_state import make_due, mark_dirty, request_flush

log = logging.getLogger(__name__)

State = ContractSync.State
# At most this many ids are named in a log line; the count is always given.
_LOGGED_IDS = 50


@dataclass(frozen=True)
class ActionResult:
    """What an action did: `changed` rows (0 when there was nothing to do), which ones, and
    whether a flush was asked for. `message` is a sentence for the operator."""

    action: str
    sync_ids: tuple[int, ...]
    changed: int
    flush_requested: bool
    message: str


def _username(user) -> str:
    return user.get_username() if user is not None else "(system)"


def _log(result: ActionResult, *, user, **extra: object) -> ActionResult:
    ids = result.sync_ids
    shown = ",".join(str(pk) for pk in ids[:_LOGGED_IDS])
    if len(ids) > _LOGGED_IDS:
        shown += f",... ({len(ids) - _LOGGED_IDS} more)"
    details = "".join(f" {name}={value!r}" for name, value in extra.items())
    log.info("salesforce sync action %s by %s: %d of %d rows changed (sync ids %s)%s",
             result.action, _username(user), result.changed, len(ids), shown or "none",
             details)
    return result


def _flush_after_commit() -> None:
    # An operator's push is forced: the flush refreshes the API usage before deferring
    # anything on it (crm.services.flush._budget).
    expire_api_usage()
    # The flush must see the rows as committed; outside a transaction this runs at once.
    transaction.on_commit(request_flush)


def push_now(*, subscription, user) -> ActionResult:
    """Push one subscription to Salesforce now, even if its payload did not change.

    Nothing is pushed for a subscription that is out of sync scope and that Salesforce never
    had, nor for a parked one (unpark it first).
    """
    row = mark_dirty(subscription=subscription, force=True)
    if row is None:
        result = ActionResult(
            action="push_now", sync_ids=(), changed=0, flush_requested=False,
            message=f"Subscription {subscription.provider}:{subscription.external_id} is "
                    "not in sync scope and Salesforce never had it: nothing to push.")
        return _log(result, user=user, subscription_id=subscription.pk)
    if row.state == State.PARKED:
        result = ActionResult(
            action="push_now", sync_ids=(row.pk,), changed=0, flush_requested=False,
            message="This subscription's sync is parked: unpark it to push it.")
        return _log(result, user=user, subscription_id=subscription.pk)
    _flush_after_commit()
    result = ActionResult(action="push_now", sync_ids=(row.pk,), changed=1,
                          flush_requested=True,
                          message="Due now: the next flush pushes it.")
    return _log(result, user=user, subscription_id=subscription.pk)


def retry_sync(*, sync: ContractSync, user) -> ActionResult:
    """Retry one failed row now (or one waiting out a backoff), its payload sent even if
    unchanged. A parked or synced row is left alone."""
    changed = make_due(sync_ids=[sync.pk], states=[State.FAILED, State.PENDING])
    if changed:
        _flush_after_commit()
        message = "Due now: the next flush pushes it."
    else:
        current = (ContractSync.objects.filter(pk=sync.pk)
                   .values_list("state", flat=True).first())
        message = {
            State.PARKED: "This row is parked: unpark it to push it.",
            State.SYNCED: "This row is in sync: nothing to retry.",
            None: "This row no longer exists.",
        }.get(current, "Nothing to retry.")
    result = ActionResult(action="retry", sync_ids=(sync.pk,), changed=changed,
                          flush_requested=bool(changed), message=message)
    return _log(result, user=user)


def retry_all_failed(*, user) -> ActionResult:
    """Make every failed row due now (parked rows stay parked)."""
    ids = tuple(ContractSync.objects.filter(state=State.FAILED).order_by("pk")
                .values_list("pk", flat=True))
    changed = make_due(sync_ids=ids, states=[State.FAILED]) if ids else 0
    if changed:
        _flush_after_commit()
    message = (f"{changed} failed row{'s' if changed != 1 else ''} due now."
               if changed else "No failed rows: nothing to retry.")
    result = ActionResult(action="retry_all", sync_ids=ids, changed=changed,
                          flush_requested=bool(changed), message=message)
    return _log(result, user=user)


def park(*, sync: ContractSync, user, reason: str = "") -> ActionResult:
    """Stop pushing this row until it is unparked (a record an admin must fix first, or one
    that should never reach Salesforce). Its last error stays for reference; the reason goes
    to the log."""
    changed = ContractSync.objects.filter(pk=sync.pk).exclude(state=State.PARKED).update(
        state=State.PARKED)
    message = ("Parked: it will not be pushed until unparked." if changed
               else "Already parked.")
    result = ActionResult(action="park", sync_ids=(sync.pk,), changed=changed,
                          flush_requested=False, message=message)
    return _log(result, user=user, reason=(reason or "")[:500])


def unpark(*, sync: ContractSync, user) -> ActionResult:
    """Let a parked row be pushed again, at once (with everything that changed meanwhile)."""
    changed = make_due(sync_ids=[sync.pk], states=[State.PARKED])
    if changed:
        _flush_after_commit()
    message = ("Unparked and due now: the next flush pushes it." if changed
               else "Not parked: nothing to do.")
    result = ActionResult(action="unpark", sync_ids=(sync.pk,), changed=changed,
                          flush_requested=bool(changed), message=message)
    return _log(result, user=user)
