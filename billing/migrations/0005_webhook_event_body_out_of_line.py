"""Keep webhook bodies out of the event rows (PostgreSQL only).

Every event row is written three times: inserted, claimed, done. PostgreSQL keeps a body of a
few kilobytes compressed inside the row, so both updates wrote the body again, into the table
and the write-ahead log: two thirds of the webhook table's WAL. With toast_tuple_target at its
minimum, a body that does not fit in 128 bytes is stored (still compressed) once, in the
table's TOAST relation, and the updates rewrite only the small row. Measured with
bench/webhooks.py: README "Performance".
"""

from django.db import migrations

from billing.migrations._table_options import postgresql_table_options


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_webhook_event_autovacuum")]

    operations = [postgresql_table_options("billing_webhookevent", toast_tuple_target=128)]
