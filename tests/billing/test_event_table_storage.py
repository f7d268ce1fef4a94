"""The webhook event table's PostgreSQL storage settings (migrations 0004 and 0005).

Both are table options that exist only on PostgreSQL: vacuum the table often, and keep each
body out of its row so that the two status updates every event gets do not write it again.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection

from billing.models import WebhookEvent
from billing.services.intake import store_event

pytestmark = pytest.mark.django_db


def options() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s",
                       [WebhookEvent._meta.db_table])
        return set(cursor.fetchone()[0] or [])


def skip_unless_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL table options: runs on PostgreSQL (CI)")


def test_the_table_is_vacuumed_often_and_keeps_bodies_out_of_line():
    skip_unless_postgresql()
    assert {"autovacuum_vacuum_scale_factor=0.01", "autovacuum_analyze_scale_factor=0.01",
            "toast_tuple_target=128"} <= options()


def test_a_body_is_kept_out_of_the_row_and_survives_the_updates():
    """A body of a few kilobytes (about 1 KB compressed) would stay inside the row under
    PostgreSQL's default target of about 2 KB; here it goes to the TOAST relation."""
    skip_unless_postgresql()
    body = json.dumps({"content": {"items": [
        {"id": f"sub_{n}", "plan": "pro-monthly", "quantity": n % 7} for n in range(60)]}})
    assert len(body) > 3000
    stored = store_event(provider="chargebee", event_id="ev_toast", event_type="x",
                         body=body).event
    WebhookEvent.objects.filter(pk=stored.pk).update(status=WebhookEvent.State.PROCESSING)
    WebhookEvent.objects.filter(pk=stored.pk).update(status=WebhookEvent.State.PROCESSED)

    with connection.cursor() as cursor:
        cursor.execute("SELECT reltoastrelid::regclass::text FROM pg_class WHERE relname = %s",
                       [WebhookEvent._meta.db_table])
        toast = cursor.fetchone()[0]
        cursor.execute(f"SELECT count(DISTINCT chunk_id) FROM {toast}")  # noqa: S608 - catalog name
        assert cursor.fetchone()[0] == 1
    assert WebhookEvent.objects.get(pk=stored.pk).body == body
