"""Products, price books and opportunities: the objects and the platform rules subsync meets.

Product2, Pricebook2 (with the one standard price book every org has), PricebookEntry,
Opportunity, OpportunityLineItem and OpportunityLineItemSchedule. The rules are the ones a
real org enforces and that a sync can trip over:

- the standard price book exists from the start and cannot be created through the API;
- a product needs an entry in the standard price book before one in any other, and a price
  book holds one entry per product and currency;
- a line item's entry must be active, in the opportunity's price book (an opportunity without
  one takes the entry's) and in its currency; Quantity is required, and UnitPrice or
  TotalPrice but not both;
- the opportunity's price book and currency are fixed once it has line items, and its Amount
  is the sum of its line items (read-only while it has any);
- revenue schedules only on products that allow them (`CanUseRevenueSchedule`), and only in
  orgs where revenue schedules are enabled (otherwise neither that field nor the schedule
  object exists);
- deleting a line item deletes its schedules; deleting an opportunity deletes its lines;
- StageName, Type and the schedule Type are restricted picklists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .describe import Field, SObject, _id_field, _is_deleted, _owner, _system_fields
from .errors import SfError

if TYPE_CHECKING:
    from .org import Org

PRODUCT_OBJECTS = (
    "Product2", "Pricebook2", "PricebookEntry", "Opportunity", "OpportunityLineItem",
    "OpportunityLineItemSchedule",
)
STAGES = (
    "Prospecting", "Qualification", "Needs Analysis", "Value Proposition",
    "Id. Decision Makers", "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review",
    "Closed Won", "Closed Lost",
)
WON, LOST = "Closed Won", "Closed Lost"
OPPORTUNITY_TYPES = (
    "Existing Customer - Upgrade", "Existing Customer - Replacement",
    "Existing Customer - Downgrade", "New Customer",
)
STANDARD_PRICE_BOOK = "Standard Price Book"


def _ref(name: str, target: str, relationship: str, *, nillable: bool = True,
         updateable: bool = True) -> Field:
    return Field(name, "reference", name, length=18, reference_to=(target,),
                 relationship_name=relationship, nillable=nillable, updateable=updateable)


def _money(name: str, label: str, **kw) -> Field:
    return Field(name, "currency", label, precision=18, scale=2, **kw)


def _with(fields: list[Field], currency: Field | None) -> list[Field]:
    import copy

    out = [_id_field("Record ID"), _is_deleted(), *fields]
    if currency is not None:
        out.append(copy.copy(currency))
    return out + _system_fields()


def _sobject(name: str, label: str, fields: list[Field]) -> SObject:
    return SObject(name, label, f"{label}s", {f.name: f for f in fields})


def objects(currency: Field | None, *, revenue_schedules: bool = True) -> list[SObject]:
    """The six objects; without revenue schedules, neither CanUseRevenueSchedule nor the
    schedule object exists (as in an org where they were never enabled)."""
    product = [
        Field("Name", "string", "Product Name", length=255, nillable=False, name_field=True),
        Field("ProductCode", "string", "Product Code", length=255),
        Field("Description", "textarea", "Product Description", length=4000),
        Field("IsActive", "boolean", "Active", nillable=False, defaulted_on_create=True,
              default=False),
        Field("Family", "picklist", "Product Family", length=40, picklist=("None",)),
        Field("Subsync_Product_Id__c", "string", "Subsync Product ID", length=255,
              external_id=True, unique=True, case_sensitive=True, custom=True),
    ]
    if revenue_schedules:
        product += [
            Field("CanUseRevenueSchedule", "boolean", "Revenue Schedule Enabled",
                  nillable=False, defaulted_on_create=True, default=False),
            Field("RevenueScheduleType", "picklist", "Revenue Schedule Type", length=40,
                  picklist=("Divide", "Repeat"), restricted=True),
            Field("RevenueInstallmentPeriod", "picklist", "Revenue Installment Period",
                  length=40, picklist=("Daily", "Weekly", "Monthly", "Quarterly", "Yearly"),
                  restricted=True),
            Field("NumberOfRevenueInstallments", "int", "Number Of Revenue Installments",
                  digits=9),
        ]
    pricebook = [
        Field("Name", "string", "Price Book Name", length=255, nillable=False, name_field=True),
        Field("IsActive", "boolean", "Active", nillable=False, defaulted_on_create=True,
              default=False),
        Field("IsStandard", "boolean", "Is Standard Price Book", nillable=False,
              createable=False, updateable=False, defaulted_on_create=True, default=False),
        Field("Description", "textarea", "Description", length=255),
    ]
    entry = [
        _ref("Pricebook2Id", "Pricebook2", "Pricebook2", nillable=False, updateable=False),
        _ref("Product2Id", "Product2", "Product2", nillable=False, updateable=False),
        _money("UnitPrice", "List Price", nillable=False),
        Field("IsActive", "boolean", "Active", nillable=False, defaulted_on_create=True,
              default=False),
        Field("UseStandardPrice", "boolean", "Use Standard Price", nillable=False,
              defaulted_on_create=True, default=False),
        Field("Name", "string", "Product Name", length=255, createable=False, updateable=False),
        Field("ProductCode", "string", "Product Code", length=255, createable=False,
              updateable=False),
    ]
    opportunity = [
        _ref("AccountId", "Account", "Account"),
        _ref("ContractId", "Contract", "Contract"),
        _ref("Pricebook2Id", "Pricebook2", "Pricebook2"),
        Field("Name", "string", "Name", length=120, nillable=False, name_field=True),
        Field("Description", "textarea", "Description", length=32000),
        Field("StageName", "picklist", "Stage", length=255, nillable=False, picklist=STAGES,
              restricted=True),
        Field("Type", "picklist", "Opportunity Type", length=255, picklist=OPPORTUNITY_TYPES,
              restricted=True),
        Field("CloseDate", "date", "Close Date", nillable=False),
        _money("Amount", "Amount"),
        Field("IsClosed", "boolean", "Closed", nillable=False, createable=False,
              updateable=False, defaulted_on_create=True),
        Field("IsWon", "boolean", "Won", nillable=False, createable=False, updateable=False,
              defaulted_on_create=True),
        Field("HasOpportunityLineItem", "boolean", "Has Line Item", nillable=False,
              createable=False, updateable=False, defaulted_on_create=True),
        _owner(),
        Field("Subsync_Renewal_Id__c", "string", "Subsync Renewal ID", length=255,
              external_id=True, unique=True, case_sensitive=True, custom=True),
        Field("Subsync_Loss_Reason__c", "string", "Subsync Loss Reason", length=255,
              custom=True),
    ]
    line = [
        _ref("OpportunityId", "Opportunity", "Opportunity", nillable=False, updateable=False),
        _ref("PricebookEntryId", "PricebookEntry", "PricebookEntry", updateable=False),
        _ref("Product2Id", "Product2", "Product2", updateable=False),
        Field("Quantity", "double", "Quantity", precision=12, scale=2, nillable=False),
        _money("UnitPrice", "Sales Price"),
        _money("TotalPrice", "Total Price"),
        _money("ListPrice", "List Price", createable=False, updateable=False),
        Field("Description", "string", "Line Description", length=255),
        Field("HasRevenueSchedule", "boolean", "Has Revenue Schedule", nillable=False,
              createable=False, updateable=False, defaulted_on_create=True),
        Field("Subsync_Line_Id__c", "string", "Subsync Line ID", length=255,
              external_id=True, unique=True, case_sensitive=True, custom=True),
    ]
    out = [
        _sobject("Product2", "Product", _with(product, currency)),
        _sobject("Pricebook2", "Price Book", _with(pricebook, None)),
        _sobject("PricebookEntry", "Price Book Entry", _with(entry, currency)),
        _sobject("Opportunity", "Opportunity", _with(opportunity, currency)),
        _sobject("OpportunityLineItem", "Opportunity Product", _with(line, currency)),
    ]
    if revenue_schedules:
        schedule = [
            _ref("OpportunityLineItemId", "OpportunityLineItem", "OpportunityLineItem",
                 nillable=False, updateable=False),
            Field("Type", "picklist", "Type", length=40, nillable=False,
                  picklist=("Revenue", "Quantity"), restricted=True),
            _money("Revenue", "Revenue"),
            Field("Quantity", "double", "Quantity", precision=12, scale=2),
            Field("ScheduleDate", "date", "Date", nillable=False),
            Field("Description", "string", "Comments", length=80),
        ]
        out.append(_sobject("OpportunityLineItemSchedule", "Opportunity Product Schedule",
                            _with(schedule, currency)))
    for sobj in out:
        if sobj.name in ("Pricebook2", "OpportunityLineItemSchedule", "OpportunityLineItem"):
            sobj.fields.pop("OwnerId", None)
    return out


def seed(org: Org) -> None:
    """The standard price book every org has (a fresh org, or one just reset)."""
    if any(r.get("IsStandard") for r in org.store.all("Pricebook2")):
        return
    record = {"Id": org.new_id("Pricebook2"), "Name": STANDARD_PRICE_BOOK, "IsActive": True,
              "IsStandard": True, "IsDeleted": False}
    now = org.now()
    record.update(CreatedDate=now, LastModifiedDate=now, SystemModstamp=now,
                  CreatedById=org.user_id, LastModifiedById=org.user_id)
    org.store.put("Pricebook2", record)


# rules -------------------------------------------------------------------------------------


def _integrity(field: str, text: str) -> SfError:
    return SfError("FIELD_INTEGRITY_EXCEPTION", f"field integrity exception: {field} ({text})",
                   (field,))


def _currency(record: dict | None) -> object:
    return (record or {}).get("CurrencyIsoCode")


def _lines_of(org: Org, opportunity_id: str) -> list[dict]:
    # The table itself, not store.all(): that sorts every line item on each call.
    return [r for r in org.store.tables["OpportunityLineItem"].values()
            if r.get("OpportunityId") == opportunity_id and not r.get("IsDeleted")]


def validate(org: Org, name: str, existing: dict | None, record: dict,
             values: dict) -> list[SfError]:
    """The object rules of the six objects (after the field rules passed); `values` are the
    fields the request set."""
    check = _RULES.get(name)
    return check(org, existing, record, values) if check else []


def _entry_rules(org: Org, existing: dict | None, record: dict,
                 values: dict) -> list[SfError]:
    if existing is not None:
        return []
    book = org.store.get("Pricebook2", record.get("Pricebook2Id"))
    same = [e for e in org.store.all("PricebookEntry")
            if e.get("Product2Id") == record.get("Product2Id")
            and _currency(e) == _currency(record)]
    if not book.get("IsStandard") and not any(
        org.store.get("Pricebook2", e.get("Pricebook2Id")).get("IsStandard") for e in same
    ):
        return [SfError("STANDARD_PRICE_NOT_DEFINED",
                        "No standard price defined for this product")]
    if any(e.get("Pricebook2Id") == record.get("Pricebook2Id") for e in same):
        return [SfError("DUPLICATE_VALUE",
                        "This price definition already exists in this price book")]
    return []


def _opportunity_rules(org: Org, existing: dict | None, record: dict,
                       values: dict) -> list[SfError]:
    if existing is None or not _lines_of(org, existing["Id"]):
        return []
    if record.get("Pricebook2Id") != existing.get("Pricebook2Id"):
        return [_integrity("Pricebook2Id", "pricebook cannot be changed on an opportunity "
                                           "that has line items")]
    if _currency(record) != _currency(existing):
        return [SfError("FIELD_INTEGRITY_EXCEPTION", "Opportunity Currency: you can't change "
                        "the currency of an opportunity that has products",
                        ("CurrencyIsoCode",))]
    if record.get("Amount") != existing.get("Amount"):
        return [SfError("FIELD_INTEGRITY_EXCEPTION", "Amount: can't be set on an opportunity "
                        "with products; it is the sum of their total prices", ("Amount",))]
    return []


def _line_rules(org: Org, existing: dict | None, record: dict, values: dict) -> list[SfError]:
    if values.get("UnitPrice") is not None and values.get("TotalPrice") is not None:
        return [_integrity("TotalPrice", "cannot specify both unit price and total price")]
    if record.get("UnitPrice") is None and record.get("TotalPrice") is None:
        return [SfError("REQUIRED_FIELD_MISSING",
                        "Required fields are missing: [UnitPrice]", ("UnitPrice",))]
    if record.get("Quantity") is not None and record["Quantity"] <= 0:
        return [_integrity("Quantity", "quantity must be greater than zero")]
    if existing is not None:
        return []
    entry = org.store.get("PricebookEntry", record.get("PricebookEntryId"))
    if entry is None:
        return [SfError("REQUIRED_FIELD_MISSING", "Required fields are missing: "
                        "[PricebookEntryId]", ("PricebookEntryId",))]
    opportunity = org.store.get("Opportunity", record.get("OpportunityId"))
    if not entry.get("IsActive"):
        return [_integrity("PricebookEntryId", "pricebook entry is inactive")]
    book = opportunity.get("Pricebook2Id")
    if book and book != entry.get("Pricebook2Id"):
        return [_integrity("PricebookEntryId", "pricebook entry is in a different pricebook "
                                               "than the one assigned to the opportunity")]
    if _currency(entry) != _currency(opportunity):
        return [_integrity("PricebookEntryId", "pricebook entry currency code does not match "
                                               "opportunity currency code")]
    return []


def _schedule_rules(org: Org, existing: dict | None, record: dict,
                    values: dict) -> list[SfError]:
    line = org.store.get("OpportunityLineItem", record.get("OpportunityLineItemId"))
    product = org.store.get("Product2", line.get("Product2Id")) or {}
    if record.get("Type") == "Revenue":
        if not product.get("CanUseRevenueSchedule"):
            return [_integrity("OpportunityLineItemId", "revenue schedules are not enabled "
                                                        "for this product")]
        if record.get("Revenue") is None:
            return [SfError("REQUIRED_FIELD_MISSING", "Required fields are missing: [Revenue]",
                            ("Revenue",))]
    return []


_RULES = {"PricebookEntry": _entry_rules, "Opportunity": _opportunity_rules,
          "OpportunityLineItem": _line_rules, "OpportunityLineItemSchedule": _schedule_rules}


# derived values ----------------------------------------------------------------------------


def derive(org: Org, name: str, existing: dict | None, record: dict,
           values: dict) -> list[tuple[str, dict]]:
    """Fill what Salesforce computes on the record; return other records it changes
    (object name, new version) for the caller to store."""
    if name == "PricebookEntry":
        product = org.store.get("Product2", record.get("Product2Id")) or {}
        record["Name"], record["ProductCode"] = product.get("Name"), product.get("ProductCode")
        return []
    if name == "Opportunity":
        record["IsClosed"] = record.get("StageName") in (WON, LOST)
        record["IsWon"] = record.get("StageName") == WON
        record.setdefault("HasOpportunityLineItem", False)
        return []
    if name == "OpportunityLineItem":
        return _derive_line(org, existing, record, values)
    if name == "OpportunityLineItemSchedule":
        line = org.store.get("OpportunityLineItem", record.get("OpportunityLineItemId"))
        record["CurrencyIsoCode"] = _currency(line)
        if "CurrencyIsoCode" not in org.schema.get(name).fields:
            record.pop("CurrencyIsoCode", None)
        if line is not None and not line.get("HasRevenueSchedule"):
            return [("OpportunityLineItem", {**line, "HasRevenueSchedule": True})]
    return []


def _derive_line(org: Org, existing: dict | None, record: dict,
                 values: dict) -> list[tuple[str, dict]]:
    quantity = record.get("Quantity") or 0
    if existing is None:
        entry = org.store.get("PricebookEntry", record.get("PricebookEntryId")) or {}
        record["Product2Id"] = entry.get("Product2Id")
        record["ListPrice"] = entry.get("UnitPrice")
        if "CurrencyIsoCode" in org.schema.get("OpportunityLineItem").fields:
            record["CurrencyIsoCode"] = _currency(entry)
    if values.get("TotalPrice") is not None and quantity:
        record["UnitPrice"] = round(record["TotalPrice"] / quantity, 2)
    elif record.get("UnitPrice") is not None:
        record["TotalPrice"] = round(record["UnitPrice"] * quantity, 2)
    opportunity = org.store.get("Opportunity", record.get("OpportunityId"))
    return [("Opportunity", _totals(org, opportunity, record, existing=existing))]


def _totals(org: Org, opportunity: dict, changed: dict | None, *, existing: dict | None = None,
            removed: str | None = None) -> dict:
    lines = {r["Id"]: r for r in _lines_of(org, opportunity["Id"])}
    if changed is not None:
        lines[changed.get("Id") or "new"] = changed
    if removed:
        lines.pop(removed, None)
    updated = dict(opportunity)
    updated["HasOpportunityLineItem"] = bool(lines)
    if lines:
        updated["Amount"] = round(sum(r.get("TotalPrice") or 0 for r in lines.values()), 2)
        if not updated.get("Pricebook2Id") and changed is not None:
            entry = org.store.get("PricebookEntry", changed.get("PricebookEntryId")) or {}
            updated["Pricebook2Id"] = entry.get("Pricebook2Id")
    return updated


def cascade_delete(org: Org, name: str, record: dict, journal: list) -> None:
    """Delete what goes with a deleted record (schedules of a line, lines of an opportunity),
    and keep the opportunity's Amount right."""
    if name == "Opportunity":
        for line in _lines_of(org, record["Id"]):
            _soft_delete(org, "OpportunityLineItem", line, journal)
            cascade_delete(org, "OpportunityLineItem", line, journal)
    elif name == "OpportunityLineItem":
        if "OpportunityLineItemSchedule" in org.schema.objects:
            for schedule in org.store.all("OpportunityLineItemSchedule"):
                if schedule.get("OpportunityLineItemId") == record["Id"]:
                    _soft_delete(org, "OpportunityLineItemSchedule", schedule, journal)
        opportunity = org.store.get("Opportunity", record.get("OpportunityId"))
        if opportunity is not None:
            org.store.put("Opportunity", _totals(org, opportunity, None, removed=record["Id"]),
                          journal)


def _soft_delete(org: Org, name: str, record: dict, journal: list) -> None:
    now = org.now()
    org.store.put(name, {**record, "IsDeleted": True, "LastModifiedDate": now,
                         "SystemModstamp": now}, journal)
