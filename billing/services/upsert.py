"""Bulk writes for the batch writer: existing rows back in one statement (INSERT ... ON
CONFLICT (id) DO UPDATE), new rows in one statement (INSERT ... RETURNING id).

The batch writer (billing.services.batch) changes many customers and subscriptions in memory
and writes them back at once. Django's bulk_update builds a CASE per field and row; its
bulk_create with update_conflicts is one statement, but on PostgreSQL it sends each column as
an array through UNNEST, and Django's client-side binding has psycopg render every text array
in Python, escaping each element with a regular expression: about a fifth of the worker's CPU
time. On PostgreSQL this writes the same statement with binary array parameters through a
server-side-binding cursor (subsync.db), about twice as fast per row; each value still goes
through its field's pre_save and get_db_prep_save, as in bulk_create, unless it already is
what that conversion would return (see _readers). Elsewhere, and whenever
the queries are being watched, it is Django's bulk_create.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import connections, transaction

from subsync.db import DRIVER_TYPES, binds_server_side, server_binding_cursor


def update_rows(model, rows: list, fields: list[str]) -> None:
    """Write `fields` of existing `rows` (locked by the caller) in one statement."""
    connection = transaction.get_connection()
    if rows and not binds_server_side(connection):
        model.objects.bulk_create(rows, update_conflicts=True, unique_fields=["pk"],
                                  update_fields=fields)
    elif rows:
        _execute(connection, _statement(connection.alias, model, tuple(fields)), rows)


def insert_rows(model, rows: list) -> None:
    """Insert new `rows` in one statement and set their primary keys, as bulk_create does."""
    connection = transaction.get_connection()
    if rows and not binds_server_side(connection):
        model.objects.bulk_create(rows)
    elif rows:
        ids = _execute(connection, _insert(connection.alias, model), rows)
        for row, (pk,) in zip(rows, ids, strict=True):
            row.pk = pk
            row._state.adding = False
            row._state.db = connection.alias


def _execute(connection, statement: tuple[str, tuple], rows: list) -> list[tuple]:
    """Run `statement` with one binary array per column of `rows`; return the rows it returns.

    Each value goes through its field's pre_save and get_db_prep_save, and a relation set to
    a row saved since (a new subscription's ledger row) first takes that row's id, as in
    bulk_create.
    """
    sql, columns = statement
    for row in rows:
        row._prepare_related_fields_for_save(operation_name="bulk write")
    arrays = [[read(row) for row in rows] for read in _readers(connection.alias, columns)]
    with server_binding_cursor(connection) as cursor:
        cursor.execute(sql, arrays)
        return cursor.fetchall() if cursor.description else []


@functools.cache
def _readers(alias: str, columns: tuple) -> tuple[Callable[[Any], Any], ...]:
    """For each column, how to read a row's value for the driver.

    A value of exactly the type the field would hand psycopg anyway (a str for a CharField, an
    aware datetime, an int) is passed as it is: running each field's conversion on every
    value of every row was a tenth of the worker's CPU time. Any other value, and every value
    of other fields (JSON, relations to non-integer keys), goes through the field's pre_save
    and get_db_prep_save, as in bulk_create.
    """
    connection = connections[alias]
    return tuple(_reader(field, connection) for field in columns)


def _reader(field, connection) -> Callable[[Any], Any]:
    def converted(row):
        return field.get_db_prep_save(field.pre_save(row, add=True), connection)

    # A relation's column holds its target's key (the attname, customer_id).
    target = field.target_field if field.is_relation else field
    exact = DRIVER_TYPES.get(target.get_internal_type())
    if exact is None or connection.vendor != "postgresql":
        return converted
    automatic = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    attname = field.attname

    def read(row):
        value = field.pre_save(row, add=True) if automatic else getattr(row, attname)
        if value is None or (type(value) is exact
                             and (exact is not datetime or value.tzinfo is not None)):
            return value
        return field.get_db_prep_save(value, connection)

    return read


@functools.cache
def _statement(alias: str, model, fields: tuple[str, ...]) -> tuple[str, tuple]:
    """The statement for `model` updating `fields`, and the columns it sends, in order.

    Every column is sent (an INSERT checks NOT NULL before it finds the conflict).
    """
    connection = connections[alias]
    meta = model._meta
    quote = connection.ops.quote_name
    columns = tuple(meta.concrete_fields)
    updated = [meta.get_field(name) for name in fields]
    sql = " ".join([
        _insert_from_arrays(connection, model, columns),
        "ON CONFLICT", f"({quote(meta.pk.column)})", "DO UPDATE SET",
        ", ".join(f"{quote(f.column)} = EXCLUDED.{quote(f.column)}" for f in updated),
    ])
    return sql, columns


@functools.cache
def _insert(alias: str, model) -> tuple[str, tuple]:
    """The statement inserting new rows of `model` (every column but the generated id) and
    returning their ids in order, and the columns it sends."""
    connection = connections[alias]
    meta = model._meta
    columns = tuple(f for f in meta.concrete_fields if not f.primary_key)
    sql = " ".join([_insert_from_arrays(connection, model, columns),
                    "RETURNING", connection.ops.quote_name(meta.pk.column)])
    return sql, columns


def _insert_from_arrays(connection, model, columns: tuple) -> str:
    """INSERT INTO table (columns) SELECT * FROM UNNEST(one binary array per column).

    Each array (%b) is cast to its column's type without a length (varchar, not
    varchar(255)), as Django's own UNNEST insert does. Names only come from the model.
    """
    quote = connection.ops.quote_name

    def array_type(field) -> str:
        target = field.target_field if field.is_relation else field
        return target.db_type(connection).split("(")[0] + "[]"

    return " ".join([
        "INSERT INTO", quote(model._meta.db_table),
        "(" + ", ".join(quote(f.column) for f in columns) + ")",
        "SELECT * FROM UNNEST("  # noqa: S608 - model names and %b placeholders only
        + ", ".join(f"%b::{array_type(f)}" for f in columns) + ")",
    ])
