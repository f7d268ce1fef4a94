"""Upsert customers from what a provider said, never letting an older version win."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import Customer
from billing.normalized import NormalizedCustomer

_FIELDS = ("email", "company", "first_name", "last_name")


def is_stale(*, incoming: int | None, stored: int | None) -> bool:
    """True when the incoming version is known to be older than what we hold."""
    return incoming is not None and stored is not None and incoming < stored


def lock_or_create_customer(*, customer: NormalizedCustomer) -> tuple[Customer, bool]:
    """Return the customer row locked for this transaction, creating it if new.

    Two deliveries can create the same customer at once: the unique constraint decides and
    the loser re-reads the winner's row.
    """
    lookup = {"provider": customer.provider.value, "external_id": customer.external_id}
    row = Customer.objects.select_for_update().filter(**lookup).first()
    if row is not None:
        return row, False
    try:
        with transaction.atomic():
            row = Customer.objects.create(
                **lookup,
                **{name: getattr(customer, name) or "" for name in _FIELDS},
                source_version=customer.source_version,
                raw=customer.raw,
                deleted_at=timezone.now() if customer.deleted else None,
            )
        return row, True
    except IntegrityError:
        return Customer.objects.select_for_update().get(**lookup), False


def apply_customer(*, customer: NormalizedCustomer) -> tuple[Customer, bool]:
    """Store `customer` unless it is older than the stored one. Returns (row, applied)."""
    row, created = lock_or_create_customer(customer=customer)
    if created:
        return row, True
    if is_stale(incoming=customer.source_version, stored=row.source_version):
        return row, False
    if customer.source_version is None and not customer.raw:
        # Known only by its id (an event that names the customer without describing it):
        # nothing to learn, and blank details must not overwrite what we know.
        return row, False
    changes = {name: getattr(customer, name) or "" for name in _FIELDS}
    if customer.source_version is not None:
        changes["source_version"] = customer.source_version
    if customer.raw:
        changes["raw"] = customer.raw
    if customer.deleted and row.deleted_at is None:
        changes["deleted_at"] = timezone.now()
    changed = [name for name, value in changes.items() if getattr(row, name) != value]
    if changed:
        for name in changed:
            setattr(row, name, changes[name])
        row.save(update_fields=[*changed, "updated_at"])
    return row, True
