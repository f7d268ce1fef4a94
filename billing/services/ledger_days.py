"""Keep LedgerDay, the ledger summed per day and currency, equal to the ledger.

Why: the metrics read the ledger's history as sums per day and currency; keeping those sums
up to date as ledger rows are written makes every dashboard read a few thousand rows instead
of a million. The batch writer (billing.services.batch, the only writer of ledger rows) calls
add_changes() with the rows it has just inserted, in the same transaction: one statement that
adds the batch's sums to the stored ones (INSERT ... ON CONFLICT DO UPDATE SET x = x + new x),
so concurrent batches never overwrite each other's sums. Rows go in key order, so two batches
touching the same days lock them in the same order and wait for each other, never deadlock.

rebuild_ledger_days() recomputes the table from the ledger (after a bulk load, or to repair);
the migration that created the table filled it the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date

from django.db import connection, transaction
from django.db.models import Case, Count, F, IntegerField, Q, Sum, Value, When
from django.db.models.functions import TruncDate

from billing.models import ACTIVE_STATUSES, LedgerDay, Movement, SubscriptionChange

KINDS = (Movement.NEW, Movement.EXPANSION, Movement.CONTRACTION, Movement.CHURN,
         Movement.REACTIVATION)
COLUMNS = ("mrr_delta", "active_delta",
           *(f"{kind.value}_{part}" for kind in KINDS for part in ("amount", "count")))
_ACTIVE = frozenset(ACTIVE_STATUSES)


def day_of(change: SubscriptionChange) -> date:
    return change.occurred_at.astimezone(UTC).date()


def sums_of(changes: Iterable[SubscriptionChange]) -> dict[tuple[date, str], dict[str, int]]:
    """The LedgerDay columns that `changes` add, per (day, currency)."""
    sums: dict[tuple[date, str], dict[str, int]] = {}
    for change in changes:
        row = sums.setdefault((day_of(change), change.currency), dict.fromkeys(COLUMNS, 0))
        row["mrr_delta"] += change.mrr_after - change.mrr_before
        row["active_delta"] += ((change.status_after in _ACTIVE)
                                - (change.status_before in _ACTIVE))
        if change.movement != Movement.NONE:
            row[f"{change.movement}_amount"] += change.movement_amount
            row[f"{change.movement}_count"] += 1
    return sums


def add_changes(changes: Iterable[SubscriptionChange]) -> None:
    """Add newly written ledger rows to LedgerDay (inside the caller's transaction)."""
    sums = sums_of(changes)
    if not sums:
        return
    table = connection.ops.quote_name(LedgerDay._meta.db_table)
    names = ", ".join(["day", "currency", *COLUMNS])
    added = ", ".join(f"{name} = {table}.{name} + EXCLUDED.{name}" for name in COLUMNS)
    width = 2 + len(COLUMNS)
    per_statement = max(1, (connection.features.max_query_params or 10_000) // width)
    keys = sorted(sums)
    with connection.cursor() as cursor:
        for start in range(0, len(keys), per_statement):
            chunk = keys[start:start + per_statement]
            placeholders = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(chunk))
            params = []
            for day, currency in chunk:
                params += [connection.ops.adapt_datefield_value(day), currency,
                           *(sums[day, currency][name] for name in COLUMNS)]
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES {placeholders}"  # noqa: S608 (names only)
                f" ON CONFLICT (day, currency) DO UPDATE SET {added}", params)


def rebuild_ledger_days() -> int:
    """Recompute LedgerDay from the whole ledger; returns the number of rows written.

    On PostgreSQL the table is locked against other writers first: a batch that wrote ledger
    rows before the lock has committed by the time the ledger is read (so they are counted
    once), and one that writes after waits and adds its rows to the rebuilt sums.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {connection.ops.quote_name(LedgerDay._meta.db_table)}"
                               " IN SHARE ROW EXCLUSIVE MODE")
        return rebuild(ledger=SubscriptionChange, days=LedgerDay)


def rebuild(*, ledger, days) -> int:
    """rebuild_ledger_days() with the two models given (the migration passes its own)."""
    was_active = Q(status_before__in=ACTIVE_STATUSES)
    is_active = Q(status_after__in=ACTIVE_STATUSES)
    per_kind = {}
    for kind in KINDS:
        per_kind[f"{kind.value}_amount"] = Sum("movement_amount", filter=Q(movement=kind))
        per_kind[f"{kind.value}_count"] = Count("id", filter=Q(movement=kind))
    grouped = (
        ledger.objects.annotate(day=TruncDate("occurred_at", tzinfo=UTC))
        .order_by().values("day", "currency")
        .annotate(
            mrr_delta=Sum(F("mrr_after") - F("mrr_before")),
            active_delta=Sum(Case(
                When(is_active & ~was_active, then=Value(1)),
                When(was_active & ~is_active, then=Value(-1)),
                default=Value(0), output_field=IntegerField(),
            )),
            **per_kind,
        )
    )
    rows = [days(day=row["day"], currency=row["currency"],
                 **{name: row[name] or 0 for name in COLUMNS}) for row in grouped]
    days.objects.all().delete()
    days.objects.bulk_create(rows, batch_size=2000)
    return len(rows)
