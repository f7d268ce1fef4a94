"""Subscription search and the detail timeline."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import SubscriptionItem, WebhookEvent
from billing.selectors.params import InvalidParameters, PageRequest
from billing.selectors.subscriptions import (
    SubscriptionFilters,
    search_subscriptions,
    subscription_detail,
)
from crm.models import ContractSync, SyncAttempt
from tests.billing.selectors.factories import at, change, customer, subscription

pytestmark = pytest.mark.django_db


def found(**filters) -> list[str]:
    page = search_subscriptions(filters=SubscriptionFilters(**filters), page=PageRequest())
    return sorted(row.external_id for row in page.items)


def test_search_by_name_email_company_and_ids():
    ada = customer("", first_name="Ada", last_name="Lovelace", email="ada@engines.example",
                   external_id="cus_ADA")
    subscription(ada, external_id="sub_ada")
    acme = customer("Acme Corp", email="billing@acme.example")
    subscription(acme, external_id="sub_acme")
    subscription(customer("Other", provider="braintree"), external_id="bt_77")
    assert found(search="ada lovelace") == ["sub_ada"]
    assert found(search="LOVELACE") == ["sub_ada"]
    assert found(search="engines.example") == ["sub_ada"]
    assert found(search="acme") == ["sub_acme"]
    assert found(search="cus_ada") == ["sub_ada"]
    assert found(search="bt_77") == ["bt_77"]
    assert found(search="braintree:bt_77") == ["bt_77"]
    assert found(search="chargebee:bt_77") == []
    assert found(search="ada acme") == []


def test_filters_ordering_and_pages():
    owner = customer("Owner")
    subscription(owner, external_id="a", mrr=300, current_term_end=at(2027, 3, 1))
    subscription(owner, external_id="b", mrr=100, current_term_end=at(2027, 1, 1),
                 contract_term_end=at(2027, 6, 1))
    subscription(owner, external_id="c", mrr=200, status="cancelled", currency="EUR",
                 plan_id="basic")
    assert found(status="cancelled") == ["c"]
    assert found(currency="EUR") == ["c"] and found(plan="basic") == ["c"]
    assert found(provider="braintree") == []

    def ordered(ordering, size=10, number=1):
        return [row.external_id for row in search_subscriptions(
            filters=SubscriptionFilters(ordering=ordering),
            page=PageRequest(number=number, size=size)).items]

    assert ordered("-mrr") == ["a", "c", "b"]
    assert ordered("mrr") == ["b", "c", "a"]
    # b renews at its contract term end (June), after a (March); c has no date: last
    assert ordered("renewal") == ["a", "b", "c"]
    assert ordered("-mrr", size=2, number=2) == ["b"]


def test_the_page_counts_every_match_not_only_its_rows():
    for name in ("Acme One", "Acme Two", "Other"):
        subscription(customer(name), external_id=name)
    deleted = subscription(customer("Acme Gone"), external_id="gone")
    deleted.deleted_at = at(2026, 1, 1)
    deleted.save(update_fields=["deleted_at"])

    def total(**filters) -> int:
        return search_subscriptions(filters=SubscriptionFilters(**filters),
                                    page=PageRequest(size=1)).total

    assert total() == 3
    assert total(search="acme") == 2
    assert total(search="acme", status="cancelled") == 0


def test_bad_parameters():
    with pytest.raises(InvalidParameters) as caught:
        SubscriptionFilters.from_query({"ordering": "price", "status": "gone"})
    assert set(caught.value.errors) == {"ordering", "status"}
    assert SubscriptionFilters.from_query({"q": " ada "}).search == "ada"


def event(event_id, *, status="processed", body="{}", received=None):
    received = received or at(2027, 1, 2)
    row = WebhookEvent.objects.create(provider="chargebee", event_id=event_id, status=status,
                                      event_type="subscription_changed", body=body)
    WebhookEvent.objects.filter(pk=row.pk).update(received_at=received)
    return row


def attempt(records, *, sobject="Contract", started=None, outcome="success", **kw):
    started = started or at(2027, 1, 3)
    row = SyncAttempt.objects.create(operation="upsert", sobject=sobject, records=records,
                                     outcome=outcome, **kw)
    SyncAttempt.objects.filter(pk=row.pk).update(started_at=started)
    return row


@pytest.fixture
def history():
    owner = customer("Timeline Ltd", external_id="cus_T")
    sub = subscription(owner, external_id="sub_1", mrr=5000)
    SubscriptionItem.objects.create(subscription=sub, kind="plan", item_id="pro", amount=5000)
    sync = ContractSync.objects.create(subscription=sub, sf_contract_id="800AAA")
    ContractSync.objects.filter(pk=sync.pk).update(created_at=at(2027, 1, 1))
    created = event("ev_created", received=at(2027, 1, 1, 1))
    change(sub, when=at(2027, 1, 1, 1), before="", after="active", mrr_after=5000,
           movement="new", amount=5000, event=created)
    failed = event("ev_failed", status="failed", received=at(2027, 1, 4),
                   body='{"content": {"subscription": {"id": "sub_1"}}}')
    event("ev_other_failed", status="failed", received=at(2027, 1, 4),
          body='{"content": {"subscription": {"id": "sub_10"}}}')
    mine = attempt(["chargebee:sub_1", "chargebee:sub_2"], started=at(2027, 1, 3))
    attempt(["chargebee:sub_10"], started=at(2027, 1, 3, 1))
    attempt(["chargebee:SUB_1"], started=at(2027, 1, 3, 2))
    activation = attempt(["800AAA"], started=at(2027, 1, 3, 3), outcome="failed",
                         error_code="FIELD_CUSTOM_VALIDATION_EXCEPTION", error_message="no")
    account = attempt(["chargebee:cus_T"], sobject="Account", started=at(2027, 1, 2, 12))
    # an Account whose id equals the subscription's ref is some other customer's row
    attempt(["chargebee:sub_1"], sobject="Account", started=at(2027, 1, 2, 13))
    return sub, created, failed, mine, activation, account


def test_timeline_merges_sources_newest_first(history):
    sub, created, failed, mine, activation, account = history
    detail = subscription_detail(pk=sub.pk, now=at(2027, 1, 10))
    ids = {"event": "event_id", "sync": "attempt_id", "change": "change_id"}
    assert [(e.kind, getattr(e, ids[e.kind])) for e in detail.timeline] == [
        ("event", failed.pk),
        ("sync", activation.pk),
        ("sync", mine.pk),
        ("sync", account.pk),
        ("change", detail.timeline[4].change_id),
        ("event", created.pk),
    ]
    assert detail.timeline[4].event_id == created.pk
    assert detail.timeline[4].status == "new"
    assert detail.timeline[1].detail.startswith("FIELD_CUSTOM_VALIDATION_EXCEPTION")
    assert detail.timeline[0].detail == "never reached the ledger"
    assert detail.contract_sync.sf_contract_id == "800AAA"
    assert [item.item_id for item in detail.subscription.items.all()] == ["pro"]
    assert detail.subscription.customer.company == "Timeline Ltd"


def test_timeline_is_bounded_and_old_failures_are_not_searched(history):
    sub, _, failed, *_ = history
    assert len(subscription_detail(pk=sub.pk, limit=2, now=at(2027, 1, 10)).timeline) == 2
    later = subscription_detail(pk=sub.pk, now=at(2027, 3, 1))
    assert len(later.timeline) == 5
    assert failed.pk not in [entry.event_id for entry in later.timeline]


def test_detail_query_count_does_not_grow_with_history(history):
    sub = history[0]

    def count():
        with CaptureQueriesContext(connection) as context:
            subscription_detail(pk=sub.pk, now=at(2027, 1, 10))
        return len(context.captured_queries)

    before = count()
    for index in range(20):
        hit = event(f"more{index}", received=at(2027, 1, 5, index))
        change(sub, when=at(2027, 1, 5, index), before="active", after="active", event=hit)
        attempt(["chargebee:sub_1"], started=at(2027, 1, 6, index))
    assert count() == before == 6
    assert len(subscription_detail(pk=sub.pk, now=at(2027, 1, 10)).timeline) == 50


def test_unknown_subscription_is_none():
    assert subscription_detail(pk=424242) is None


def test_never_synced_subscription_has_no_sync_entries():
    sub = subscription(customer("New"), external_id="sub_new")
    attempt(["chargebee:sub_new"])
    assert subscription_detail(pk=sub.pk).timeline == ()
