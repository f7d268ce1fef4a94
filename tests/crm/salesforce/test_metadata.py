"""The Salesforce DX source admins deploy (crm/salesforce/metadata) declares every custom field
the mapping writes, with the type, key attributes and picklist values of the emulator's
describe and of what preflight accepts, and the permission set lets the integration user edit
each of them. Parsed from the XML, so a field added to the mapping without its metadata (or
with a different type) fails here rather than in a customer's org. The two reports are checked
against the Metadata API's Report schema as documented (element order, enumerations), the
custom fields they read against the field metadata, and manifest/package.xml against the
source; none of this was deployed to a real org."""

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
    renewals, contracts = (_parse(REPORTS / f"{name}.report-meta.xml") for name in REPORT_NAMES)
    assert _text(renewals, "reportType") == "Opportunity"
    assert _text(renewals, "format") == "Summary"
    grouping = renewals.find("md:groupingsDown", NS)
    # Grouped by account, the groups ordered by their summed Amount, largest first.
    assert (_text(grouping, "field"), _text(grouping, "sortOrder"), _text(grouping, "sortType"),
            _text(grouping, "sortByName")) == ("ACCOUNT_NAME", "Desc", "Aggregate", "s!AMOUNT")
    [amount] = [c for c in renewals.iterfind("md:columns", NS) if _text(c, "field") == "AMOUNT"]
    assert _text(amount, "aggregateTypes") == "Sum"
    assert _text(contracts, "reportType") == "ContractList"
    for root, key in ((renewals, f"Opportunity.{renewals_mapping.RENEWAL_EXTERNAL_ID}"),
                      (contracts, f"Contract.{mapping.CONTRACT_EXTERNAL_ID}")):
        [criteria] = root.iterfind("md:filter/md:criteriaItems", NS)
        assert (_text(criteria, "column"), _text(criteria, "operator")) == (key, "notEqual")
        window = root.find("md:timeFrameFilter", NS)
        # This calendar quarter and next, as the dashboard's renewal windows
        # (billing.selectors.renewals.quarter_window); INTERVAL_CURNEXT1 is fiscal quarters.
        assert _text(window, "interval") == "INTERVAL_CURNEXTQ"


# Structure checked against the Metadata API's Report type (its WSDL: the elements of Report
# and of its parts, in the order of their xsd:sequence, and the enumerations used here). A
# deploy refuses an element out of its sequence's order ("Element ... invalid at this
# location"). Verified against the documentation only, not by a deploy to a real org.
REPORT_ELEMENTS = (
    "aggregates", "block", "blockInfo", "buckets", "chart", "colorRanges", "columns",
    "crossFilters", "currency", "customDetailFormulas", "dataCategoryFilters", "description",
    "division", "filter", "folderName", "format", "formattingRules", "groupingsAcross",
    "groupingsDown", "historicalSelector", "isSmartTotalDisabled", "name", "numSubscriptions",
    "params", "reportType", "reportTypeApiName", "roleHierarchyFilter", "rowLimit", "scope",
    "showCurrentDate", "showDetails", "showGrandTotal", "showSubTotals", "sortColumn",
    "sortOrder", "territoryHierarchyFilter", "timeFrameFilter", "userFilter")
PART_ELEMENTS = {
    "columns": ("aggregateTypes", "field", "isExtendedColumn", "reverseColors", "showChanges"),
    "filter": ("booleanFilter", "criteriaItems", "language"),
    "criteriaItems": ("column", "columnToColumn", "isUnlocked", "operator", "snapshot",
                      "value"),
    "groupingsDown": ("aggregateType", "dateGranularity", "field", "sortByName", "sortOrder",
                      "sortType"),
    "timeFrameFilter": ("dateColumn", "endDate", "interval", "startDate"),
}
REQUIRED = {"Report": ("format", "name", "reportType"), "columns": ("field",),
            "criteriaItems": ("column", "operator"), "groupingsDown": ("field", "sortOrder"),
            "timeFrameFilter": ("dateColumn", "interval")}
ENUMS = {"format": {"MultiBlock", "Matrix", "Summary", "Tabular"}, "sortOrder": {"Asc", "Desc"},
         "sortType": {"Column", "Aggregate", "CustomSummaryFormula"},
         "aggregateTypes": {"Sum", "Average", "Maximum", "Minimum", "Unique", "Median"},
         "operator": {"equals", "notEqual", "lessThan", "greaterThan", "lessOrEqual",
                      "greaterOrEqual", "contains", "notContain", "startsWith", "includes",
                      "excludes", "within"},
         "interval": {"INTERVAL_CURRENTQ", "INTERVAL_CURNEXTQ", "INTERVAL_CURRENT",
                      "INTERVAL_CURNEXT1"}}  # the quarter intervals of UserDateInterval
REPORTS = SOURCE / "reports" / "Subsync"
REPORT_NAMES = ("Subsync_Renewals_This_And_Next_Quarter",
                "Subsync_Contracts_Ending_This_And_Next_Quarter")
MANIFEST = ROOT / "manifest" / "package.xml"


def _local(element: ET.Element) -> str:
    namespace, _, tag = element.tag.rpartition("}")
    assert namespace == "{" + NS["md"], f"{element.tag} is not in the metadata namespace"
    return tag


def _check_sequence(element: ET.Element, allowed: tuple[str, ...], where: str) -> None:
    tags = [_local(child) for child in element]
    unknown = [tag for tag in tags if tag not in allowed]
    assert unknown == [], f"{where}: not elements of the type: {unknown}"
    positions = [allowed.index(tag) for tag in tags]
    assert positions == sorted(positions), f"{where}: out of the schema's order: {tags}"
    for tag in REQUIRED.get(where, ()):
        assert tag in tags, f"{where} lacks {tag}"


@pytest.mark.parametrize("path", [*sorted(SOURCE.rglob("*-meta.xml")), MANIFEST],
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_file_is_well_formed_metadata_xml(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = _parse(path)  # raises on XML that is not well formed
    _local(root)
    for element in root.iter():
        _local(element)


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_each_report_follows_the_report_schema(name):
    root = _parse(REPORTS / f"{name}.report-meta.xml")
    assert _local(root) == "Report"
    _check_sequence(root, REPORT_ELEMENTS, "Report")
    for part, allowed in PART_ELEMENTS.items():
        for element in root.iter(f"{{{NS['md']}}}{part}"):
            _check_sequence(element, allowed, part)
    for tag, values in ENUMS.items():
        for element in root.iter(f"{{{NS['md']}}}{tag}"):
            assert element.text in values, f"{tag} {element.text!r}"


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_the_custom_fields_a_report_reads_are_declared(name):
    root = _parse(REPORTS / f"{name}.report-meta.xml")
    named = [e.text for e in root.iter() if _local(e) in ("field", "column", "dateColumn",
                                                          "sortColumn")]
    custom = [text for text in named if text and text.endswith("__c")]
    assert custom, "each report reads at least one of subsync's fields"
    for reference in custom:
        sobject, _, field_name = reference.partition(".")
        assert (SOURCE / "objects" / sobject / "fields" / f"{field_name}.field-meta.xml"
                ).is_file(), f"{name} reads {reference}, which no field metadata declares"


def test_the_manifest_lists_every_component_and_the_report_folder():
    root = _parse(MANIFEST)
    members = {_text(t, "name"): sorted(m.text for m in t.iterfind("md:members", NS))
               for t in root.iterfind("md:types", NS)}
    fields = sorted(f"{p.parent.parent.name}.{p.name.removesuffix('.field-meta.xml')}"
                    for p in (SOURCE / "objects").glob("*/fields/*.field-meta.xml"))
    assert members["CustomField"] == fields
    assert members["PermissionSet"] == sorted(
        p.name.removesuffix(".permissionset-meta.xml")
        for p in (SOURCE / "permissionsets").glob("*.permissionset-meta.xml"))
    folders = sorted(p.name.removesuffix(".reportFolder-meta.xml")
                     for p in (SOURCE / "reports").glob("*.reportFolder-meta.xml"))
    reports = sorted(f"{p.parent.name}/{p.name.removesuffix('.report-meta.xml')}"
                     for p in (SOURCE / "reports").glob("*/*.report-meta.xml"))
    assert folders == ["Subsync"]
    # A report folder is listed as a member of Report, before (with) its reports.
    assert members["Report"] == sorted(folders + reports)
    assert all(report.split("/")[0] in folders for report in reports)
    assert set(members) == {"CustomField", "PermissionSet", "Report"}
    project = json.loads((ROOT / "sfdx-project.json").read_text())
    assert _text(root, "version") == project["sourceApiVersion"]
