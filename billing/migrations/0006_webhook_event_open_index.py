"""Index only the webhook events that still wait for work or for an operator.

The status index held every event, and each event enters it three times (received,
processing, done): done events, nearly all rows, were most of its size and of its share of
the write-ahead log. Claims (received), the stuck-event requeue (received, processing) and
replays (failed by default) only look for open events; done events are found by time through
event_received_idx. The new index is built before the old one goes.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_webhook_event_body_out_of_line")]

    operations = [
        migrations.AddIndex(
            model_name="webhookevent",
            index=models.Index(
                condition=models.Q(status__in=["received", "processing", "failed"]),
                fields=["status", "received_at"], name="event_open_received_idx",
            ),
        ),
        migrations.RemoveIndex(model_name="webhookevent", name="event_status_received_idx"),
    ]
