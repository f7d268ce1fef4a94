"""Keep webhook bodies out of the event rows (PostgreSQL only).

Every event row is written three times: inserted, claimed, done. PostgreSQL keeps a body of a
few kilobytes compressed inside the row, so both updates wrote the body again, into the table
and the write-ahead log: two thirds of the webhook table's WAL. With toast_tuple_target at its
minimum, a body that does not fit in 128 bytes is stored (still compressed) once, in the
table's TOAST relation, and the updates rewrite only the small row. Measured with
bench/webhooks.py: README "Performance".
"""

from django.db import migrations

TABLE = "billing_webhookevent"


def tune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} SET (toast_tuple_target = 128)")


def untune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} RESET (toast_tuple_target)")


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_webhook_event_autovacuum")]

    operations = [migrations.RunPython(tune, untune)]
