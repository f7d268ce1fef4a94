"""Which providers can receive webhooks, and what to set for the ones that cannot."""

from __future__ import annotations

from billing.selectors.configuration import webhook_configuration
from emulator.braintree.subscriptions import Keys
from tests.support.braintree_app import configure


def by_provider():
    return {entry.provider: entry for entry in webhook_configuration()}


def test_nothing_set_names_every_setting_per_provider(settings):
    settings.CHARGEBEE_WEBHOOK_USERNAME = settings.CHARGEBEE_WEBHOOK_PASSWORD = ""
    settings.BRAINTREE_MERCHANT_ID = settings.BRAINTREE_PUBLIC_KEY = ""
    settings.BRAINTREE_PRIVATE_KEY = ""
    entries = webhook_configuration()
    assert [e.provider for e in entries] == ["chargebee", "braintree"]
    chargebee, braintree = entries
    assert not chargebee.configured and not braintree.configured
    assert chargebee.settings_to_set == ("CHARGEBEE_WEBHOOK_USERNAME",
                                         "CHARGEBEE_WEBHOOK_PASSWORD")
    assert braintree.settings_to_set == ("BRAINTREE_MERCHANT_ID", "BRAINTREE_PUBLIC_KEY",
                                         "BRAINTREE_PRIVATE_KEY")
    assert "CHARGEBEE_WEBHOOK_PASSWORD" in chargebee.message
    assert "BRAINTREE_PRIVATE_KEY" in braintree.message
    assert (chargebee.path, braintree.path) == ("/webhooks/chargebee/", "/webhooks/braintree/")


def test_partly_set_names_only_what_is_missing(settings):
    settings.CHARGEBEE_WEBHOOK_USERNAME, settings.CHARGEBEE_WEBHOOK_PASSWORD = "hooks", ""
    configure(settings, keys=Keys())
    settings.BRAINTREE_PUBLIC_KEY = ""
    entries = by_provider()
    assert entries["chargebee"].settings_to_set == ("CHARGEBEE_WEBHOOK_PASSWORD",)
    assert entries["braintree"].settings_to_set == ("BRAINTREE_PUBLIC_KEY",)


def test_invalid_braintree_environment_is_not_configured(settings):
    configure(settings, keys=Keys())
    settings.BRAINTREE_ENVIRONMENT = "moon"
    braintree = by_provider()["braintree"]
    assert not braintree.configured
    assert braintree.settings_to_set == ("BRAINTREE_ENVIRONMENT",)


def test_everything_set_is_configured(settings):
    settings.CHARGEBEE_WEBHOOK_USERNAME, settings.CHARGEBEE_WEBHOOK_PASSWORD = "hooks", "pw"
    configure(settings, keys=Keys())
    for entry in webhook_configuration():
        assert entry.configured
        assert entry.settings_to_set == () and entry.message == ""
