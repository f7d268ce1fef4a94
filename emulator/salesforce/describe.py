"""The emulated org's schema: which objects and fields exist and what each field allows.

Everything the emulator enforces about a field (type, length, nillable, createable,
external id, uniqueness, picklist values) comes from the ``Field`` objects defined here,
and ``/sobjects/<T>/describe`` renders the same objects, so what a client reads from
describe is exactly what the emulator checks. A "broken org" (a mapped field missing,
an external id that is not unique) is this schema with one field dropped or altered.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

from .ids import KEY_PREFIXES

DEFAULT_CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD", "JPY", "CHF", "SEK", "NZD", "INR")

SUBSYNC_STATUSES = (
    "trial",
    "active",
    "past_due",
    "non_renewing",
    "paused",
    "cancelled",
    "expired",
)

CONTRACT_STATUSES = ("Draft", "In Approval Process", "Activated")
"""The Contract Status picklist of a new org. Terminated and Expired are status *codes*
that Salesforce sets itself; the API cannot set them."""

STATUS_CODES = {"Draft": "Draft", "In Approval Process": "InApproval", "Activated": "Activated"}

STRING_TYPES = frozenset({"string", "textarea", "picklist", "phone", "url", "email"})
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "string": "xsd:string",
    "textarea": "xsd:string",
    "picklist": "xsd:string",
    "phone": "xsd:string",
    "url": "xsd:string",
    "email": "xsd:string",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "boolean": "xsd:boolean",
}


@dataclass
class Field:
    """One field of an sObject, with the describe attributes the emulator enforces."""

    name: str
    type: str
    label: str
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    custom: bool = False
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    default: str | None = None
    precision: int = 0
    scale: int = 0
    digits: int = 0
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    defaulted_on_create: bool = False
    calculated: bool = False
    auto_number: bool = False
    name_field: bool = False

    @property
    def read_only(self) -> bool:
        return not self.createable and not self.updateable

    @property
    def is_text(self) -> bool:
        return self.type in STRING_TYPES or self.type in ("id", "reference")

    def describe(self) -> dict:
        """This field as it appears in ``fields`` of an sObject describe."""
        values = [
            {
                "active": True,
                "defaultValue": value == self.default,
                "label": value,
                "validFor": None,
                "value": value,
            }
            for value in self.picklist
        ]
        return {
            "aggregatable": self.type not in ("textarea",),
            "autoNumber": self.auto_number,
            "byteLength": self.length * 3 if self.is_text else 0,
            "calculated": self.calculated,
            "caseSensitive": self.case_sensitive,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": None,
            "defaultValueFormula": None,
            "defaultedOnCreate": self.defaulted_on_create,
            "dependentPicklist": False,
            "digits": self.digits,
            "externalId": self.external_id,
            "filterable": self.type != "textarea",
            "groupable": self.type not in ("textarea", "double", "currency", "datetime"),
            "htmlFormatted": False,
            "idLookup": self.type == "id" or self.external_id or self.name_field,
            "label": self.label,
            "length": self.length,
            "name": self.name,
            "nameField": self.name_field,
            "nillable": self.nillable,
            "permissionable": self.custom or (self.nillable and not self.read_only),
            "picklistValues": values,
            "precision": self.precision,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "restrictedPicklist": self.restricted,
            "scale": self.scale,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:anyType"),
            "sortable": self.type != "textarea",
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
        }


@dataclass
class SObject:
    """An object type (Account, Contract) and its fields, looked up case-insensitively."""

    name: str
    label: str
    label_plural: str
    fields: dict[str, Field] = field(default_factory=dict)

    @property
    def key_prefix(self) -> str:
        return KEY_PREFIXES[self.name]

    def field(self, name: str) -> Field | None:
        found = self.fields.get(name)
        if found is not None:
            return found
        lowered = name.lower()
        for candidate in self.fields.values():
            if candidate.name.lower() == lowered:
                return candidate
        return None

    def relationship(self, name: str) -> Field | None:
        """The reference field whose relationship is called ``name`` (``Account``)."""
        lowered = name.lower()
        for candidate in self.fields.values():
            if candidate.relationship_name and candidate.relationship_name.lower() == lowered:
                return candidate
        return None

    def indexed_fields(self) -> list[Field]:
        """Fields that need a value index: external ids and unique fields."""
        return [f for f in self.fields.values() if f.external_id or f.unique]

    def urls(self, version: str) -> dict:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "compactLayouts": f"{base}/describe/compactLayouts",
            "rowTemplate": f"{base}/{{ID}}",
            "describe": f"{base}/describe",
            "sobject": base,
        }

    def summary(self, version: str) -> dict:
        """The entry for this object in the global describe."""
        return {
            "activateable": False,
            "createable": True,
            "custom": False,
            "customSetting": False,
            "deletable": True,
            "deprecatedAndHidden": False,
            "feedEnabled": True,
            "hasSubtypes": False,
            "isSubtype": False,
            "keyPrefix": self.key_prefix,
            "label": self.label,
            "labelPlural": self.label_plural,
            "layoutable": True,
            "mergeable": self.name == "Account",
            "mruEnabled": True,
            "name": self.name,
            "queryable": True,
            "replicateable": True,
            "retrieveable": True,
            "searchable": True,
            "triggerable": True,
            "undeletable": True,
            "updateable": True,
            "urls": self.urls(version),
        }

    def describe(self, version: str) -> dict:
        body = self.summary(version)
        body.update(
            {
                "childRelationships": [],
                "fields": [f.describe() for f in self.fields.values()],
                "recordTypeInfos": [],
                "supportedScopes": [{"label": "All", "name": "everything"}],
            }
        )
        return body


def _system_fields() -> list[Field]:
    """Audit fields every object has; all read-only and maintained by the emulator."""
    user_ref = {"reference_to": ("User",), "length": 18}
    return [
        Field(
            "CreatedDate",
            "datetime",
            "Created Date",
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
        ),
        Field(
            "CreatedById",
            "reference",
            "Created By ID",
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
            relationship_name="CreatedBy",
            **user_ref,
        ),
        Field(
            "LastModifiedDate",
            "datetime",
            "Last Modified Date",
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
        ),
        Field(
            "LastModifiedById",
            "reference",
            "Last Modified By ID",
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
            relationship_name="LastModifiedBy",
            **user_ref,
        ),
        Field(
            "SystemModstamp",
            "datetime",
            "System Modstamp",
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
        ),
        Field("LastActivityDate", "date", "Last Activity", createable=False, updateable=False),
    ]


def _currency_field(currencies: tuple[str, ...], corporate: str) -> Field:
    return Field(
        "CurrencyIsoCode",
        "picklist",
        "Currency ISO Code",
        length=3,
        nillable=False,
        defaulted_on_create=True,
        picklist=currencies,
        restricted=True,
        default=corporate,
    )


def _id_field(label: str) -> Field:
    return Field(
        "Id",
        "id",
        label,
        length=18,
        nillable=False,
        createable=False,
        updateable=False,
        defaulted_on_create=True,
    )


def _is_deleted() -> Field:
    return Field(
        "IsDeleted",
        "boolean",
        "Deleted",
        nillable=False,
        createable=False,
        updateable=False,
        defaulted_on_create=True,
    )


def _owner() -> Field:
    return Field(
        "OwnerId",
        "reference",
        "Owner ID",
        length=18,
        nillable=False,
        defaulted_on_create=True,
        reference_to=("User",),
        relationship_name="Owner",
    )


def account(currency: Field | None) -> SObject:
    fields = [
        _id_field("Account ID"),
        _is_deleted(),
        Field("Name", "string", "Account Name", length=255, nillable=False, name_field=True),
        Field(
            "Type",
            "picklist",
            "Account Type",
            length=255,
            picklist=(
                "Prospect",
                "Customer - Direct",
                "Customer - Channel",
                "Channel Partner / Reseller",
                "Installation Partner",
                "Technology Partner",
                "Other",
            ),
        ),
        Field(
            "ParentId",
            "reference",
            "Parent Account ID",
            length=18,
            reference_to=("Account",),
            relationship_name="Parent",
        ),
        Field("BillingStreet", "textarea", "Billing Street", length=255),
        Field("BillingCity", "string", "Billing City", length=40),
        Field("BillingState", "string", "Billing State/Province", length=80),
        Field("BillingPostalCode", "string", "Billing Zip/Postal Code", length=20),
        Field("BillingCountry", "string", "Billing Country", length=80),
        Field("Phone", "phone", "Account Phone", length=40),
        Field("Website", "url", "Website", length=255),
        Field("AccountNumber", "string", "Account Number", length=40),
        Field(
            "Industry",
            "picklist",
            "Industry",
            length=255,
            picklist=(
                "Banking",
                "Communications",
                "Education",
                "Finance",
                "Healthcare",
                "Manufacturing",
                "Media",
                "Retail",
                "Technology",
                "Other",
            ),
        ),
        Field("AnnualRevenue", "currency", "Annual Revenue", precision=18, scale=0),
        Field("NumberOfEmployees", "int", "Employees", digits=8),
        Field("Description", "textarea", "Account Description", length=32000),
        _owner(),
    ]
    if currency is not None:
        fields.append(copy.copy(currency))
    fields += _system_fields()
    fields.append(
        Field(
            "Subsync_Customer_Id__c",
            "string",
            "Subsync Customer ID",
            length=255,
            external_id=True,
            unique=True,
            case_sensitive=True,
            custom=True,
        )
    )
    return SObject("Account", "Account", "Accounts", {f.name: f for f in fields})


def contract(currency: Field | None) -> SObject:
    fields = [
        _id_field("Contract ID"),
        Field(
            "AccountId",
            "reference",
            "Account ID",
            length=18,
            nillable=False,
            reference_to=("Account",),
            relationship_name="Account",
        ),
    ]
    if currency is not None:
        fields.append(copy.copy(currency))
    fields += [
        Field(
            "OwnerExpirationNotice",
            "picklist",
            "Owner Expiration Notice",
            length=40,
            picklist=("15", "30", "45", "60", "90", "120"),
            restricted=True,
        ),
        Field("StartDate", "date", "Contract Start Date"),
        Field("EndDate", "date", "Contract End Date", createable=False, updateable=False),
        Field("BillingStreet", "textarea", "Billing Street", length=255),
        Field("BillingCity", "string", "Billing City", length=40),
        Field("BillingCountry", "string", "Billing Country", length=80),
        Field("ContractTerm", "int", "Contract Term", digits=4),
        _owner(),
        Field(
            "Status",
            "picklist",
            "Status",
            length=40,
            nillable=False,
            defaulted_on_create=True,
            picklist=CONTRACT_STATUSES,
            restricted=True,
            default="Draft",
        ),
        Field("CompanySignedDate", "date", "Company Signed Date"),
        Field("CustomerSignedTitle", "string", "Customer Signed Title", length=40),
        Field("CustomerSignedDate", "date", "Customer Signed Date"),
        Field("SpecialTerms", "textarea", "Special Terms", length=4000),
        Field(
            "ActivatedById",
            "reference",
            "Activated By ID",
            length=18,
            createable=False,
            updateable=False,
            reference_to=("User",),
            relationship_name="ActivatedBy",
        ),
        Field("ActivatedDate", "datetime", "Activated Date", createable=False, updateable=False),
        Field(
            "StatusCode",
            "picklist",
            "Status Category",
            length=40,
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
            restricted=True,
            picklist=("Draft", "InApproval", "Activated", "Terminated", "Expired"),
        ),
        Field("Description", "textarea", "Description", length=32000),
        Field("Name", "string", "Contract Name", length=80),
        _is_deleted(),
        Field(
            "ContractNumber",
            "string",
            "Contract Number",
            length=30,
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
            auto_number=True,
            name_field=True,
        ),
        Field(
            "LastApprovedDate", "datetime", "Last Approved Date", createable=False, updateable=False
        ),
    ]
    fields += _system_fields()
    fields += [
        Field(
            "Subsync_Subscription_Id__c",
            "string",
            "Subsync Subscription ID",
            length=255,
            external_id=True,
            unique=True,
            case_sensitive=True,
            custom=True,
        ),
        Field(
            "Subsync_Status__c",
            "picklist",
            "Subsync Status",
            length=255,
            custom=True,
            picklist=SUBSYNC_STATUSES,
            restricted=True,
        ),
        Field("Subsync_MRR__c", "currency", "Subsync MRR", precision=18, scale=2, custom=True),
        Field("Subsync_Plan__c", "string", "Subsync Plan", length=255, custom=True),
        Field("Subsync_Renewal_Date__c", "date", "Subsync Renewal Date", custom=True),
        Field("Subsync_Cancelled_Date__c", "date", "Subsync Cancelled Date", custom=True),
        Field("Subsync_Provider__c", "string", "Subsync Provider", length=40, custom=True),
    ]
    return SObject("Contract", "Contract", "Contracts", {f.name: f for f in fields})


class Schema:
    """The objects of the emulated org, looked up case-insensitively like Salesforce does."""

    def __init__(self, objects: list[SObject], *, multi_currency: bool, corporate_currency: str):
        self.objects = {o.name: o for o in objects}
        self.multi_currency = multi_currency
        self.corporate_currency = corporate_currency

    @classmethod
    def standard(
        cls,
        *,
        multi_currency: bool = False,
        currencies: tuple[str, ...] = DEFAULT_CURRENCIES,
        corporate_currency: str = "USD",
        revenue_schedules: bool = True,
    ) -> Schema:
        """A correctly set-up org: standard fields plus the subsync custom fields; products,
        price books and opportunities too (emulator.salesforce.products), with revenue
        schedules enabled unless `revenue_schedules` is False."""
        from .products import objects

        currency = _currency_field(currencies, corporate_currency) if multi_currency else None
        return cls(
            [account(currency), contract(currency),
             *objects(currency, revenue_schedules=revenue_schedules)],
            multi_currency=multi_currency,
            corporate_currency=corporate_currency,
        )

    def get(self, name: str) -> SObject | None:
        found = self.objects.get(name)
        if found is not None:
            return found
        for candidate in self.objects.values():
            if candidate.name.lower() == name.lower():
                return candidate
        return None

    def drop_field(self, sobject: str, field_name: str) -> None:
        """Remove a field, as if an admin had never created it (or deleted it)."""
        obj = self._object(sobject)
        found = obj.field(field_name)
        if found is None:
            raise KeyError(f"{sobject}.{field_name} does not exist")
        del obj.fields[found.name]

    def alter_field(self, sobject: str, field_name: str, **attributes) -> None:
        """Change describe attributes of a field, e.g. ``external_id=False, unique=False``."""
        obj = self._object(sobject)
        found = obj.field(field_name)
        if found is None:
            raise KeyError(f"{sobject}.{field_name} does not exist")
        obj.fields[found.name] = replace(found, **attributes)

    def _object(self, name: str) -> SObject:
        obj = self.get(name)
        if obj is None:
            raise KeyError(f"unknown sObject {name}")
        return obj
