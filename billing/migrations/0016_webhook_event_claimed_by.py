from django.db import migrations, models


class Migration(migrations.Migration):
    """Which worker (Celery node name) holds a claimed event, so that a restarted worker can
    give back what its dead predecessor held without waiting for the lease (issue 15).
    A constant default: PostgreSQL adds the column without rewriting the table."""

    dependencies = [
        ("billing", "0015_webhook_event_next_attempt_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookevent",
            name="claimed_by",
            field=models.CharField(blank=True, default="", max_length=255),
        ),
    ]
