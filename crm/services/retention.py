"""Forget old Salesforce call records (SyncAttempt).

Each attempt keeps the external ids it pushed and Salesforce's answer per record, which is
what the dashboard's sync health and a subscription's timeline show for recent work. Older
than SUBSYNC_SYNC_ATTEMPT_RETENTION_DAYS they only grow the table; the ContractSync row keeps
the current state and the last error of every subscription.
"""

from __future__ import annotations

from datetime import datetime

from crm.models import SyncAttempt


def prune_attempts(*, cutoff: datetime) -> int:
    """Delete attempts started before `cutoff`."""
    count, _ = SyncAttempt.objects.filter(started_at__lt=cutoff).delete()
    return count
