from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0009_webhook_event_claimed_at"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookevent",
            name="source",
            field=models.CharField(
                choices=[("webhook", "Webhook"), ("poll", "Poll"), ("backfill", "Backfill"),
                         ("reconcile", "Reconcile")],
                default="webhook", max_length=16,
            ),
        ),
    ]
