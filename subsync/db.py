"""A psycopg cursor that binds parameters server-side, for the few statements that need it.

Django's PostgreSQL cursor binds on the client: psycopg renders every value into the SQL text
in Python. For the two hottest statements (the webhook INSERT, with a body of a few
kilobytes, and the batch UPDATE of existing rows, with an array per column) that rendering
cost more CPU than everything else the statement did. Those statements run through this
cursor instead, on the same connection and inside the same transaction. Django's own cursor
is kept wherever something watches the queries (DEBUG's query log, an execute_wrapper such as
a tracing library's) and on other databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import psycopg

# Django field types whose own conversion, on PostgreSQL, hands psycopg a value of exactly this
# Python type unchanged (datetimes: aware ones). A value already of that type can skip the
# conversion, which only checks and copies; the hot writes (the webhook INSERT, the batch
# writer's arrays) do.
DRIVER_TYPES: dict[str, type] = {
    "CharField": str, "TextField": str, "BooleanField": bool,
    "BigIntegerField": int, "IntegerField": int, "PositiveIntegerField": int,
    "PositiveSmallIntegerField": int, "SmallIntegerField": int,
    "AutoField": int, "BigAutoField": int, "DateTimeField": datetime,
}


def binds_server_side(connection) -> bool:
    """Whether `server_binding_cursor` may be used on this Django connection."""
    return (connection.vendor == "postgresql" and not connection.execute_wrappers
            and not connection.queries_logged)


@contextmanager
def server_binding_cursor(connection) -> Iterator[psycopg.Cursor]:
    """A server-side-binding cursor on Django's connection, its errors as Django's."""
    connection.validate_no_broken_transaction()
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor
