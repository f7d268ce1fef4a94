"""Reduce the provider payloads stored before data minimisation to what the product uses.

From 0011 on, the parsers keep only an allow-list of each provider object (billing/minimise.py:
no cards, addresses, phones, custom fields or Braintree transactions). Rows written before
still hold the whole object until the provider sends it again; this applies the same
allow-list to them once. Braintree customers are stored without a payload now, so theirs is
emptied.
"""

from django.db import migrations

CHUNK = 2000


def _reduce(model, provider: str, reduce) -> None:
    rows = model.objects.filter(provider=provider).exclude(raw={}).only("pk", "raw")
    batch = []
    for row in rows.iterator(chunk_size=CHUNK):
        reduced = reduce(row.raw) if isinstance(row.raw, dict) else {}
        if reduced != row.raw:
            row.raw = reduced
            batch.append(row)
        if len(batch) >= CHUNK:
            model.objects.bulk_update(batch, ["raw"])
            batch = []
    if batch:
        model.objects.bulk_update(batch, ["raw"])


def minimise_stored_payloads(apps, schema_editor) -> None:
    from billing import minimise

    customer = apps.get_model("billing", "Customer")
    subscription = apps.get_model("billing", "Subscription")
    _reduce(customer, "chargebee", minimise.chargebee_customer)
    _reduce(customer, "braintree", lambda raw: {})
    _reduce(subscription, "chargebee", minimise.chargebee_subscription)
    _reduce(subscription, "braintree", minimise.braintree_subscription)


class Migration(migrations.Migration):
    dependencies = [("billing", "0013_subscription_updated_index")]

    operations = [
        migrations.RunPython(minimise_stored_payloads, migrations.RunPython.noop,
                             elidable=True),
    ]
