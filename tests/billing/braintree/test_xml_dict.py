"""xml_dict.dict_from_xml gives exactly what the SDK's own XML reader gives.

The reference is braintree.util.xml_util.XmlUtil.dict_from_xml, the function the SDK uses on
every notification: same dicts, same lists, same value types, and an error wherever the SDK
raises one. Compared on every sample notification the SDK can make, on the subscription
documents the tests and the benchmark send, and on generated documents that exercise each
rule (types, nil, arrays, repeated names, empty and mixed elements, whitespace).
"""

from __future__ import annotations

import base64
import random
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs
from xml.sax.saxutils import escape, quoteattr

import braintree
import pytest
from braintree.util.xml_util import XmlUtil
from braintree.webhook_notification import WebhookNotification
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.braintree_mix import BraintreeMix
from billing.providers.braintree.xml_dict import dict_from_xml
from emulator.braintree.notifications import notification_xml
from emulator.braintree.subscriptions import Keys, StatusEvent, subscription_fields

KINDS = sorted(value for name, value in vars(WebhookNotification.Kind).items()
               if not name.startswith("_") and isinstance(value, str))


def outcome(reader, document):
    """The reader's result, or the fact that it raised (the exception types differ: minidom
    raises ExpatError where ElementTree raises ParseError; both are decode errors)."""
    try:
        return ("ok", reader(document))
    except Exception:  # any error counts as "raised"
        return ("raised", None)


def assert_same(document):
    sdk = outcome(XmlUtil.dict_from_xml, document)
    ours = outcome(dict_from_xml, document)
    assert ours == sdk, document
    return sdk


@pytest.mark.parametrize("kind", KINDS)
def test_every_sdk_sample_notification(kind):
    gateway = braintree.BraintreeGateway(braintree.Configuration(
        braintree.Environment.Sandbox, "merchant", "public", "private"))
    sample = gateway.webhook_testing.sample_notification(kind, "sub_1")
    payload = sample["bt_payload"]
    document = base64.decodebytes(payload if isinstance(payload, bytes) else payload.encode())

    assert assert_same(document)[0] == "ok"


def test_full_subscription_documents():
    stamp = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    fields = subscription_fields(
        subscription_id="sub_full", status="Active", plan_id="annual", price="120.00",
        timestamp=stamp, billing_frequency=12,
        status_history=[StatusEvent(status="Active", timestamp=stamp)],
    )
    document = notification_xml("subscription_charged_successfully",
                                subject={"subscription": fields}, timestamp=stamp)

    kind, parsed = assert_same(document)
    assert kind == "ok"
    assert parsed["notification"]["subject"]["subscription"]["id"] == "sub_full"


def test_the_benchmark_mix():
    mix = BraintreeMix(run_id="xml", subscriptions=20, keys=Keys(), rng=random.Random(3),
                       start=int(time.time()))
    for delivery in mix.make(150):
        payload = parse_qs(delivery.body.decode())["bt_payload"][0]
        assert assert_same(base64.decodebytes(payload.encode()))[0] == "ok"


def test_documents_the_sdk_reads_differently_go_to_the_sdk():
    for document in (b"<a><!-- note --><b>1</b></a>", b"<a><b><![CDATA[x<y]]></b></a>",
                     b'<a xmlns="urn:x"><b>1</b></a>'):
        assert assert_same(document)[0] == "ok"


def test_malformed_documents_raise_like_the_sdk():
    for document in (b"<a><b></a>", b"not xml", b"", b'<a type="integer">x</a>',
                     b'<a type="integer"/>', b'<a type="date">2026-13-01</a>'):
        assert assert_same(document)[0] == "raised"


# -- generated documents -----------------------------------------------------------------------

NAMES = st.sampled_from(["id", "plan-id", "price", "add-ons", "add_on", "status", "a-b-c"])
WHITESPACE = st.sampled_from(["", " ", "\n  ", "\t"])
TEXTS = st.one_of(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                          max_size=12),
                  st.sampled_from(["true", "false", "1", "0", " x ", "&", "<tag>"]))


def typed_value():
    return st.one_of(
        st.tuples(st.just("integer"), st.integers(-10**6, 10**6).map(str)),
        st.tuples(st.just("boolean"), st.sampled_from(["true", "false", "1", "0", "yes"])),
        st.tuples(st.just("datetime"), st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)).map(
                lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ"))),
        st.tuples(st.just("date"), st.dates().map(lambda d: d.isoformat())),
        st.tuples(st.none(), TEXTS),
    )


def render(tag: str, attributes: dict[str, str], inner: str) -> str:
    attrs = "".join(f" {name}={quoteattr(value)}" for name, value in attributes.items())
    return f"<{tag}{attrs}>{inner}</{tag}>" if inner else f"<{tag}{attrs}/>"


@st.composite
def elements(draw, depth: int = 0) -> str:
    tag = draw(NAMES)
    attributes = {}
    if draw(st.booleans()) and draw(st.booleans()):
        attributes["nil"] = draw(st.sampled_from(["true", "false"]))
    shape = draw(st.sampled_from(["value", "empty", "dict", "array", "mixed"]
                                 if depth < 3 else ["value", "empty"]))
    if shape == "value":
        kind, text = draw(typed_value())
        if kind:
            attributes["type"] = kind
        return render(tag, attributes, escape(text))
    if shape == "empty":
        if draw(st.booleans()):
            attributes["type"] = draw(st.sampled_from(["integer", "boolean", "array", "string"]))
        return render(tag, attributes, draw(WHITESPACE))
    children = draw(st.lists(elements(depth + 1), max_size=4))
    gap = draw(WHITESPACE)
    if shape == "array":
        attributes["type"] = "array"
    inner = gap + gap.join(children) + gap
    if shape == "mixed":
        inner = escape(draw(TEXTS)) + inner + escape(draw(TEXTS))
    return render(tag, attributes, inner)


@settings(max_examples=400, deadline=None)
@given(root=elements(), declaration=st.booleans(), as_bytes=st.booleans())
def test_generated_documents(root, declaration, as_bytes):
    document = ('<?xml version="1.0" encoding="UTF-8"?>\n' if declaration else "") + root
    assert_same(document.encode() if as_bytes else document)
