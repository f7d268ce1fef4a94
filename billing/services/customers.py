"""Customers: lock or create many at once, and merge what a provider said into a row.

The merge works on a row in memory so that a batch of events can apply several versions of
one customer in order and write the result once (billing.services.batch). Newer versions win;
an older one changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from billing.models import Customer
from billing.normalized import NormalizedCustomer

FIELDS = ("email", "company", "first_name", "last_name")
Key = tuple[str, str]  # (provider, external_id)


def is_stale(*, incoming: int | None, stored: int | None) -> bool:
    """True when the incoming version is known to be older than what we hold."""
    return incoming is not None and stored is not None and incoming < stored


def key_of(customer: NormalizedCustomer) -> Key:
    return customer.provider.value, customer.external_id


def keys_filter(keys: Iterable[Key]) -> Q:
    """One condition matching every (provider, external_id) in `keys`."""
    by_provider: dict[str, list[str]] = {}
    for provider, external_id in keys:
        by_provider.setdefault(provider, []).append(external_id)
    condition = Q(pk__in=[])
    for provider, ids in by_provider.items():
        condition |= Q(provider=provider, external_id__in=ids)
    return condition


def lock_customers(keys: set[Key]) -> tuple[dict[Key, Customer], set[Key]]:
    """Lock the customers of `keys` for this transaction, creating the missing ones blank.

    Returns the rows by key and the keys this call created. Rows are locked in key order and
    missing ones inserted in key order, the same in every transaction, so that two batches
    sharing customers wait for each other instead of deadlocking. A customer created
    concurrently by another transaction is simply locked after it commits.
    """
    if not keys:
        return {}, set()
    locked = _locked(keys)
    missing = sorted(keys - locked.keys())
    if missing:
        Customer.objects.bulk_create(
            [Customer(provider=provider, external_id=external_id)
             for provider, external_id in missing],
            ignore_conflicts=True,
        )
        locked.update(_locked(set(missing)))
    return locked, set(missing)


def _locked(keys: set[Key]) -> dict[Key, Customer]:
    rows = (Customer.objects.select_for_update().filter(keys_filter(keys))
            .order_by("provider", "external_id"))
    return {(row.provider, row.external_id): row for row in rows}


def merge_customer(row: Customer, customer: NormalizedCustomer, *, first: bool,
                   now: datetime | None = None) -> tuple[bool, bool]:
    """Merge `customer` into `row` in memory; return (applied, row changed).

    `first` is True for the first look at a row created blank by this batch: everything the
    provider said is taken, as for a new row.
    """
    now = now or timezone.now()
    if first:
        for name in FIELDS:
            setattr(row, name, getattr(customer, name) or "")
        row.source_version = customer.source_version
        row.raw = customer.raw
        row.deleted_at = now if customer.deleted else None
        return True, True
    if is_stale(incoming=customer.source_version, stored=row.source_version):
        return False, False
    if customer.source_version is None and not customer.raw:
        # Known only by its id (an event that names the customer without describing it):
        # nothing to learn, and blank details must not overwrite what we know.
        return False, False
    changes = {name: getattr(customer, name) or "" for name in FIELDS}
    if customer.source_version is not None:
        changes["source_version"] = customer.source_version
    if customer.raw:
        changes["raw"] = customer.raw
    if customer.deleted and row.deleted_at is None:
        changes["deleted_at"] = now
    changed = [name for name, value in changes.items() if getattr(row, name) != value]
    for name in changed:
        setattr(row, name, changes[name])
    return True, bool(changed)
