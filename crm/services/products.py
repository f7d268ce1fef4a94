"""Plans and add-ons as Product2 records with entries in the standard price book.

Called by the renewal push (crm.services.renewal_opportunities) for the products a batch's
subscriptions use, so products cost nothing when nothing new is sold: a product is upserted
only when its record differs from the one last pushed (payload digest), and an entry is
created only when none is known for its product and currency. Entries have no external id,
so before inserting, the entries Salesforce already has for those products are read (one
query): an insert whose answer was lost is found rather than duplicated.

The standard price book is looked up, never created (an org has exactly one), and its id is
cached like the org's multi-currency answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from crm import products_mapping as pm
from crm.models import PriceEntrySync, ProductSync
from crm.renewals_mapping import major
from crm.salesforce.errors import SalesforceError
from crm.services import record_writes
from crm.services.record_writes import Run

Key = tuple[str, str]  # (product ref, currency or "" in a single-currency org)


@dataclass(frozen=True)
class Need:
    """A product a batch sells in one currency, and the price to list it at if new."""

    line: pm.PricedLine
    currency: str  # the subscription's currency (for minor -> major units)


@dataclass
class Entries:
    """Entry ids by (product ref, currency), and why the others are missing."""

    ids: dict[Key, str]
    errors: dict[Key, SalesforceError]
    pricebook_id: str = ""


def _cache_key(run: Run) -> str:
    config = run.client.config
    return f"subsync:sf:standard-pricebook:{config.login_url}:{config.client_id or config.username}"


def standard_pricebook_id(run: Run) -> str:
    """The org's standard price book (one query when not cached); raises SalesforceError."""
    known = cache.get(_cache_key(run))
    if known:
        return known
    rows = record_writes.query(run, sobject=pm.PRICE_BOOK,
                               soql="SELECT Id FROM Pricebook2 WHERE IsStandard = true LIMIT 1")
    if not rows:
        raise SalesforceError(
            "the org has no standard price book visible to the integration user: give it read "
            "access to Price Books (run `manage.py salesforce_check`)",
            code="NO_STANDARD_PRICEBOOK", permanent=True)
    cache.set(_cache_key(run), rows[0]["Id"], settings.SUBSYNC_SF_DESCRIBE_TTL_SECONDS)
    return rows[0]["Id"]


def _names(refs: list[str]) -> dict[str, str]:
    """Braintree plans have names in the cached plan list; other items are named by id."""
    from billing.models import BraintreePlan

    plan_ids = [ref.split(":", 1)[1] for ref in refs if ref.startswith("braintree:")]
    return {f"braintree:{plan.plan_id}": plan.name
            for plan in BraintreePlan.objects.filter(plan_id__in=plan_ids) if plan.name}


def _push_products(run: Run, needs: Mapping[Key, Need]) -> tuple[dict[str, ProductSync],
                                                                   dict[str, SalesforceError]]:
    refs = sorted({ref for ref, _ in needs})
    ProductSync.objects.bulk_create([ProductSync(ref=ref) for ref in refs],
                                    ignore_conflicts=True)
    rows = {row.ref: row for row in ProductSync.objects.filter(ref__in=refs)}
    names = _names(refs)
    items = {ref: need.line.item_id for (ref, _), need in needs.items()}
    todo = []
    for ref in refs:
        record = pm.product_record(ref=ref, item_id=items[ref], name=names.get(ref, ""))
        digest = pm.digest(record)
        if rows[ref].sf_product_id and rows[ref].payload_hash == digest:
            continue
        todo.append((ref, record, digest))
    results = record_writes.write(run, operation="upsert", sobject=pm.PRODUCT,
                                  records=[record for _, record, _ in todo],
                                  refs=[ref for ref, _, _ in todo],
                                  external_field=pm.PRODUCT_EXTERNAL_ID)
    errors: dict[str, SalesforceError] = {}
    now = timezone.now()
    for (ref, _, digest), result in zip(todo, results, strict=True):
        if result.success:
            rows[ref].sf_product_id = result.id or rows[ref].sf_product_id
            rows[ref].payload_hash = digest
            rows[ref].last_synced_at = now
            rows[ref].save(update_fields=["sf_product_id", "payload_hash", "last_synced_at"])
        else:
            errors[ref] = result.error
    return rows, errors


def ensure_entries(run: Run, *, needs: Mapping[Key, Need], multi_currency: bool) -> Entries:
    """Every needed product upserted and priced in the standard price book."""
    out = Entries(ids={}, errors={})
    if not needs:
        return out
    products, failed = _push_products(run, needs)
    for key in needs:
        if key[0] in failed:
            out.errors[key] = failed[key[0]]
    known = {(entry.product.ref, entry.currency): entry.sf_entry_id
             for entry in PriceEntrySync.objects.filter(product__in=products.values())
             .select_related("product")}
    missing = [key for key in needs if key not in known and key not in out.errors]
    out.ids.update({key: value for key, value in known.items() if key in needs})
    if not missing:
        return out
    try:
        out.pricebook_id = standard_pricebook_id(run)
        found = _existing_entries(run, products=products, keys=missing,
                                  pricebook_id=out.pricebook_id, multi_currency=multi_currency)
    except SalesforceError as exc:
        out.errors.update(dict.fromkeys(missing, exc))
        return out
    for key, entry_id in found.items():
        _remember(products[key[0]], key[1], entry_id, price="")
        out.ids[key] = entry_id
    _insert_entries(run, out, products=products, needs=needs,
                    keys=[key for key in missing if key not in found])
    return out


def _existing_entries(run: Run, *, products: dict[str, ProductSync], keys: list[Key],
                      pricebook_id: str, multi_currency: bool) -> dict[Key, str]:
    by_id = {products[ref].sf_product_id: ref for ref, _ in keys}
    select = "Id, Product2Id" + (", CurrencyIsoCode" if multi_currency else "")
    rows = record_writes.query_in(run, sobject=pm.ENTRY, select=select, field="Product2Id",
                                  values=sorted(by_id), where=f"Pricebook2Id = '{pricebook_id}'")
    found = {}
    for row in rows:
        ref = by_id.get(str(row.get("Product2Id") or "")[:18])
        currency = str(row.get("CurrencyIsoCode") or "") if multi_currency else ""
        if ref is not None and (ref, currency) in keys:
            found[(ref, currency)] = row["Id"]
    return found


def _insert_entries(run: Run, out: Entries, *, products: dict[str, ProductSync],
                    needs: Mapping[Key, Need], keys: list[Key]) -> None:
    records, prices = [], []
    for ref, currency in keys:
        need = needs[(ref, currency)]
        price = major(need.line.unit_amount, need.currency)
        prices.append(price)
        records.append(pm.entry_record(pricebook_id=out.pricebook_id,
                                       product_id=products[ref].sf_product_id,
                                       unit_price=price, currency=currency))
    match = ("Product2Id", "CurrencyIsoCode") if any(c for _, c in keys) else ("Product2Id",)
    results = record_writes.write(run, operation="insert", sobject=pm.ENTRY, records=records,
                                  refs=[f"{ref}|{currency}" for ref, currency in keys],
                                  match=match)
    for key, price, result in zip(keys, prices, results, strict=True):
        if result.success and result.id:
            _remember(products[key[0]], key[1], result.id, price=str(price))
            out.ids[key] = result.id
        else:
            out.errors[key] = result.error or SalesforceError(
                "no id in the answer", code="UNEXPECTED_RESPONSE", permanent=False)


def _remember(product: ProductSync, currency: str, entry_id: str, *, price: str) -> None:
    PriceEntrySync.objects.update_or_create(
        product=product, currency=currency,
        defaults={"sf_entry_id": entry_id, **({"unit_price": price} if price else {})})
