from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("crm", "0003_reconcile_run"),
    ]

    operations = [
        migrations.AddField(
            model_name="salesforceorgstate",
            name="instance_url",
            field=models.URLField(blank=True, max_length=255),
        ),
    ]
