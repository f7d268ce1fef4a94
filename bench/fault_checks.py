"""What "converged" means for the fault campaign, read from the database and the emulator.

Every event sent is applied exactly once (done, at most one ledger row), each subscription
holds the newest version sent, no event or ContractSync row is left open (received,
processing, failed; dirty, failed, parked), and Salesforce holds one Account per external id
and one Contract per subscription it should know, with the values billing holds now
(crm.services.reconcile.differences, the nightly reconciliation's own comparison).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bench.mix import Delivery, Plan
from bench.webhooks import DONE, verify


@dataclass
class State:
    distinct: int = 0
    applied: int = 0
    lost: int = 0  # sent, not applied (yet)
    doubled: int = 0  # events with more than one ledger row
    wrong_versions: int = 0
    open_events: int = 0
    open_syncs: int = 0
    sf_duplicates: int = 0
    sf_missing: int = 0
    sf_stale: int = 0
    samples: list[str] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return not (self.lost or self.doubled or self.wrong_versions or self.open_events
                    or self.open_syncs or self.sf_duplicates or self.sf_missing
                    or self.sf_stale)

    def summary(self) -> str:
        parts = {"lost": self.lost, "doubled": self.doubled, "wrong versions":
                 self.wrong_versions, "open events": self.open_events, "open syncs":
                 self.open_syncs, "SF duplicates": self.sf_duplicates, "SF missing":
                 self.sf_missing, "SF stale": self.sf_stale}
        shown = ", ".join(f"{k} {v}" for k, v in parts.items() if v)
        return (shown or "converged") + (f" (e.g. {self.samples[:3]})" if self.samples else "")


def applied_count(sent: list[Delivery]) -> int:
    """Distinct events among `sent` that were applied (processed, stale or ignored)."""
    distinct = len({(d.provider, d.event_id) for d in sent})
    statuses = verify(Plan(deliveries=sent, distinct=distinct), []).statuses
    return sum(statuses[s] for s in DONE)


def read_state(sent: list[Delivery], emulator) -> State:
    """The campaign's checks over everything sent so far (all phases: an earlier phase's
    work must stay converged too)."""
    from django.db.models import F, Q

    from billing.models import WebhookEvent
    from crm.models import ContractSync

    distinct = len({(d.provider, d.event_id) for d in sent})
    verdict = verify(Plan(deliveries=sent, distinct=distinct), [])
    applied = sum(verdict.statuses[s] for s in DONE)
    state = State(distinct=distinct, applied=applied, lost=distinct - applied,
                  doubled=verdict.multi_change_events,
                  wrong_versions=len(verdict.wrong_versions))
    state.samples += verdict.wrong_versions[:2]
    state.open_events = WebhookEvent.objects.filter(
        status__in=["received", "processing", "failed"]).count()
    state.open_syncs = ContractSync.objects.filter(
        Q(version__gt=F("synced_version")) | Q(state__in=["failed", "parked"])).count()
    _compare_salesforce(state, emulator)
    return state


def _compare_salesforce(state: State, emulator) -> None:
    from billing.models import Subscription
    from crm import mapping
    from crm.services.reconcile import differences
    from crm.services.sync_state import in_sync_scope

    config = mapping.FieldConfig()
    accounts = emulator.control("records/Account")["records"]
    contracts = emulator.control("records/Contract")["records"]
    account_refs = Counter(a.get(mapping.ACCOUNT_EXTERNAL_ID) for a in accounts)
    contract_refs = Counter(c.get(mapping.CONTRACT_EXTERNAL_ID) for c in contracts)
    state.sf_duplicates = (sum(n - 1 for n in account_refs.values() if n > 1)
                           + sum(n - 1 for n in contract_refs.values() if n > 1))
    account_by_id = {a["Id"]: a for a in accounts}
    account_by_ref = {a.get(mapping.ACCOUNT_EXTERNAL_ID): a for a in accounts}
    contract_by_ref = {c.get(mapping.CONTRACT_EXTERNAL_ID): c for c in contracts}
    subscriptions = Subscription.objects.select_related("customer", "contract_sync")
    for sub in subscriptions.iterator(chunk_size=2000):
        payload = mapping.build_payload(sub, multi_currency=False,
                                        activate=in_sync_scope(sub.status), config=config)
        contract = contract_by_ref.get(payload.contract_ref)
        if contract is None:
            if payload.activate:
                state.sf_missing += 1
                state.samples.append(f"no Contract {payload.contract_ref}")
            continue
        owner = account_by_id.get(contract.get("AccountId")) or {}
        seen = {**contract, "Account": {config.account_external_field:
                                        owner.get(config.account_external_field)}}
        diffs = differences(payload, seen, account_by_ref.get(payload.account_ref),
                            config=config)
        if diffs:
            state.sf_stale += 1
            state.samples.append(f"{payload.contract_ref}: {sorted(diffs)}")
