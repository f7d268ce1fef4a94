"""Mark a subscription's Salesforce sync dirty when billing changes it, and ask for a flush.

Called by billing services inside the transaction that changed the subscription, so the flag
and the change commit (or roll back) together. The flush is requested only once the
transaction has committed, and debounced: a burst of changes (a backfill, a webhook storm)
opens one short window and causes one flush when it closes. If the request cannot be sent
(broker down), nothing is lost: the row is dirty and the beat sweeper pushes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from crm.models import ContractSync
from crm.salesforce.config import SalesforceConfig

log = logging.getLogger(__name__)

FLUSH_TASK = "crm.tasks.flush_salesforce"


def in_sync_scope(status: str) -> bool:
    return status in settings.SUBSYNC_SYNC_STATUSES


def keep_parked(state: str) -> Case:
    """`state`, unless the row is parked: an operator parked it, and only unparking
    (crm.services.actions) lets it be pushed again. Its version still counts changes."""
    parked = ContractSync.State.PARKED
    return Case(When(state=parked, then=Value(parked)), default=Value(state))


def _due_now(*, force: bool = False) -> dict:
    """The UPDATE that makes a row dirty and due at once (a parked row stays parked); `force`
    also forgets the last digest so that an unchanged payload is pushed again.

    A row that is already pending and due keeps the time it became due: it stays in line
    (flushes take the longest-waiting first) rather than going to the back at every change,
    and as neither indexed column changes, PostgreSQL can update it in place (HOT) during a
    webhook storm instead of adding an entry to each of its indexes.
    """
    now = timezone.now()
    already_due = Q(state=ContractSync.State.PENDING, next_attempt_at__lte=now)
    changes = {"version": F("version") + 1, "state": keep_parked(ContractSync.State.PENDING),
               "next_attempt_at": Case(When(already_due, then=F("next_attempt_at")),
                                       default=Value(now)),
               "attempts": 0}
    if force:
        changes["payload_hash"] = ""
    return changes


def note_subscriptions_changed(*, subscription_ids: Iterable[int],
                               in_scope_ids: Iterable[int] = (),
                               customer_ids: Iterable[int] = ()) -> int:
    """Bump the sync version of changed subscriptions that are in scope or already tracked.

    `in_scope_ids` are those whose new state (or one of the states a batch went through) is
    in scope: they get a row if they have none. A subscription never in scope (a trial, say)
    creates no row; once it has one it stays tracked, so that a contract we pushed also hears
    about the cancellation. `customer_ids`: customers whose own fields changed (a company
    renamed by a customer event that carries no subscription): every tracked subscription of
    theirs pushes the customer's Account, so each is bumped; the payload digest skips the
    Contract when only the Account changed. Returns how many rows became (or stayed) dirty.
    """
    in_scope = set(in_scope_ids)
    if in_scope:
        # Most changes (renewals, payments) are to subscriptions that have a row already:
        # asking which do is cheaper than offering the database a new row for each.
        tracked = set(ContractSync.objects.filter(subscription_id__in=list(in_scope))
                      .values_list("subscription_id", flat=True))
        ContractSync.objects.bulk_create(
            [ContractSync(subscription_id=pk) for pk in sorted(in_scope - tracked)],
            ignore_conflicts=True)  # a concurrent batch may create one first
    changed = Q(subscription_id__in=list(subscription_ids))
    customer_ids = list(customer_ids)
    if customer_ids:
        changed |= Q(subscription__customer_id__in=customer_ids)
    updated = ContractSync.objects.filter(changed).update(**_due_now())
    if updated:
        transaction.on_commit(request_flush)
    return updated


def note_subscription_changed(*, subscription) -> bool:
    """One subscription's version of note_subscriptions_changed; True when its row is dirty."""
    in_scope = [subscription.pk] if in_sync_scope(subscription.status) else []
    return bool(note_subscriptions_changed(subscription_ids=[subscription.pk],
                                           in_scope_ids=in_scope))


def request_flush() -> bool:
    """Enqueue a flush unless one is already coming for this debounce window.

    True when a task was sent. Never raises: a failure here must not fail the billing work
    that just committed, and the sweeper covers anything missed.
    """
    try:
        if not SalesforceConfig.from_settings().configured:
            return False
        from crm.services.org_state import open_flush_window
        from subsync.celery import app

        window = float(settings.SUBSYNC_SF_DEBOUNCE_SECONDS)
        if not open_flush_window(seconds=window):
            return False
        app.send_task(FLUSH_TASK, countdown=window)
        return True
    except Exception:
        log.warning("could not enqueue a Salesforce flush; the sweeper will push the change",
                    exc_info=True)
        return False


def mark_in_scope_dirty(*, force: bool = False) -> int:
    """Make every in-scope subscription (and every one Salesforce already has) due again.

    With `force`, the last pushed digest is forgotten so unchanged payloads are sent too.
    Returns the number of rows marked.
    """
    from billing.models import Subscription

    missing = Subscription.objects.filter(
        status__in=settings.SUBSYNC_SYNC_STATUSES, contract_sync__isnull=True
    ).values_list("pk", flat=True)
    ContractSync.objects.bulk_create(
        [ContractSync(subscription_id=pk) for pk in missing.iterator()],
        ignore_conflicts=True, batch_size=1000,
    )
    rows = ContractSync.objects.filter(subscription__status__in=settings.SUBSYNC_SYNC_STATUSES)
    rows = rows | ContractSync.objects.exclude(sf_contract_id="")
    return ContractSync.objects.filter(pk__in=rows.values("pk")).update(**_due_now(force=force))


def mark_dirty(*, subscription, force: bool = False) -> ContractSync | None:
    """Make one subscription due now (an operator's request); None when it is out of scope
    and Salesforce never heard of it. With `force`, unchanged payloads are pushed too."""
    if in_sync_scope(subscription.status):
        ContractSync.objects.get_or_create(subscription=subscription)
    if not ContractSync.objects.filter(subscription=subscription).update(**_due_now(force=force)):
        return None
    return ContractSync.objects.get(subscription=subscription)


def mark_subscriptions_dirty(
    *, subscription_ids: Iterable[int], force: bool = False, forget_contract: bool = False
) -> int:
    """Make these subscriptions' rows due now, creating rows that do not exist yet
    (reconciliation found them different in, or missing from, Salesforce).

    `force` forgets the last pushed digest so an unchanged payload is sent again;
    `forget_contract` also forgets the Salesforce ids held (the contract is gone there), so
    the next push upserts by external id and activates what it creates. Returns rows marked.
    """
    ids = list(subscription_ids)
    if not ids:
        return 0
    ContractSync.objects.bulk_create([ContractSync(subscription_id=pk) for pk in ids],
                                     ignore_conflicts=True, batch_size=1000)
    changes = _due_now(force=force)
    if forget_contract:
        changes.update(sf_contract_id="", sf_contract_status="", sf_account_id="")
    marked = 0
    for start in range(0, len(ids), 1000):
        marked += ContractSync.objects.filter(
            subscription_id__in=ids[start:start + 1000]).update(**changes)
    return marked


def make_due(*, sync_ids: Iterable[int], states: Iterable[str]) -> int:
    """Make those of these rows that are in one of `states` pending and due now, with their
    last digest forgotten so the payload is sent even if unchanged (an operator's retry or
    unpark). Returns the number of rows changed."""
    ids, states = list(sync_ids), list(states)
    changes = {**_due_now(force=True), "state": ContractSync.State.PENDING}
    changed = 0
    for start in range(0, len(ids), 1000):
        changed += ContractSync.objects.filter(
            pk__in=ids[start:start + 1000], state__in=states).update(**changes)
    return changed


def forget_contract(*, sync: ContractSync) -> None:
    """Forget which Salesforce Contract and Account a row was pushed to (admin repair: the
    next push upserts by external id and activates whatever it finds or creates)."""
    ContractSync.objects.filter(pk=sync.pk).update(
        sf_contract_id="", sf_contract_status="", sf_account_id="", payload_hash=""
    )
