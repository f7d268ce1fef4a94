"""The Salesforce client over real HTTPS against the emulator, through simple-salesforce."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from crm.salesforce.client import SalesforceClient
from crm.salesforce.config import SalesforceConfig
from crm.salesforce.errors import SalesforceError
from emulator.salesforce import Credentials

ACCOUNT_KEY = "Subsync_Customer_Id__c"


def _config(emu, **changes) -> SalesforceConfig:
    config = SalesforceConfig(
        login_url=emu.url, client_id="emulator", client_secret="emulator",
        ca_bundle=str(emu.ca_path), timeout=5.0,
    )
    return replace(config, **changes)


def _accounts(*names: str) -> list[dict]:
    return [{ACCOUNT_KEY: f"chargebee:{name}", "Name": name.title()} for name in names]


def test_client_credentials_login_and_upsert_results_per_record(emu):
    client = SalesforceClient(config=_config(emu))
    results = client.upsert_collection(sobject="Account", external_field=ACCOUNT_KEY,
                                       records=_accounts("a", "b"))
    assert [r.success for r in results] == [True, True]
    assert [r.created for r in results] == [True, True]
    assert [r.ref for r in results] == ["chargebee:a", "chargebee:b"]
    again = client.upsert_collection(sobject="Account", external_field=ACCOUNT_KEY,
                                     records=_accounts("a"))
    assert again[0].created is False and again[0].id == results[0].id
    assert emu.count("Account") == 2


def test_password_login(emu):
    config = _config(emu, auth_flow="password", username="emulator@subsync.local",
                     password="emulator")
    client = SalesforceClient(config=config)
    assert client.limits()["DailyApiRequests"]["Max"] == emu.daily_limit


def test_jwt_login_with_a_signed_assertion(start_salesforce, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    key_file = tmp_path / "server.key"
    key_file.write_bytes(pem)
    emu = start_salesforce(credentials=Credentials(jwt_public_key=public.decode()))
    config = _config(emu, auth_flow="jwt", client_secret="", username="emulator@subsync.local",
                     private_key_file=str(key_file))
    client = SalesforceClient(config=config)
    assert "fields" in client.describe("Account")

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file.write_bytes(other.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
    with pytest.raises(SalesforceError) as refused:
        SalesforceClient(config=config).authenticate()
    assert refused.value.code == "AUTHENTICATION_FAILED"


def test_wrong_secret_is_an_authentication_failure_without_the_secret_in_it(emu):
    client = SalesforceClient(config=_config(emu, client_secret="not-the-secret"))
    with pytest.raises(SalesforceError) as refused:
        client.limits()
    error = refused.value
    assert error.code == "AUTHENTICATION_FAILED"
    assert not error.permanent and error.retry_after >= 600
    assert "not-the-secret" not in str(error) and "not-the-secret" not in repr(client.config)


def test_usage_is_read_from_every_response_and_handed_to_the_sink(emu):
    seen = []
    client = SalesforceClient(config=_config(emu), usage_sink=seen.append)
    client.describe("Contract")
    client.describe("Account")
    assert client.usage.used == emu.api_usage == 2
    assert client.usage.limit == emu.daily_limit
    assert [u.used for u in seen] == [1, 2]
    assert client.api_calls == 2


def test_invalid_session_logs_in_again_once_and_retries(emu):
    client = SalesforceClient(config=_config(emu))
    client.describe("Account")
    emu.inject("invalid_session", path="composite")
    results = client.upsert_collection(sobject="Account", external_field=ACCOUNT_KEY,
                                       records=_accounts("a"))
    assert results[0].success
    assert emu.org.token_requests == 2
    assert emu.count("Account") == 1


def test_server_errors_and_timeouts_are_transient(emu, settings):
    client = SalesforceClient(config=_config(emu, timeout=0.3))
    client.describe("Account")
    emu.inject("server_error", status=503)
    with pytest.raises(SalesforceError) as unavailable:
        client.describe("Account")
    assert unavailable.value.code == "SERVER_UNAVAILABLE" and not unavailable.value.permanent
    assert unavailable.value.status == 503

    emu.inject("server_error", status=500)
    with pytest.raises(SalesforceError) as crashed:
        client.describe("Account")
    assert crashed.value.code == "UNKNOWN_EXCEPTION" and not crashed.value.permanent

    emu.inject("latency", seconds=1.0)
    with pytest.raises(SalesforceError) as slow:
        client.describe("Account")
    assert slow.value.code == "TIMEOUT" and not slow.value.permanent


def test_unreachable_org_is_a_transient_connection_error(emu):
    client = SalesforceClient(config=_config(emu))
    client.authenticate()
    emu.stop()
    with pytest.raises(SalesforceError) as down:
        client.describe("Account")
    assert down.value.code == "CONNECTION_ERROR" and not down.value.permanent


def test_request_limit_is_transient_with_a_long_backoff_and_usage_still_read(emu):
    emu.set_daily_limit(1)
    client = SalesforceClient(config=_config(emu))
    client.describe("Account")
    with pytest.raises(SalesforceError) as limited:
        client.describe("Account")
    error = limited.value
    assert error.code == "REQUEST_LIMIT_EXCEEDED" and error.status == 403
    assert not error.permanent and error.retry_after >= 3600
    assert client.usage.used == 1 and client.usage.limit == 1


def test_request_limit_below_the_daily_limit_backs_off_as_usual(emu):
    """A refusal while the usage sent with it is below the daily limit is another limit
    (concurrent requests): transient, without the hour reserved for a spent day."""
    client = SalesforceClient(config=_config(emu))
    client.describe("Account")
    emu.inject("request_limit")
    with pytest.raises(SalesforceError) as limited:
        client.describe("Account")
    error = limited.value
    assert error.code == "REQUEST_LIMIT_EXCEEDED" and not error.permanent
    assert error.retry_after is None
    assert client.usage.used < client.usage.limit


def test_record_errors_are_classified_one_by_one(emu):
    client = SalesforceClient(config=_config(emu))
    emu.inject("unable_to_lock_row", path="composite", records=1)
    records = [*_accounts("a", "b"), {ACCOUNT_KEY: "chargebee:c"}]  # no Name: required
    results = client.upsert_collection(sobject="Account", external_field=ACCOUNT_KEY,
                                       records=records)
    locked, fine, invalid = results
    assert locked.error.code == "UNABLE_TO_LOCK_ROW" and not locked.error.permanent
    assert fine.success and fine.error is None
    assert invalid.error.code == "REQUIRED_FIELD_MISSING" and invalid.error.permanent
    assert "Name" in invalid.error.message


def test_permanent_request_errors(emu):
    client = SalesforceClient(config=_config(emu))
    with pytest.raises(SalesforceError) as missing:
        client.describe("NoSuchObject__c")
    assert missing.value.permanent and missing.value.code == "NOT_FOUND"
    with pytest.raises(SalesforceError) as bad_field:
        client.upsert_collection(sobject="Account", external_field="Name",
                                 records=_accounts("a"))
    assert bad_field.value.permanent


def test_update_collection_activates_contracts(emu):
    client = SalesforceClient(config=_config(emu))
    account = client.upsert_collection(sobject="Account", external_field=ACCOUNT_KEY,
                                       records=_accounts("a"))[0]
    contract = client.upsert_collection(
        sobject="Contract", external_field="Subsync_Subscription_Id__c",
        records=[{"Subsync_Subscription_Id__c": "chargebee:s", "AccountId": account.id,
                  "StartDate": "2026-01-01", "ContractTerm": 12}],
    )[0]
    assert emu.record("Contract", contract.id)["Status"] == "Draft"
    [activated] = client.update_collection(sobject="Contract",
                                           records=[{"Id": contract.id, "Status": "Activated"}])
    assert activated.success
    assert emu.record("Contract", contract.id)["Status"] == "Activated"


def test_query_all_follows_pages(start_salesforce):
    emu = start_salesforce(page_size=2)
    client = SalesforceClient(config=_config(emu))
    client.upsert_collection(sobject="Account", external_field=ACCOUNT_KEY,
                             records=_accounts("a", "b", "c", "d", "e"))
    rows = client.query_all("SELECT Id, Subsync_Customer_Id__c FROM Account")
    assert sorted(r[ACCOUNT_KEY] for r in rows) == [f"chargebee:{n}" for n in "abcde"]


def test_the_session_trusts_only_the_configured_ca(emu, monkeypatch, tmp_path):
    # These machines set REQUESTS_CA_BUNDLE; the client must not let it win over its CA.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "elsewhere.pem"))
    client = SalesforceClient(config=_config(emu))
    assert client.limits()
    untrusting = SalesforceClient(config=_config(emu, ca_bundle=""))
    with pytest.raises(SalesforceError) as refused:
        untrusting.authenticate()
    assert refused.value.code == "CONNECTION_ERROR"
