from django.db import migrations, models


class Migration(migrations.Migration):
    """When a failed event's delayed retry is due, so that the stuck-event requeue can send
    it again when the Celery message carrying it was lost (issue 15)."""

    dependencies = [
        ("billing", "0014_minimise_stored_payloads"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookevent",
            name="next_attempt_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
