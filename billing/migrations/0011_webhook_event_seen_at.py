from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0010_webhook_event_source_reconcile"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookevent",
            name="seen_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
