"""Indexes for the dashboard's reads of a period (issue 13's benchmark).

The churn page reads a period of churned ledger rows (into cancelled or expired) and the
movements page a period of movements of any kind, newest first; neither had an index on the
time alone, so both read the whole ledger. Two partial indexes on (occurred_at, id) hold only
those rows (a few per cent of the ledger each). The renewals report and the overview select a
window of the renewal date, Coalesce(contract_term_end, current_term_end), which an index on
either column cannot serve: an expression index on it.
"""

from django.db import migrations, models
from django.db.models.functions import Coalesce


class Migration(migrations.Migration):
    dependencies = [("billing", "0011_webhook_event_seen_at")]

    operations = [
        migrations.AddIndex(
            model_name="subscription",
            index=models.Index(Coalesce("contract_term_end", "current_term_end"),
                               name="sub_renewal_at_idx"),
        ),
        migrations.AddIndex(
            model_name="subscriptionchange",
            index=models.Index(condition=models.Q(status_after__in=["cancelled", "expired"]),
                               fields=["occurred_at", "id"], name="change_churned_time_idx"),
        ),
        migrations.AddIndex(
            model_name="subscriptionchange",
            index=models.Index(condition=~models.Q(movement="none"),
                               fields=["occurred_at", "id"], name="change_moved_time_idx"),
        ),
    ]
