"""The OpenAPI schema is valid, and the running application keeps to it.

schemathesis generates requests from the schema for every operation and sends them, with an
operator's token, to the WSGI application the server runs (subsync.wsgi, the webhook fast
path included), on a database with a few rows; every answer must be documented (status, body
and content type) and none may be a 5xx. Bounded so that the whole run stays well under a
minute: a few examples per operation, no shrinking.

Two of schemathesis's checks are left out, on purpose: "schema-valid request rejected" and
"schema-violating request accepted". The API's parameters depend on each other in ways
OpenAPI cannot state (a range needs both ends and may span at most so long; a cursor must
come from a `next` link), and an empty parameter means "not given", as a blank filter does on
the dashboard. Both are answered with a documented 400 or a 200, which the remaining checks
verify: no 5xx, every status, content type, header and body as documented.
"""

from __future__ import annotations

import io
import json

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.core.serializers.json import DjangoJSONEncoder
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.tokens import create_token
from billing.models import WebhookEvent
from subsync.wsgi import application
from tests.billing.selectors.factories import customer, rate, subscription

EXAMPLES_PER_OPERATION = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


def test_the_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out),
                 stdout=io.StringIO(), stderr=io.StringIO())

    text = out.read_text()
    assert "/api/v1/renewals/rows/" in text and "tokenAuth" in text


def generated_schema() -> dict:
    """The schema /api/schema/ serves, built in-process (collection runs before any database
    exists; test_the_served_schema_is_the_generated_one checks the two are the same)."""
    return SchemaGenerator().get_schema(request=None, public=True)


schema = schemathesis.openapi.from_dict(json.loads(json.dumps(generated_schema(),
                                                              cls=DjangoJSONEncoder)))
schema.app = application  # requests go through the WSGI application the server runs


@pytest.mark.django_db
def test_the_served_schema_is_the_generated_one(as_viewer):
    served = as_viewer.get("/api/schema/?format=json")

    assert served.status_code == 200
    assert served.json()["paths"] == schema.raw_schema["paths"]


@pytest.fixture
def test_transaction_kept():
    """Django closes the database connection when a request ends unless it is reusable, and
    inside a test's transaction it is not: Django's test client turns that off for its
    requests, and so must a test that calls the WSGI application itself."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def operator_key(operator, failed_sync, failed_event, test_transaction_kept):
    """An operator's token, on a database with a few rows of each kind."""
    rate("EUR", "1.10")
    owner = customer("Gamma KK", external_id="cus_gamma")
    subscription(owner, mrr=5_000, currency="EUR", plan_id="pro", external_id="sub_gamma")
    WebhookEvent.objects.create(provider="braintree", event_id="bt_1", event_type="x",
                                body="bt_signature=a&bt_payload=bm90IHhtbA%3D%3D")
    return create_token(user=operator)[1]


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_the_live_api_conforms_to_its_schema(case, operator_key):
    case.call_and_validate(headers={"Authorization": f"Token {operator_key}"},
                           checks=CHECKS, excluded_checks=[positive_data_acceptance,
                                                           negative_data_rejection])
