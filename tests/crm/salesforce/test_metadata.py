"""The Salesforce DX source admins deploy (crm/salesforce/metadata) declares every custom field
the mapping writes, with the type, key attributes and picklist values of the emulator's
describe and of what preflight accepts, and the permission set lets the integration user edit
each of them. Parsed from the XML, so a field added to the mapping without its metadata (or
with a different type) fails here rather than in a customer's org."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from crm import mapping, products_mapping, renewals_mapping
from crm.salesforce.client import SalesforceClient
from crm.salesforce.config import SalesforceConfig

ROOT = Path(__file__).resolve().parents[3] / "crm" / "salesforce" / "metadata"
SOURCE = ROOT / "force-app" / "main" / "default"
NS = {"md": "http://soap.sforce.com/2006/04/metadata"}
# Metadata API field types -> the describe `type` Salesforce reports for them.
DESCRIBE_TYPE = {"Text": "string", "Picklist": "picklist", "Currency": "currency",
                 "Date": "date", "Number": "double", "Checkbox": "boolean",
                 "TextArea": "textarea", "LongTextArea": "textarea"}
CUSTOM = {sobject: [name for name in names if name.endswith("__c")]
          for sobject, names in ((mapping.ACCOUNT, mapping.ACCOUNT_FIELDS),
                                 (mapping.CONTRACT, mapping.CONTRACT_FIELDS))}
# Products and renewal opportunities (opt-in): their custom fields, and the types they take.
TYPES = {**mapping.FIELD_TYPES, products_mapping.PRODUCT: products_mapping.PRODUCT_FIELD_TYPES,
         **renewals_mapping.FIELD_TYPES}
CUSTOM.update({sobject: [name for name in TYPES[sobject] if name.endswith("__c")]
               for sobject in (products_mapping.PRODUCT, renewals_mapping.OPPORTUNITY,
                               renewals_mapping.LINE)})


def _parse(path: Path) -> ET.Element:
    return ET.parse(path).getroot()  # noqa: S314 (files of this repository, not input)


def _text(element: ET.Element, tag: str) -> str | None:
    found = element.find(f"md:{tag}", NS)
    return found.text.strip() if found is not None and found.text else None


def _declared(sobject: str, name: str) -> ET.Element:
    path = SOURCE / "objects" / sobject / "fields" / f"{name}.field-meta.xml"
    assert path.is_file(), f"{sobject}.{name} is written by the mapping but has no {path}"
    return _parse(path)


@pytest.fixture(scope="module")
def described(cert_dir):
    from emulator.salesforce import EmulatorServer

    with EmulatorServer(cert_dir=cert_dir) as emu:
        client = SalesforceClient(config=SalesforceConfig(
            login_url=emu.url, client_id="emulator", client_secret="emulator",
            ca_bundle=str(emu.ca_path)))
        try:
            yield {sobject: {f["name"]: f for f in client.describe(sobject)["fields"]}
                   for sobject in CUSTOM}
        finally:
            client.close()


def test_the_project_file_points_at_the_source():
    project = json.loads((ROOT / "sfdx-project.json").read_text())
    assert [d["path"] for d in project["packageDirectories"]] == ["force-app"]


def test_no_field_is_declared_that_the_mapping_does_not_write():
    for sobject, names in CUSTOM.items():
        files = sorted(p.name.removesuffix(".field-meta.xml")
                       for p in (SOURCE / "objects" / sobject / "fields").glob("*.xml"))
        assert files == sorted(names)


@pytest.mark.parametrize(("sobject", "name"),
                         [(o, n) for o, names in CUSTOM.items() for n in names])
def test_each_field_matches_the_describe_and_what_preflight_accepts(described, sobject, name):
    root = _declared(sobject, name)
    field = described[sobject][name]
    assert _text(root, "fullName") == name
    kind = DESCRIBE_TYPE[_text(root, "type")]
    assert kind == field["type"]
    assert kind in TYPES[sobject][name]
    assert (_text(root, "externalId") == "true") is field["externalId"]
    assert (_text(root, "unique") == "true") is field["unique"]
    if field["externalId"]:
        assert _text(root, "caseSensitive") == "true" and field["caseSensitive"]
    if kind == "string":
        assert int(_text(root, "length")) == field["length"]
    if kind == "currency":
        assert (int(_text(root, "precision")), int(_text(root, "scale"))) == (
            field["precision"], field["scale"])
    if kind == "picklist":
        values = [_text(v, "fullName") for v in root.iterfind(
            "md:valueSet/md:valueSetDefinition/md:value", NS)]
        assert values == [v["value"] for v in field["picklistValues"]]
        assert set(values) == mapping.SUBSYNC_STATUS_VALUES
        restricted = _text(root.find("md:valueSet", NS), "restricted") == "true"
        assert restricted is field["restrictedPicklist"]
    assert _text(root, "required") != "true"  # subsync sends null for absent values


def test_the_permission_set_grants_every_field_and_both_objects():
    root = _parse(SOURCE / "permissionsets" / "Subsync_Integration.permissionset-meta.xml")
    granted = {_text(p, "field"): (_text(p, "readable"), _text(p, "editable"))
               for p in root.iterfind("md:fieldPermissions", NS)}
    expected = {f"{sobject}.{name}" for sobject, names in CUSTOM.items() for name in names}
    assert set(granted) == expected
    assert set(granted.values()) == {("true", "true")}
    objects = {_text(p, "object"): p for p in root.iterfind("md:objectPermissions", NS)}
    # Opportunity products and schedules follow the Opportunity's permissions; price book
    # entries need edit on price books (the standard one is never created).
    assert set(objects) == {"Account", "Contract", "Product2", "Pricebook2", "Opportunity"}
    for name, permission in objects.items():
        for right in ("allowRead", "allowCreate", "allowEdit"):
            expected = "false" if (name, right) == ("Pricebook2", "allowCreate") else "true"
            assert _text(permission, right) == expected


def test_the_two_reports_read_renewals_and_contracts_subsync_keeps():
    folder = SOURCE / "reports" / "Subsync"
    assert (SOURCE / "reports" / "Subsync.reportFolder-meta.xml").is_file()
    reports = {path.name: _parse(path) for path in folder.glob("*.report-meta.xml")}
    assert len(reports) == 2
    renewals = reports["Subsync_Renewals_This_And_Next_Quarter.report-meta.xml"]
    assert _text(renewals, "reportType") == "Opportunity"
    grouping = renewals.find("md:groupingsDown", NS)
    assert (_text(grouping, "field"), _text(grouping, "sortOrder")) == ("ACCOUNT_NAME", "Desc")
    contracts = reports["Subsync_Contracts_Ending_This_And_Next_Quarter.report-meta.xml"]
    for root, key in ((renewals, f"Opportunity.{renewals_mapping.RENEWAL_EXTERNAL_ID}"),
                      (contracts, f"Contract.{mapping.CONTRACT_EXTERNAL_ID}")):
        [criteria] = root.iterfind("md:filter/md:criteriaItems", NS)
        assert (_text(criteria, "column"), _text(criteria, "operator")) == (key, "notEqual")
        window = root.find("md:timeFrameFilter", NS)
        assert _text(window, "interval") == "INTERVAL_CURNEXT1"  # this quarter and next
