"""Compare what Salesforce holds with what billing says, and make every difference due again.

The push engine trusts its own record of what it sent (the payload digest), so anything that
changes Salesforce behind its back stays wrong until the next billing change: an admin editing
a Contract, a deleted Contract, a push that landed while its worker died. Once a night
(crm.tasks.reconcile_salesforce) every Contract and Account carrying our external ids is read
with SOQL (a few calls: 2,000 records per page) and compared with `crm.mapping` for the stored
subscriptions:
- drifted (a field differs, an in-scope Contract is not Activated, its Account is gone or
  renamed): the row is made due with its digest forgotten, so the engine pushes it again;
- missing (an in-scope subscription without a Contract): the Salesforce ids held are
  forgotten and the row made due, so the engine creates and activates a new one;
- orphans (a Contract with our external id that billing does not know): reported only, since
  deleting an admin's records is not ours to decide.
The engine does the pushing (bulk when there are many), so reconciliation itself never writes
to Salesforce. A dry run reads and reports, and changes nothing here either.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing.models import Subscription
from crm import mapping
from crm.mapping import ACTIVATED, FieldConfig, Payload
from crm.models import ContractSync, ReconcileRun
from crm.salesforce.client import SalesforceClient
from crm.salesforce.errors import SalesforceError
from crm.salesforce.factory import get_client
from crm.services import sync_state
from crm.services.attempts import record_call
from crm.services.org_schema import multi_currency_enabled

log = logging.getLogger(__name__)

SAMPLE_SIZE = 20
_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?\Z")
_MONEY_TOLERANCE = 0.005  # currency fields have two decimals in Salesforce


@dataclass
class Reconciliation:
    """What one run found; `run_id` is its stored ReconcileRun (None for a dry run)."""

    started_at: datetime
    dry_run: bool = False
    finished_at: datetime | None = None
    contracts_seen: int = 0
    accounts_seen: int = 0
    checked: int = 0
    in_sync: int = 0
    drifted: int = 0
    missing: int = 0
    orphans: int = 0
    marked: int = 0
    api_calls: int = 0
    error_code: str = ""
    error_message: str = ""
    samples: dict[str, list] = field(
        default_factory=lambda: {"drifted": [], "missing": [], "orphans": []}
    )
    run_id: int | None = None

    @property
    def ok(self) -> bool:
        return not self.error_code

    def as_dict(self) -> dict:
        out = asdict(self)
        for name in ("started_at", "finished_at"):
            out[name] = out[name].isoformat() if out[name] else None
        return out

    def _sample(self, kind: str, item: dict) -> None:
        if len(self.samples[kind]) < SAMPLE_SIZE:
            self.samples[kind].append(item)


@dataclass
class _Plan:
    """Rows to change once everything has been read (nothing is written while reading)."""

    redo: set[int] = field(default_factory=set)  # drifted subscriptions
    recreate: set[int] = field(default_factory=set)  # missing subscriptions
    # subscription id -> (Contract Id, Status, AccountId) as Salesforce has them
    ids: dict[int, tuple[str, str, str]] = field(default_factory=dict)


def reconcile(
    *, client: SalesforceClient | None = None, dry_run: bool = False
) -> Reconciliation | None:
    """Compare, mark what differs for a push (unless `dry_run`), store a ReconcileRun (unless
    `dry_run`). None when Salesforce is not configured; a failed read is reported in the
    result (error_code) and stored, not raised."""
    client = client or get_client()
    if client is None:
        return None
    result = Reconciliation(started_at=timezone.now(), dry_run=dry_run)
    calls_before = client.api_calls
    plan = _Plan()
    try:
        config = FieldConfig.from_settings()
        multi_currency = multi_currency_enabled(client=client)
        contracts = _read(client, "Contract",
                          _contract_query(config, multi_currency=multi_currency))
        accounts = _read(client, "Account", _account_query(config))
        result.contracts_seen, result.accounts_seen = len(contracts), len(accounts)
        by_ref = _by_ref(contracts, config.contract_external_field)
        accounts_by_ref = _by_ref(accounts, config.account_external_field)
        _compare(result, plan, by_ref, accounts_by_ref, config=config,
                 multi_currency=multi_currency)
    except SalesforceError as exc:
        result.error_code, result.error_message = exc.code, exc.message
        log.warning("salesforce reconciliation failed: %s", exc)
    result.api_calls = client.api_calls - calls_before
    if not dry_run and result.ok:
        result.marked = _apply(plan)
    result.finished_at = timezone.now()
    if not dry_run:
        result.run_id = _store(result)
    log.info("salesforce reconciliation done",
             extra={"reconciliation": {k: v for k, v in result.as_dict().items()
                                       if k != "samples"}})
    return result


# reading ---------------------------------------------------------------------------------


def _fields(names: Iterable[str]) -> str:
    """A SOQL field list; names come from settings, so each must look like an API name."""
    out: list[str] = []
    for name in names:
        if not _API_NAME.match(name):
            raise SalesforceError(
                f"{name!r} is not a Salesforce field name; check SUBSYNC_SF_FIELD_MAP and "
                "SUBSYNC_SF_EXTRA_FIELDS", code="INVALID_FIELD", permanent=True)
        if name not in out:
            out.append(name)
    return ", ".join(out)


def _contract_query(config: FieldConfig, *, multi_currency: bool) -> str:
    names = _fields([
        "Id", "AccountId", f"Account.{config.account_external_field}", "Status",
        *(name for _, name in config.sent(mapping.CONTRACT)),
        *config.extra.get(mapping.CONTRACT, {}),
        *(["CurrencyIsoCode"] if multi_currency else []),
    ])
    key = _fields([config.contract_external_field])
    return f"SELECT {names} FROM Contract WHERE {key} != null"  # noqa: S608 (checked names)


def _account_query(config: FieldConfig) -> str:
    names = _fields(["Id", *(name for _, name in config.sent(mapping.ACCOUNT)),
                     *config.extra.get(mapping.ACCOUNT, {})])
    key = _fields([config.account_external_field])
    return f"SELECT {names} FROM Account WHERE {key} != null"  # noqa: S608 (checked names)


def _read(client: SalesforceClient, sobject: str, soql: str) -> list[dict]:
    return record_call(client=client, operation="query", sobject=sobject,
                       call=lambda: client.query_all(soql))


def _by_ref(records: list[dict], external_field: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for record in records:
        ref = str(record.get(external_field) or "")
        if ref:
            out.setdefault(ref, record)
    return out


# comparing -------------------------------------------------------------------------------


def _same(expected: Any, actual: Any) -> bool:
    if expected in (None, "") or actual in (None, ""):
        return expected in (None, "") and actual in (None, "")
    if isinstance(expected, bool) or isinstance(actual, bool):
        return str(expected).lower() == str(actual).lower()
    if isinstance(expected, int | float):
        try:
            return abs(float(expected) - float(actual)) < _MONEY_TOLERANCE
        except (TypeError, ValueError):
            return False
    return str(expected) == str(actual)


def differences(
    payload: Payload, contract: Mapping[str, Any], account: Mapping[str, Any] | None,
    *, config: FieldConfig,
) -> dict[str, dict[str, Any]]:
    """Field -> {"salesforce": value, "billing": value} for everything that differs.

    Only what a push can fix counts: the currency of an Activated contract is read-only, so
    it is not compared; its account is (the push then explains how to move it).
    """
    diffs: dict[str, dict[str, Any]] = {}
    activated = contract.get("Status") == ACTIVATED
    for name, expected in payload.contract.items():
        if name == config.contract_external_field or (name == "CurrencyIsoCode" and activated):
            continue
        if not _same(expected, contract.get(name)):
            diffs[name] = {"salesforce": contract.get(name), "billing": expected}
    owner = (contract.get("Account") or {}).get(config.account_external_field)
    if owner != payload.account_ref:
        diffs["AccountId"] = {"salesforce": owner or contract.get("AccountId"),
                              "billing": payload.account_ref}
    if payload.activate and not activated:
        diffs["Status"] = {"salesforce": contract.get("Status"), "billing": ACTIVATED}
    if account is None:
        diffs["Account"] = {"salesforce": None, "billing": payload.account_ref}
    else:
        for name, expected in payload.account.items():
            if name != config.account_external_field and not _same(expected, account.get(name)):
                diffs[f"Account.{name}"] = {"salesforce": account.get(name), "billing": expected}
    return diffs


def _candidates():
    """Subscriptions Salesforce should know: in scope, or tracked by a sync row."""
    from django.conf import settings

    return (Subscription.objects.filter(Q(status__in=settings.SUBSYNC_SYNC_STATUSES)
                                        | Q(contract_sync__isnull=False))
            .select_related("customer").order_by("pk"))


def _by_refs(refs: Iterable[str]):
    """Subscriptions named by `provider:id` refs (chunked lookups)."""
    wanted: dict[str, list[str]] = {}
    for ref in refs:
        provider, sep, external = ref.partition(":")
        if sep:
            wanted.setdefault(provider, []).append(external)
    for provider, externals in wanted.items():
        for start in range(0, len(externals), 500):
            yield from (Subscription.objects.select_related("customer")
                        .filter(provider=provider, external_id__in=externals[start:start + 500]))


def _compare(
    result: Reconciliation, plan: _Plan, contracts: dict[str, dict], accounts: dict[str, dict],
    *, config: FieldConfig, multi_currency: bool,
) -> None:
    # The Salesforce ids each row holds, to correct only those that differ.
    held = {sub_id: (contract_id, status, account_id)
            for sub_id, contract_id, status, account_id in ContractSync.objects.values_list(
                "subscription_id", "sf_contract_id", "sf_contract_status", "sf_account_id")}
    seen: set[int] = set()

    def check(sub: Subscription) -> None:
        ref = mapping.external_id(sub.provider, sub.external_id)
        in_scope = sync_state.in_sync_scope(sub.status)
        contract = contracts.pop(ref, None)
        if contract is None:
            if in_scope:
                result.checked += 1
                result.missing += 1
                plan.recreate.add(sub.pk)
                result._sample("missing", {"subscription": ref, "status": sub.status})
            return
        result.checked += 1
        payload = mapping.build_payload(sub, multi_currency=multi_currency, activate=in_scope,
                                        config=config)
        diffs = differences(payload, contract, accounts.get(payload.account_ref), config=config)
        if not diffs:
            result.in_sync += 1
            return
        result.drifted += 1
        plan.redo.add(sub.pk)
        actual = (str(contract.get("Id") or ""), str(contract.get("Status") or ""),
                  str(contract.get("AccountId") or ""))
        if held.get(sub.pk) != actual:
            plan.ids[sub.pk] = actual
        result._sample("drifted", {"subscription": ref, "contract": actual[0],
                                   "fields": diffs})

    for sub in _candidates().iterator(chunk_size=2000):
        seen.add(sub.pk)
        check(sub)
    # Contracts of subscriptions that are neither in scope nor tracked (still known).
    for sub in list(_by_refs(list(contracts))):
        if sub.pk not in seen:
            check(sub)
    for ref, contract in contracts.items():
        result.orphans += 1
        owner = (contract.get("Account") or {}).get(config.account_external_field)
        result._sample("orphans", {"contract": contract.get("Id"), "external_id": ref,
                                   "account": owner, "status": contract.get("Status")})


# writing ---------------------------------------------------------------------------------


def _apply(plan: _Plan) -> int:
    """Make the rows due; the engine pushes them (a flush is requested after commit)."""
    if not plan.redo and not plan.recreate:
        return 0
    with transaction.atomic():
        marked = sync_state.mark_subscriptions_dirty(subscription_ids=sorted(plan.redo),
                                                     force=True)
        marked += sync_state.mark_subscriptions_dirty(
            subscription_ids=sorted(plan.recreate), force=True, forget_contract=True)
        for sub_id, (contract_id, status, account_id) in plan.ids.items():
            ContractSync.objects.filter(subscription_id=sub_id).update(
                sf_contract_id=contract_id, sf_contract_status=status, sf_account_id=account_id)
        transaction.on_commit(sync_state.request_flush)
    return marked


def _store(result: Reconciliation) -> int:
    run = ReconcileRun.objects.create(
        started_at=result.started_at, finished_at=result.finished_at,
        outcome=ReconcileRun.Outcome.OK if result.ok else ReconcileRun.Outcome.FAILED,
        contracts_seen=result.contracts_seen, accounts_seen=result.accounts_seen,
        checked=result.checked, in_sync=result.in_sync, drifted=result.drifted,
        missing=result.missing, orphans=result.orphans, marked=result.marked,
        api_calls=result.api_calls, error_code=result.error_code[:64],
        error_message=result.error_message, samples=result.samples,
    )
    return run.pk
