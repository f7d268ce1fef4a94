"""Fixtures that run the Salesforce emulator for real: HTTPS on 127.0.0.1, real clients.

No Django here: the emulator must work on its own, and these tests prove it.
"""

from __future__ import annotations

import pytest
import requests
from simple_salesforce import Salesforce

from emulator.salesforce import EmulatorServer

API_VERSION = "62.0"


def https_session(emu: EmulatorServer) -> requests.Session:
    """A session that trusts only the emulator's CA.

    ``trust_env = False`` because these machines set REQUESTS_CA_BUNDLE, which would
    otherwise override ``verify``.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = str(emu.ca_path)
    return session


class Api:
    """Raw REST calls against the emulator with a bearer token, for what simple-salesforce
    hides (status codes, headers, collections, bulk)."""

    def __init__(self, emu: EmulatorServer, token: str | None = None):
        self.emu = emu
        self.session = https_session(emu)
        self.token = token if token is not None else emu.issue_token()
        self.base = f"{emu.url}/services/data/v{API_VERSION}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        headers.update(kwargs.pop("headers", {}))
        url = path if path.startswith("https://") else self.base + path
        return self.session.request(method, url, headers=headers, timeout=10, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def control(self, method: str, route: str, **kwargs) -> requests.Response:
        return self.session.request(
            method, f"{self.emu.url}/_emulator/{route}", timeout=10, **kwargs
        )


@pytest.fixture
def emu(start_emulator) -> EmulatorServer:
    return start_emulator()


@pytest.fixture
def api(emu) -> Api:
    return Api(emu)


def make_sf(emu: EmulatorServer, token: str) -> Salesforce:
    return Salesforce(
        instance_url=emu.url, session_id=token, session=https_session(emu), version=API_VERSION
    )


@pytest.fixture
def sf(emu, api) -> Salesforce:
    return make_sf(emu, api.token)


def errors_of(response: requests.Response) -> list[str]:
    """The errorCode of each error in a Salesforce error list."""
    body = response.json()
    assert isinstance(body, list), body
    return [e["errorCode"] for e in body]
