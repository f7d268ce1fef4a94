"""Credentials go only to an https login URL, and the session only to a Salesforce instance."""

from __future__ import annotations

import pytest

from crm.salesforce.auth import fetch_token
from crm.salesforce.config import SalesforceConfig
from crm.salesforce.errors import SalesforceError


class _Response:
    def __init__(self, body: dict):
        self.status_code = 200
        self._body = body

    def json(self):
        return self._body


class _Session:
    """Answers the token request with `instance_url`; records what was posted where."""

    def __init__(self, instance_url: str):
        self.instance_url = instance_url
        self.posted: list[str] = []

    def post(self, url, **kwargs):
        self.posted.append(url)
        return _Response({"access_token": "t0k3n", "instance_url": self.instance_url})


def _config(login_url: str = "https://login.salesforce.com", **kwargs) -> SalesforceConfig:
    return SalesforceConfig(login_url=login_url, client_id="id", client_secret="secret",
                            **kwargs)


@pytest.mark.parametrize("instance", [
    "https://acme.my.salesforce.com",
    "https://acme--uat.sandbox.my.salesforce.com",
    "https://na1.salesforce.com",
    "https://acme.lightning.force.com",
])
def test_salesforce_instances_are_used(instance):
    token = fetch_token(config=_config(), session=_Session(instance))
    assert token.instance_url == instance


def test_an_http_login_url_is_never_sent_credentials():
    session = _Session("https://acme.my.salesforce.com")
    with pytest.raises(SalesforceError) as caught:
        fetch_token(config=_config("http://login.salesforce.com"), session=session)
    assert caught.value.code == "INSECURE_LOGIN_URL"
    assert "https" in str(caught.value)
    assert session.posted == []


def test_an_http_instance_url_is_refused():
    with pytest.raises(SalesforceError) as caught:
        fetch_token(config=_config(), session=_Session("http://acme.my.salesforce.com"))
    assert caught.value.code == "INSECURE_INSTANCE_URL"


@pytest.mark.parametrize("instance", [
    "https://attacker.example",
    "https://salesforce.com.attacker.example",
    "https://evilsalesforce.com",
])
def test_an_instance_outside_salesforce_is_refused(instance):
    with pytest.raises(SalesforceError) as caught:
        fetch_token(config=_config(), session=_Session(instance))
    assert caught.value.code == "UNTRUSTED_INSTANCE_URL"
    assert "SALESFORCE_INSTANCE_HOSTS" in str(caught.value)
    assert not caught.value.permanent and caught.value.retry_after


def test_the_allow_list_and_the_login_host_are_trusted():
    proxy = _config("https://sf-proxy.internal", instance_hosts=("sf-instance.internal",))
    assert fetch_token(config=proxy, session=_Session("https://sf-instance.internal")) \
        .instance_url == "https://sf-instance.internal"
    # The emulator is its own instance: the login URL's host.
    emulator = _config("https://127.0.0.1:8443")
    assert fetch_token(config=emulator, session=_Session("https://127.0.0.1:8443")) \
        .instance_url == "https://127.0.0.1:8443"
    with pytest.raises(SalesforceError):
        fetch_token(config=emulator, session=_Session("https://10.0.0.9:8443"))


def test_the_allow_list_is_read_from_settings(settings):
    settings.SALESFORCE_INSTANCE_HOSTS = ["sf-instance.internal"]
    assert SalesforceConfig.from_settings().instance_hosts == ("sf-instance.internal",)
