"""The org's instance URL is recorded at every login, for links to Salesforce records.

Against the emulator over HTTPS: its token endpoint answers with its own address as the
instance URL, as a My Domain org answers with https://<domain>.my.salesforce.com.
"""

from __future__ import annotations

import pytest

from crm.models import SalesforceOrgState
from crm.salesforce.client import SalesforceClient
from crm.salesforce.config import SalesforceConfig
from crm.salesforce.factory import get_client
from crm.selectors import salesforce_record_url, salesforce_target

CONTRACT_ID = "800000000000001AAA"


def _client(emu, **sinks) -> SalesforceClient:
    config = SalesforceConfig(login_url=emu.url, client_id="emulator",
                              client_secret="emulator", ca_bundle=str(emu.ca_path),
                              timeout=5.0)
    return SalesforceClient(config=config, **sinks)


def test_every_login_hands_the_instance_url_to_the_sink(emu):
    seen = []
    client = _client(emu, login_sink=seen.append)
    client.describe("Account")
    assert seen == [emu.url]

    emu.inject("invalid_session", path="describe")
    client.describe("Contract")  # the session expired: a second login
    assert seen == [emu.url, emu.url]


def test_a_failing_sink_does_not_fail_the_login(emu):
    def broken(url):
        raise RuntimeError("database down")

    client = _client(emu, login_sink=broken)
    client.authenticate()
    assert client.authenticated


@pytest.mark.django_db
def test_the_configured_client_records_the_url_used_for_record_links(emu, settings):
    settings.SUBSYNC_SALESFORCE_EMULATOR = True
    assert salesforce_record_url(sobject="Contract", record_id=CONTRACT_ID) is None

    get_client().authenticate()

    assert SalesforceOrgState.objects.get().instance_url == emu.url
    assert salesforce_record_url(sobject="Contract", record_id=CONTRACT_ID) == (
        f"{emu.url}/lightning/r/Contract/{CONTRACT_ID}/view")
    target = salesforce_target()
    assert (target.mode, target.login_url, target.instance_url) == ("emulator", emu.url, emu.url)
