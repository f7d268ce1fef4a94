"""After the daily API budget was passed, new subscriptions resume quickly (issue 15, gap 4):
a forced sync refreshes the usage first (one `limits` call) rather than deferring them again
on an old figure, and rows deferred by the budget get a flush of their own once the figure
is due for a refresh, so they are pushed within a minute of usage falling."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from crm.models import ContractSync, SalesforceOrgState, SyncAttempt
from crm.services import actions, flush
from crm.services.sync_state import FLUSH_TASK
from tests.crm import factories as f

pytestmark = pytest.mark.django_db
State = ContractSync.State


@pytest.fixture
def org(start_salesforce, settings):
    settings.SUBSYNC_SF_API_BUDGET_PCT = 30
    settings.SUBSYNC_SF_USAGE_REFRESH_SECONDS = 30
    cache.delete(flush.BUDGET_RECHECK_KEY)
    return start_salesforce(daily_limit=10)


def limits_calls() -> int:
    return SyncAttempt.objects.filter(operation="limits").count()


@pytest.fixture
def over_budget(org):
    """One subscription pushed: 4 calls of the 10 a day, over the 30% budget."""
    f.synced_subscription("sub_0", customer_id="cus_0")
    assert flush.flush_due().synced == 1
    return org


def deferred(name: str) -> ContractSync:
    sub = f.synced_subscription(name, customer_id=f"cus_{name}")
    flush.flush_due()
    row = f.sync_of(sub)
    assert row.state == State.PENDING and row.last_error_code == flush.BUDGET_CODE
    return row


def test_sync_salesforce_all_refreshes_the_usage_before_deferring(over_budget, tasks):
    waiting = deferred("sub_1")
    assert limits_calls() == 0  # the figure was fresh: no call then
    over_budget.reset_usage()  # a new day: usage fell, the figure we hold is seconds old

    call_command("sync_salesforce", "--all", stdout=StringIO(), stderr=StringIO())

    row = f.sync_of(waiting.subscription)
    assert row.state == State.SYNCED and row.sf_contract_id
    assert limits_calls() == 1


def test_the_dashboard_retry_refreshes_the_usage_before_deferring(
        over_budget, tasks, django_user_model, django_capture_on_commit_callbacks):
    row = deferred("sub_1")
    over_budget.reset_usage()
    user = django_user_model.objects.create_user("op")
    with django_capture_on_commit_callbacks(execute=False):
        assert actions.retry_sync(sync=row, user=user).changed == 1

    flush.flush_due()

    assert f.sync_of(row.subscription).state == State.SYNCED
    assert limits_calls() == 1


def test_deferred_rows_get_their_own_flush_and_are_pushed_once_usage_fell(over_budget, tasks):
    row = deferred("sub_1")
    deferred("sub_2")  # a second deferring flush does not send a second follow-up

    follow_ups = [options for name, options in tasks if name == FLUSH_TASK]
    assert len(follow_ups) == 1
    assert follow_ups[0]["countdown"] == 30
    # The rows are due by the time the follow-up runs, well within a minute.
    assert row.next_attempt_at <= timezone.now() + timedelta(seconds=30)

    over_budget.reset_usage()
    # The follow-up runs 30 s later: the rows are due, the figure is as old as the period.
    ContractSync.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    SalesforceOrgState.objects.update(
        api_usage_observed_at=timezone.now() - timedelta(seconds=30))
    report = flush.flush_due()

    assert report.synced == 2 and report.deferred == 0
    assert f.sync_of(row.subscription).state == State.SYNCED
    assert limits_calls() == 1


def test_rows_with_contracts_alone_cost_no_limits_call(over_budget, tasks):
    """Over budget with an old figure, but nothing the budget would hold back."""
    SalesforceOrgState.objects.update(api_usage_observed_at=timezone.now() - timedelta(hours=1))
    sub = ContractSync.objects.get().subscription
    f.changed(sub, mrr=7700)

    assert flush.flush_due().synced == 1
    assert limits_calls() == 0 and tasks == []
