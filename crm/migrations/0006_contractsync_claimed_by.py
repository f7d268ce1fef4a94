from django.db import migrations, models


class Migration(migrations.Migration):
    """Which worker (Celery node name) leased a ContractSync row and when, so that a
    restarted worker can free the rows its dead predecessor leased without waiting for the
    lease (issue 15)."""

    dependencies = [
        ("crm", "0005_products_renewals"),
    ]

    operations = [
        migrations.AddField(
            model_name="contractsync",
            name="claimed_by",
            field=models.CharField(blank=True, default="", max_length=255),
        ),
        migrations.AddField(
            model_name="contractsync",
            name="claimed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
