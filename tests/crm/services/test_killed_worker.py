"""A worker really killed (SIGKILL) in the middle of its Salesforce call.

test_claims.py covers the lease logic in-process; here a separate `manage.py sync_salesforce`
process claims the row, its Contract upsert hangs in the emulator (latency fault), and it is
killed there. What must hold: its row is not pushed by anyone while the lease lasts, the
request it had sent may still land in the org, and after the lease a new flush pushes the row
once: exactly one Contract, Activated, recorded on the row.

Needs a database another process can open, so it runs on PostgreSQL (CI); SQLite test
databases live in memory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from crm.models import ContractSync, SyncAttempt
from crm.services import flush
from tests.crm import factories as f
from tests.support.processes import child_database_url, wait_for

ROOT = Path(__file__).resolve().parents[3]
CONTRACT_UPSERT = "/composite/sobjects/Contract/Subsync_Subscription_Id__c"
HANG_SECONDS = 3.0
LEASE_SECONDS = 2

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="another process must open the test database: runs on "
                              "PostgreSQL (CI)"),
]


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_during_its_call_leaves_exactly_one_contract(emu):
    [row_id] = f.many(1, prefix="killed")  # committed: the worker process can see it
    emu.inject("latency", seconds=HANG_SECONDS, path=CONTRACT_UPSERT)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SALESFORCE_", "DATABASE_URL", "CELERY_"))}
    env.update(
        DATABASE_URL=child_database_url(), CELERY_BROKER_URL="memory://",
        SALESFORCE_LOGIN_URL=emu.url, SALESFORCE_CLIENT_ID="emulator",
        SALESFORCE_CLIENT_SECRET="emulator", SALESFORCE_CA_BUNDLE=str(emu.ca_path),
        SUBSYNC_SF_CLAIM_SECONDS=str(LEASE_SECONDS), LOG_LEVEL="WARNING",
        SECRET_KEY=os.environ.get("SECRET_KEY", "test-only-secret-key"),
    )
    worker = subprocess.Popen([sys.executable, "manage.py", "sync_salesforce"], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        wait_for(lambda: any(path.endswith(CONTRACT_UPSERT) for _, path in emu.calls)
              or worker.poll() is not None, timeout=30, what="the worker's Contract upsert")
        assert worker.poll() is None, worker.communicate()[0]
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
    assert worker.returncode == -signal.SIGKILL

    # What the dead worker left: an attempt that never finished, a leased row, no verdict.
    started = SyncAttempt.objects.get(operation="upsert", sobject="Contract")
    assert started.outcome == SyncAttempt.Outcome.STARTED
    row = ContractSync.objects.get(pk=row_id)
    assert row.dirty and row.state == ContractSync.State.PENDING
    assert row.claimed_until is not None and row.sf_contract_id == ""

    # The org applies the request it was too slow to answer: a Draft nobody recorded.
    wait_for(lambda: emu.count("Contract") == 1, timeout=HANG_SECONDS + 10,
          what="the killed worker's request to land")
    [draft] = emu.records("Contract")
    assert draft["Status"] == "Draft"

    # Once the lease is over, the next flush takes the row and pushes it, onto that contract.
    wait_for(lambda: timezone.now() > row.claimed_until, timeout=LEASE_SECONDS + 5,
          what="the lease to expire")
    report = flush.flush_due()
    assert report.claimed == 1 and report.synced == 1
    [contract] = emu.records("Contract")
    assert contract["Id"] == draft["Id"] and contract["Status"] == "Activated"
    row.refresh_from_db()
    assert row.state == ContractSync.State.SYNCED and not row.dirty
    assert row.sf_contract_id == contract["Id"] and row.sf_contract_status == "Activated"
