"""Mark a subscription's Salesforce sync dirty when billing changes it.

Called by billing services inside the transaction that changed the subscription, so the flag
and the change commit (or roll back) together.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from crm.models import ContractSync


def in_sync_scope(status: str) -> bool:
    return status in settings.SUBSYNC_SYNC_STATUSES


def note_subscription_changed(*, subscription) -> bool:
    """Bump the sync version when the subscription is in scope or already known to Salesforce.

    Returns True when the row became (or stayed) dirty. A subscription that was never in scope
    (a trial, say) creates no sync row; once it has one it stays tracked, so that a contract we
    pushed also hears about the cancellation.
    """
    if in_sync_scope(subscription.status):
        ContractSync.objects.get_or_create(subscription=subscription)
    updated = ContractSync.objects.filter(subscription=subscription).update(
        version=F("version") + 1,
        state=ContractSync.State.PENDING,
        next_attempt_at=timezone.now(),
        attempts=0,
    )
    return bool(updated)
