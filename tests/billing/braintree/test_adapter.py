"""The Braintree adapter as the event pipeline sees it: registered, errors classified."""

from __future__ import annotations

import pytest

from billing.normalized import Status
from billing.providers.base import ProviderError, get_adapter
from billing.providers.braintree.adapter import BraintreeAdapter
from billing.providers.braintree.errors import BraintreeApiError
from emulator.braintree.notifications import (
    raw_signed,
    sample_notification,
    signed_subscription_notification,
)
from tests.support.braintree_app import form_body

from .conftest import T0, FakeResolver


def body(keys, **fields):
    return form_body(signed_subscription_notification(
        "subscription_went_active", keys=keys, subscription_id="sub_1", status="Active",
        plan_id="basic", price="10.00", timestamp=T0, **fields))


def test_registered_for_braintree():
    assert isinstance(get_adapter("braintree"), BraintreeAdapter)


def test_parses_the_stored_form_without_checking_the_signature_again(keys):
    # Keys rotated since the event was stored: the payload is still decoded.
    adapter = BraintreeAdapter(resolver=FakeResolver)
    parsed = adapter.parse_event(event_type="subscription_went_active",
                                 body=body(keys.__class__(private_key="since_rotated")))
    (sub,) = parsed.subscriptions
    assert (sub.external_id, sub.status, sub.mrr) == ("sub_1", Status.ACTIVE, 1000)


def test_check_is_ignored(keys):
    parsed = BraintreeAdapter(resolver=FakeResolver).parse_event(
        event_type="check", body=form_body(sample_notification("check", keys=keys)))
    assert parsed.ignored_reason.startswith("check") and not parsed.subscriptions


@pytest.mark.parametrize("stored", ["", "bt_signature=x", form_body({"bt_payload": "%%%"})],
                         ids=["empty", "no-payload", "not-base64"])
def test_unusable_bodies_are_permanent_errors(stored):
    with pytest.raises(ProviderError) as caught:
        BraintreeAdapter(resolver=FakeResolver).parse_event(event_type="", body=stored)
    assert caught.value.permanent


def test_bad_subscription_data_is_permanent(keys):
    stored = form_body(raw_signed(
        b"<notification><timestamp type='datetime'>2024-01-01T00:00:00Z</timestamp>"
        b"<kind>subscription_went_active</kind><subject><subscription><id>s</id>"
        b"<status>Sleeping</status><price>1.00</price></subscription></subject>"
        b"</notification>", keys=keys))
    with pytest.raises(ProviderError, match="unknown status") as caught:
        BraintreeAdapter(resolver=FakeResolver).parse_event(event_type="", body=stored)
    assert caught.value.permanent


@pytest.mark.parametrize("permanent", [True, False])
def test_api_errors_keep_their_kind(keys, permanent):
    class Failing(FakeResolver):
        def currency_for_merchant_account(self, merchant_account_id):
            raise BraintreeApiError("Braintree API: down", permanent=permanent)

    with pytest.raises(ProviderError) as caught:
        BraintreeAdapter(resolver=Failing).parse_event(event_type="", body=body(keys))
    assert caught.value.permanent is permanent
