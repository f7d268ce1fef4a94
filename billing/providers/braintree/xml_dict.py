"""Braintree's XML to the dict its SDK builds objects from, read with ElementTree.

The SDK reads notification XML with xml.dom.minidom and a regular expression per element
(braintree.util.xml_util.XmlUtil.dict_from_xml); in the worker that was most of a Braintree
event's CPU time. `dict_from_xml` gives the same dict (same keys, lists, types and quirks,
checked against the SDK's parser by tests/billing/braintree/test_xml_dict.py) from
ElementTree, which builds no DOM. The rules, as the SDK applies them:

- whitespace between tags is dropped before parsing;
- an element typed `array` is the list of its child elements;
- an element whose first content is text is a value: `integer` -> int, `boolean` -> "true" or
  "1", `datetime` -> the SDK's own datetime parser, `date` -> date, `nil="true"` -> None,
  anything else the text;
- an empty element is the same with no text ("" unless typed or nil);
- any other element is a dict of its children (dashes in names become underscores); a name
  seen again becomes a list, unless its first value was falsy or it holds text or an array,
  in which case the later one replaces it.

Documents with comments, CDATA, a DOCTYPE or namespaces, which Braintree does not send and
where the two parsers' trees differ, go to the SDK's parser.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from xml.etree import ElementTree

from braintree.util.datetime_parser import parse_datetime
from braintree.util.xml_util import XmlUtil

_BETWEEN_TAGS = re.compile(r">\s+<")


def dict_from_xml(xml: bytes | str) -> dict:
    """{root name: content} as braintree.util.xml_util.XmlUtil.dict_from_xml returns it."""
    text = xml.decode("utf-8") if isinstance(xml, bytes) else xml
    if "<!" in text or "xmlns" in text:
        return XmlUtil.dict_from_xml(text)
    # Only payloads whose signature was checked with our key get here (S314).
    root = ElementTree.fromstring(_BETWEEN_TAGS.sub("><", text).strip())  # noqa: S314
    return {_name(root): _content(root)}


def _name(element: ElementTree.Element) -> str:
    return element.tag.replace("-", "_")


def _content(element: ElementTree.Element):
    if element.get("type") == "array":
        return [_content(child) for child in element]
    if element.text or len(element) == 0:
        return _value(element, element.text)
    return _children(element)


def _children(element: ElementTree.Element) -> dict:
    found: dict = {}
    for child in element:
        name = _name(child)
        if child.get("type") == "array" or child.text or not found.get(name):
            found[name] = _content(child)
        else:
            if not isinstance(found[name], list):
                found[name] = [found[name]]
            found[name].append(_content(child))
    return found


def _value(element: ElementTree.Element, text: str | None):
    kind = element.get("type")
    if kind == "integer":
        return int(text)
    if kind == "boolean":
        return text in ("true", "1")
    if kind == "datetime":
        return parse_datetime(text)
    if kind == "date":
        return _date(text)
    if element.get("nil") == "true":
        return None
    return text or ""


def _date(text: str) -> date:
    return datetime.strptime(text, "%Y-%m-%d").date()
