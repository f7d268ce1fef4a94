"""Write Braintree-style XML (dashed tags, `type=` attributes) from plain Python values.

Braintree's gateway answers, and its webhook payloads are, XML in which element names use
dashes and typed values say so (`<price>10.00</price>`, `<quantity type="integer">2</quantity>`,
`<created-at type="datetime">...Z</created-at>`, `<x nil="true"/>`, arrays as
`<add-ons type="array"><add-on>...</add-on></add-ons>`). The SDK's parser relies on those
attributes to convert values, so the demo data and the fake gateway's answers carry them.

Values: str/Decimal -> text; bool -> boolean; int -> integer; datetime -> datetime (UTC, Z);
date -> date; None -> nil; dict -> nested element; list of (tag, value) pairs -> array.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from xml.etree import ElementTree as ET


def dashed(name: str) -> str:
    return name.replace("_", "-")


def element(tag: str, value) -> ET.Element:
    node = ET.Element(dashed(tag))
    if value is None:
        node.set("nil", "true")
    elif isinstance(value, bool):
        node.set("type", "boolean")
        node.text = "true" if value else "false"
    elif isinstance(value, int):
        node.set("type", "integer")
        node.text = str(value)
    elif isinstance(value, datetime):
        node.set("type", "datetime")
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        node.text = aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    elif isinstance(value, date):
        node.set("type", "date")
        node.text = value.isoformat()
    elif isinstance(value, str | Decimal):
        node.text = str(value)
    elif isinstance(value, dict):
        for key, child in value.items():
            node.append(element(key, child))
    elif isinstance(value, list | tuple):
        node.set("type", "array")
        for child_tag, child in value:
            node.append(element(child_tag, child))
    else:
        raise TypeError(f"cannot write {type(value).__name__} as Braintree XML")
    return node


def to_xml(tag: str, value) -> bytes:
    """The UTF-8 XML document `<tag>value</tag>` with an XML declaration, as Braintree sends."""
    return ET.tostring(element(tag, value), encoding="UTF-8", xml_declaration=True)
