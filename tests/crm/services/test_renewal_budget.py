"""Past the daily API budget, new renewal opportunities wait through the flush's own budget
path, like new Contracts: the row is deferred (pending, no attempt counted, not a failure),
its Contract is kept as pushed, a flush is sent for when the usage figure is due for a
refresh, and that flush pushes the opportunity once usage fell. Existing opportunities are
still updated. Through simple-salesforce over HTTPS against the emulator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from crm.models import ContractSync, SalesforceOrgState, SyncAttempt
from crm.services import flush
from crm.services.sync_state import FLUSH_TASK
from tests.crm import factories as f
from tests.crm.services.test_renewal_opportunities import _annual, _opportunities

pytestmark = pytest.mark.django_db
State = ContractSync.State
REFRESH = 30


@pytest.fixture
def on(settings):
    settings.SUBSYNC_SF_PRODUCTS = True
    settings.SUBSYNC_SF_RENEWALS = True
    settings.SUBSYNC_SF_RENEWAL_LEAD_DAYS = 120
    settings.SUBSYNC_SF_API_BUDGET_PCT = 50
    settings.SUBSYNC_SF_USAGE_REFRESH_SECONDS = REFRESH
    cache.delete(flush.BUDGET_RECHECK_KEY)
    return settings


def _renewing_later(emu):
    """sub_1 renews in 60 days (an opportunity now); sub_2 in 200 days (a Contract only),
    then its renewal date moves into the window while usage is over the budget."""
    first = _annual("sub_1", customer_id="cus_1")
    later = _annual("sub_2", customer_id="cus_2", days=200)
    flush.flush_due()
    assert emu.count("Opportunity") == 1
    emu.set_daily_limit(emu.api_usage + 10)  # from the next answer on, usage is over 50%
    plan = first.items.get(kind="plan")
    plan.quantity, plan.amount = 3, 180000
    plan.save()
    f.changed(first)
    f.changed(later, current_term_end=later.current_term_end - timedelta(days=150))
    return first, later


def test_a_new_opportunity_past_the_budget_is_deferred_not_failed(emu, on, tasks):
    first, later = _renewing_later(emu)
    contract_before = f.sync_of(later).sf_contract_id

    report = flush.flush_due()

    opportunities = {o["Subsync_Renewal_Id__c"].split(":")[1]: o for o in _opportunities(emu)}
    assert set(opportunities) == {"sub_1"}
    assert opportunities["sub_1"]["Amount"] == 1800.0  # an existing one is still updated
    assert (report.deferred, report.retrying, report.failed) == (1, 0, 0)
    row = f.sync_of(later)
    assert row.state == State.PENDING and row.attempts == 0
    assert row.last_error_code == flush.BUDGET_CODE
    assert "new renewal opportunities wait" in row.last_error
    assert row.sf_contract_id == contract_before
    assert row.version > row.synced_version  # still due for its renewal
    # Due again when the usage figure is due for a refresh, with a flush sent for then.
    assert row.next_attempt_at <= timezone.now() + timedelta(seconds=REFRESH)
    assert [options["countdown"] for name, options in tasks if name == FLUSH_TASK] == [REFRESH]
    assert f.sync_of(first).state == State.SYNCED


def test_the_deferred_opportunity_is_pushed_once_usage_fell(emu, on, tasks):
    _, later = _renewing_later(emu)
    flush.flush_due()
    emu.reset_usage()  # usage fell
    # The follow-up flush runs REFRESH seconds later: the row is due, the figure that old.
    ContractSync.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    SalesforceOrgState.objects.update(
        api_usage_observed_at=timezone.now() - timedelta(seconds=REFRESH))
    contract_writes = SyncAttempt.objects.filter(sobject="Contract").count()

    report = flush.flush_due()

    assert (report.deferred, report.retrying, report.failed) == (0, 0, 0)
    assert report.unchanged == 1  # its Contract was kept as pushed: no Contract call
    assert SyncAttempt.objects.filter(sobject="Contract").count() == contract_writes
    assert SyncAttempt.objects.filter(operation="limits").count() == 1  # the refresh
    assert {o["Subsync_Renewal_Id__c"].split(":")[1] for o in _opportunities(emu)} == {
        "sub_1", "sub_2"}
    row = f.sync_of(later)
    assert row.state == State.SYNCED and row.last_error_code == "" and row.attempts == 0
