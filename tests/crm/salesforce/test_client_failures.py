"""The client's failure branches that a healthy org never shows (issue 15, hygiene): a
session refused again right after a new login, a proxy's HTML page instead of JSON, a result
list of the wrong length, and a Bulk API job still running at its deadline."""

from __future__ import annotations

import json

import pytest
import requests
from requests.adapters import BaseAdapter

from crm.salesforce import bulk
from crm.salesforce.client import SalesforceClient
from crm.salesforce.config import SalesforceConfig
from crm.salesforce.errors import SalesforceError

ACCOUNT_KEY = "Subsync_Customer_Id__c"


def _accounts(*names: str) -> list[dict]:
    return [{ACCOUNT_KEY: f"chargebee:{name}", "Name": name.title()} for name in names]


@pytest.fixture
def client(emu):
    made = SalesforceClient(config=SalesforceConfig(
        login_url=emu.url, client_id="emulator", client_secret="emulator",
        ca_bundle=str(emu.ca_path), timeout=5.0))
    made.authenticate()
    yield made
    made.close()


class Proxy(BaseAdapter):
    """What a proxy in front of the org answers for every API call: `status`, `body`."""

    def __init__(self, status: int, body: bytes, content_type: str):
        super().__init__()
        self.status, self.body, self.content_type = status, body, content_type

    def send(self, request, **kwargs):
        response = requests.Response()
        response.status_code = self.status
        response._content = self.body
        response.headers["Content-Type"] = self.content_type
        response.url, response.request = request.url, request
        return response

    def close(self):
        pass


def behind(client: SalesforceClient, proxy: Proxy) -> None:
    client._session.mount(client.instance_url + "/services/data/", proxy)


def test_a_session_refused_again_right_after_logging_in_is_a_transient_error(client, emu):
    emu.inject("invalid_session", count=2, path="composite")
    with pytest.raises(SalesforceError) as refused:
        client.upsert_collection(sobject="Account", external_field=ACCOUNT_KEY,
                                 records=_accounts("a"))
    error = refused.value
    assert (error.code, error.permanent, error.status) == ("INVALID_SESSION_ID", False, 401)
    assert emu.org.token_requests == 2  # one new login, not a loop of them
    assert emu.count("Account") == 0


@pytest.mark.parametrize(("status", "code"), [(502, "HTTP_502"), (200, "UNEXPECTED_RESPONSE")])
def test_a_proxy_s_html_page_is_a_transient_error_that_says_so(client, status, code):
    behind(client, Proxy(status, b"<html><body>Bad gateway</body></html>", "text/html"))
    with pytest.raises(SalesforceError) as failed:
        client.upsert_collection(sobject="Account", external_field=ACCOUNT_KEY,
                                 records=_accounts("a"))
    assert failed.value.code == code and not failed.value.permanent
    assert failed.value.status == status


def test_fewer_results_than_records_is_refused_rather_than_misassigned(client):
    one = json.dumps([{"id": "001000000000001AAA", "success": True, "created": True}])
    behind(client, Proxy(200, one.encode(), "application/json"))
    with pytest.raises(SalesforceError) as failed:
        client.upsert_collection(sobject="Account", external_field=ACCOUNT_KEY,
                                 records=_accounts("a", "b"))
    assert failed.value.code == "UNEXPECTED_RESPONSE" and not failed.value.permanent
    assert "expected 2 record results, got list of 1" in str(failed.value)


def test_a_bulk_job_still_running_at_its_deadline_is_a_transient_timeout(client, emu,
                                                                        monkeypatch):
    """The org never says the job is done (DONE_STATES without JobComplete)."""
    monkeypatch.setattr(bulk, "DONE_STATES", frozenset({"Failed", "Aborted"}))
    with pytest.raises(SalesforceError) as late:
        client.bulk_upsert(sobject="Account", external_field=ACCOUNT_KEY,
                           records=_accounts("a", "b"), timeout=0)
    assert late.value.code == "BULK_TIMEOUT" and not late.value.permanent
    assert late.value.stops_run
