from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0008_ledger_day"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookevent",
            name="claimed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
