"""store_event's hand-written INSERT (billing.services.intake._insert): what reaches the row,
what the returned instance holds, and, on PostgreSQL, how the statement is sent.

The INSERT builds its values without a model instance and, on PostgreSQL, runs on a psycopg
server-side-binding cursor rather than Django's: these tests re-read every column through the
ORM, so a value the driver received in a form Django would not have written shows up here.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection
from django.utils import timezone as dj_timezone

from billing.models import WebhookEvent
from billing.services import intake

pytestmark = pytest.mark.django_db

AT = datetime(2024, 3, 10, 12, 30, 15, 123456, tzinfo=UTC)
HEADERS = {
    "Content-Type": "application/json",
    "User-Agent": "ChargeBee",
    "X-Chargebee-Webhook-Id": "wh_1",
    "Authorization": "Basic aG9va3M6cGFzcw==",
    "Cookie": "sessionid=abc",
}
STORED_HEADERS = {k: v for k, v in HEADERS.items() if k not in ("Authorization", "Cookie")}
INSERT = 'INSERT INTO "billing_webhookevent"'


def store(**overrides) -> intake.StoreResult:
    fields = dict(provider="chargebee", event_id="ev_insert_1",
                  event_type="subscription_created", body='{"id": "ev_insert_1"}',
                  headers=HEADERS, occurred_at=AT, source=WebhookEvent.Source.POLL)
    fields.update(overrides)
    return intake.store_event(**fields)


def columns(event: WebhookEvent) -> dict:
    return {f.attname: getattr(event, f.attname) for f in WebhookEvent._meta.concrete_fields}


def test_stored_row_has_exactly_the_given_values_and_the_defaults(
        sent, django_capture_on_commit_callbacks):
    before = dj_timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        result = store()
    after = dj_timezone.now()

    assert result.created
    row = WebhookEvent.objects.get()
    values = columns(row)
    received_at = values.pop("received_at")
    assert values == {
        "id": result.event.pk,
        "provider": "chargebee",
        "event_id": "ev_insert_1",
        "event_type": "subscription_created",
        "body": '{"id": "ev_insert_1"}',
        "headers": STORED_HEADERS,
        "occurred_at": AT,
        "source": "poll",
        "status": "received",
        "attempts": 0,
        "error": "",
        "traceback": "",
        "processed_at": None,
        "claimed_at": None,
        "claimed_by": "",
        "seen_at": None,
        "next_attempt_at": None,
    }
    assert dj_timezone.is_aware(row.occurred_at)
    assert dj_timezone.is_aware(received_at)
    assert before <= received_at <= after
    assert sent == [row.pk]


def test_returned_event_equals_the_row_read_back(sent):
    result = store()

    row = WebhookEvent.objects.get(pk=result.event.pk)
    assert columns(result.event) == columns(row)
    assert result.event._state.adding is False
    assert result.event._state.db == row._state.db
    # It behaves as a loaded row: saving it updates that row, adds none.
    result.event.status = WebhookEvent.State.IGNORED
    result.event.save(update_fields=["status"])
    assert list(WebhookEvent.objects.values_list("pk", "status")) == [(row.pk, "ignored")]


def test_stored_datetimes_are_found_by_the_orm_lookups(request, sent):
    """A datetime the INSERT wrote must match the same value in a query.

    On SQLite, Django writes an aware datetime as naive UTC text ("2024-03-10 10:30:15.123456")
    and compares lookups in that form. The INSERT hands the datetime to the sqlite3 driver as
    it is, whose adapter writes "2024-03-10 12:30:15.123456+02:00": an exact lookup then finds
    nothing, and ordering compares local-time text.
    """
    local = AT.astimezone(timezone(timedelta(hours=2)))
    result = store(occurred_at=local)

    assert WebhookEvent.objects.filter(occurred_at=AT).count() == 1
    assert WebhookEvent.objects.filter(received_at=result.event.received_at).count() == 1
    earlier = WebhookEvent.objects.create(provider="chargebee", event_id="ev_orm",
                                          occurred_at=AT - timedelta(hours=1))
    assert list(WebhookEvent.objects.order_by("occurred_at").values_list("pk", flat=True)) == [
        earlier.pk, result.event.pk]


def test_rejected_store_keeps_status_and_error_and_announces_nothing(
        sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = store(event_id="rejected:abc", rejected_error="envelope has no id")

    row = WebhookEvent.objects.get()
    assert (row.status, row.error, row.event_id) == ("rejected", "envelope has no id",
                                                     "rejected:abc")
    assert (row.attempts, row.traceback, row.processed_at) == (0, "", None)
    assert columns(result.event) == columns(row)
    assert sent == []


def test_nul_in_event_type_and_headers_is_stored_as_replacement_character(sent):
    """Body and event id NULs are covered through the webhook view
    (tests/billing/webhooks/test_webhook_robustness.py); event type and headers here."""
    store(event_type="subscription\x00created", body="{\x00}",
          headers={"X-Odd\x00Name": "a\x00b"})

    row = WebhookEvent.objects.get()
    assert row.event_type == "subscription\ufffdcreated"
    assert row.body == "{\ufffd}"
    assert row.headers == {"X-Odd\ufffdName": "a\ufffdb"}


def test_overlong_event_type_is_cut_to_the_column(sent):
    store(event_type="t" * 200)

    assert WebhookEvent.objects.get().event_type == "t" * 128


# -- PostgreSQL: the INSERT on a server-side-binding cursor, prepared or not ---------------------


def skip_unless_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("inspects pg_prepared_statements: runs on PostgreSQL (CI)")


def prepared_inserts() -> list[str]:
    """The webhook INSERTs prepared on this connection (this session's own statements)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()
                if statement.startswith(INSERT)]


@contextlib.contextmanager
def fresh_connection(**options):
    """A new connection made with these database OPTIONS; the settings and a new connection
    are restored afterwards."""
    settings_options = connection.settings_dict["OPTIONS"]
    saved = dict(settings_options)
    connection.close()
    settings_options.update(options)
    try:
        connection.ensure_connection()
        yield connection.connection
    finally:
        connection.close()
        settings_options.clear()
        settings_options.update(saved)


def store_many(count: int, prefix: str) -> None:
    for n in range(count):
        assert store(event_id=f"{prefix}_{n}").created


@pytest.mark.django_db(transaction=True)
def test_insert_is_prepared_when_the_connection_prepares_statements(sent):
    """With a prepare threshold on the connection (OPTIONS prepare_threshold=5), the INSERT is
    prepared after it has run a few times: proof it runs on a server-side-binding cursor
    (Django's client-side cursor never prepares) with its values as parameters."""
    skip_unless_postgresql()
    with fresh_connection(prepare_threshold=5) as raw:
        assert raw.prepare_threshold == 5
        assert prepared_inserts() == []
        store_many(1, "ev_once")
        assert prepared_inserts() == []  # once is not often

        store_many(9, "ev_often")

        prepared = prepared_inserts()
        assert len(prepared) == 1
        assert "$1" in prepared[0]  # parameters, not values quoted into the text
    assert WebhookEvent.objects.filter(event_id__startswith="ev_o").count() == 10


@pytest.mark.django_db(transaction=True)
def test_nothing_is_prepared_once_the_connection_stops_preparing(sent):
    """A connection that would prepare (threshold 5), told not to: `prepare_threshold = None`
    on the psycopg connection, as behind a pooler that cannot keep prepared statements."""
    skip_unless_postgresql()
    with fresh_connection(prepare_threshold=5) as raw:
        raw.prepare_threshold = None
        try:
            store_many(10, "ev_unprepared")
            assert prepared_inserts() == []
        finally:
            raw.prepare_threshold = 5
    assert WebhookEvent.objects.filter(event_id__startswith="ev_unprepared_").count() == 10


@pytest.mark.django_db(transaction=True)
def test_nothing_is_prepared_with_prepare_threshold_none_in_options(sent):
    """OPTIONS prepare_threshold=None (what DATABASE_PREPARED_STATEMENTS=false sets)."""
    skip_unless_postgresql()
    with fresh_connection(prepare_threshold=None) as raw:
        assert raw.prepare_threshold is None
        store_many(10, "ev_options_off")
        assert prepared_inserts() == []
    assert WebhookEvent.objects.filter(event_id__startswith="ev_options_off_").count() == 10


@pytest.mark.django_db(transaction=True)
def test_with_the_project_settings_the_insert_is_prepared_after_five_runs(sent):
    skip_unless_postgresql()
    with fresh_connection():
        store_many(10, "ev_default")
        assert len(prepared_inserts()) == 1
