"""An index for the subscriptions list's default order (last updated first).

Without it every page of /subscriptions/ (and of a search) sorted all matching subscriptions
to show fifty; with it a page walks the index newest first and stops when the page is full.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("billing", "0012_ledger_time_and_renewal_indexes")]

    operations = [
        migrations.AddIndex(
            model_name="subscription",
            index=models.Index(fields=["updated_at", "id"], name="sub_updated_idx"),
        ),
    ]
