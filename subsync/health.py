"""Checks behind /healthz: can we reach the database and the Celery broker right now?"""

from __future__ import annotations

from django.db import connection

from subsync.celery import app


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


def check_broker(*, timeout: float = 2.0) -> str:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            # Redis connects lazily: ping so a server that went away is noticed now.
            client = getattr(conn.default_channel, "client", None)
            if client is not None and hasattr(client, "ping"):
                client.ping()
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"
