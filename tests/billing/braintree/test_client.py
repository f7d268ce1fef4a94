"""billing.providers.braintree.client, from settings: the gateway built once per set of settings,
refused with what to set."""

from __future__ import annotations

import pytest

from billing.providers.braintree.client import (
    BraintreeNotConfigured,
    configuration_problem,
    gateway_from_settings,
)
from emulator.braintree.subscriptions import Keys
from tests.support.braintree_app import configure


@pytest.fixture(autouse=True)
def braintree_settings(settings, keys):
    configure(settings, keys=keys)


def test_one_gateway_per_process_for_the_same_settings():
    assert gateway_from_settings() is gateway_from_settings()


def test_a_settings_change_builds_a_new_gateway(settings):
    before = gateway_from_settings()
    configure(settings, keys=Keys(public_key="rotated"))
    after = gateway_from_settings()
    assert after is not before
    assert after.config.public_key == "rotated"


def test_gateway_url_is_used(settings):
    settings.BRAINTREE_GATEWAY_URL = "http://127.0.0.1:8123"
    assert gateway_from_settings().config.base_url() == "http://127.0.0.1:8123"


def test_configured_settings_have_no_problem():
    assert configuration_problem() is None


def test_missing_keys_are_named(settings):
    settings.BRAINTREE_PUBLIC_KEY = settings.BRAINTREE_PRIVATE_KEY = ""
    with pytest.raises(BraintreeNotConfigured) as caught:
        gateway_from_settings()
    assert caught.value.settings_to_set == ("BRAINTREE_PUBLIC_KEY", "BRAINTREE_PRIVATE_KEY")
    assert "BRAINTREE_PUBLIC_KEY, BRAINTREE_PRIVATE_KEY" in str(caught.value)


@pytest.mark.parametrize(("setting", "value"), [("BRAINTREE_ENVIRONMENT", "moon"),
                                                ("BRAINTREE_GATEWAY_URL", "127.0.0.1:80")])
def test_invalid_environment_is_named(settings, setting, value):
    setattr(settings, setting, value)
    problem = configuration_problem()
    assert problem.settings_to_set == (setting,)
    assert setting in str(problem)
