"""verify_and_read (the webhook view's cheap check) agrees with the SDK's full parse.

The view verifies the signature itself and reads only kind, timestamp and the subscription
id; these tests hold it to the SDK's answers on notifications signed for real: the same kind,
time and dedupe key for every kind the SDK knows, and the same refusals of bad signatures.
"""

from __future__ import annotations

import base64

import pytest

from billing.providers.braintree.parse import (
    BraintreeEventError,
    BraintreeSignatureError,
    verify_and_parse,
    verify_and_read,
)
from emulator.braintree.notifications import (
    ALL_KINDS,
    raw_signed,
    sample_notification,
    sign,
    signed_subscription_notification,
)
from emulator.braintree.subscriptions import Keys

from .conftest import T0


def both(gateway, signature, payload):
    return (verify_and_read(gateway, signature=signature, payload=payload),
            verify_and_parse(gateway, signature=signature, payload=payload))


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_sample_kind_reads_as_the_sdk_parses_it(gateway, keys, kind):
    form = sample_notification(kind, keys=keys)
    read, parsed = both(gateway, form["bt_signature"], form["bt_payload"])
    assert (read.kind, read.occurred_at, read.dedupe_key) == (
        parsed.kind, parsed.occurred_at, parsed.dedupe_key)


def test_full_subscription_notification_reads_as_the_sdk_parses_it(gateway, keys):
    form = signed_subscription_notification(
        "subscription_went_past_due", keys=keys, subscription_id="sub_9", status="Past Due",
        plan_id="basic", price="12.00", timestamp=T0)
    read, parsed = both(gateway, form["bt_signature"], form["bt_payload"])
    assert read.kind == "subscription_went_past_due" and read.occurred_at == T0
    assert read.dedupe_key == parsed.dedupe_key


def test_rotated_keys_are_accepted(gateway, keys):
    form = sample_notification("check", keys=keys)
    old = sign(form["bt_payload"], keys=Keys(public_key="old_key", private_key="old_secret"))
    assert verify_and_read(gateway, signature=f"{old}&{form['bt_signature']}",
                           payload=form["bt_payload"]).kind == "check"


def _tampered(keys):
    form = signed_subscription_notification(
        "subscription_went_active", keys=keys, subscription_id="s", status="Active",
        plan_id="basic", price="1.00", timestamp=T0)
    xml = base64.b64decode(form["bt_payload"]).replace(b"<price>1.00", b"<price>0.01")
    return form["bt_signature"], base64.encodebytes(xml).decode()


@pytest.mark.parametrize("case", ["tampered", "other keys", "no signature", "garbled",
                                  "illegal characters", "trailing newline signed"])
def test_signatures_are_judged_as_the_sdk_judges_them(gateway, keys, case):
    form = sample_notification("check", keys=keys)
    signature, payload = form["bt_signature"], form["bt_payload"]
    if case == "tampered":
        signature, payload = _tampered(keys)
    elif case == "other keys":
        signature = sign(payload, keys=Keys(private_key="not_our_secret"))
    elif case == "no signature":
        signature = ""
    elif case == "garbled":
        signature = "garbage-without-pipe"
    elif case == "illegal characters":
        payload = payload + "!"
    elif case == "trailing newline signed":
        signature = sign(payload.rstrip("\n") + "\n", keys=keys)
    outcomes = []
    for verify in (verify_and_read, verify_and_parse):
        try:
            outcomes.append(verify(gateway, signature=signature, payload=payload).kind)
        except (BraintreeSignatureError, BraintreeEventError) as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes[0] == outcomes[1]
    if case != "trailing newline signed":
        assert outcomes[0] == "BraintreeSignatureError"


@pytest.mark.parametrize("document", [
    b"this is not xml",
    b"<?xml version='1.0'?><other><kind>check</kind></other>",
    b"<notification><kind>check</kind></notification>",  # no timestamp
    b"<notification><timestamp type='datetime'>2024-01-01T00:00:00Z</timestamp>"
    b"</notification>",  # no kind
    b"<notification><timestamp type='datetime'>not a time</timestamp><kind>check</kind>"
    b"</notification>",
    b"<notification><timestamp type='datetime'>2024-01-01T00:00:00Z</timestamp>"
    b"<kind>subscription_went_active</kind><subject><check type='boolean'>true</check>"
    b"</subject></notification>",  # subscription kind, no subscription
])
def test_authentic_but_unreadable_payloads_are_event_errors(gateway, keys, document):
    """Kept as `rejected` by the view (400). A payload whose three fields read fine but whose
    body the SDK cannot parse is accepted and fails in the worker, kept on its row."""
    form = raw_signed(document, keys=keys)
    with pytest.raises(BraintreeEventError):
        verify_and_read(gateway, signature=form["bt_signature"], payload=form["bt_payload"])
