"""Reads from the Braintree API for backfills and lookups, with errors made typed.

Every SDK call goes through `calling_braintree()`, which turns the SDK's many exception
classes into one `BraintreeApiError` that says whether a retry can help.

Subscriptions are listed the way the SDK does it (a search returns every matching id, then
the objects are fetched in pages), but in id order, so that the id of the last subscription
handled is a checkpoint: a backfill that stops half way resumes with `after=that id` and
neither skips nor repeats a page. Subscriptions created after the first search of a backfill
may sort before the checkpoint; webhooks (and the next full backfill) cover those.

Braintree's subscription search has no `updated_at` criterion (SDK 4.x SubscriptionSearch:
created_at, ids, status, next_billing_date, days_past_due, ...), so "what changed lately"
cannot be asked directly: the missed-notification recovery (billing.services.
braintree_recovery) asks which subscriptions were created since a moment
(`ids_by_creation_date`) and fetches the ones we hold by id (`fetch_by_ids`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import braintree
from braintree import Subscription, SubscriptionSearch

from subsync.money import to_minor_units

from .errors import BraintreeApiError, api_error_from

__all__ = [
    "ALL_STATUSES",
    "PAGE_SIZE",
    "BraintreeApiError",
    "PlanInfo",
    "SearchReport",
    "calling_braintree",
    "fetch_by_ids",
    "find_subscription",
    "ids_by_creation_date",
    "iter_subscriptions",
    "list_plans",
    "plan_info",
]

ALL_STATUSES = (
    Subscription.Status.Active,
    Subscription.Status.Canceled,
    Subscription.Status.Expired,
    Subscription.Status.PastDue,
    Subscription.Status.Pending,
)
PAGE_SIZE = 50  # what Braintree answers in search_results/page_size
# Braintree caps the ids one search answers with; a range answered with this many is split.
# Kept at or below the documented cap: splitting more often only costs a search.
SEARCH_CAP = 10_000
SEARCH_START = datetime(2000, 1, 1, tzinfo=UTC)  # before any Braintree subscription existed
MIN_SEARCH_SPAN = timedelta(seconds=1)


@dataclass(frozen=True)
class PlanInfo:
    """What subsync needs from a Braintree plan: its cycle length and list price."""

    plan_id: str
    billing_frequency: int  # months per billing cycle (Braintree plans are month based)
    price: int  # minor units per cycle
    currency: str
    name: str = ""


@contextmanager
def calling_braintree(what: str) -> Iterator[None]:
    """Run SDK calls, re-raising any failure as a BraintreeApiError that names `what`."""
    try:
        yield
    except BraintreeApiError:
        raise
    except Exception as exc:
        error = api_error_from(exc)
        raise BraintreeApiError(
            f"{what}: {error.message}", permanent=error.permanent, status=error.status
        ) from exc


def plan_info(plan: braintree.Plan) -> PlanInfo:
    """A PlanInfo from the SDK's Plan object."""
    currency = getattr(plan, "currency_iso_code", "") or ""
    frequency = getattr(plan, "billing_frequency", None) or 1
    return PlanInfo(
        plan_id=plan.id,
        billing_frequency=int(frequency),
        price=to_minor_units(getattr(plan, "price", None), currency=currency),
        currency=currency,
        name=getattr(plan, "name", "") or "",
    )


def list_plans(gateway: braintree.BraintreeGateway) -> list[PlanInfo]:
    """Every plan of the merchant (one request: Braintree does not page plans)."""
    with calling_braintree("listing plans"):
        plans = gateway.plan.all()
    return [plan_info(plan) for plan in plans]


def find_subscription(
    gateway: braintree.BraintreeGateway, *, subscription_id: str
) -> braintree.Subscription:
    """One subscription by id; a missing one is a permanent BraintreeApiError (status 404)."""
    with calling_braintree(f"finding subscription {subscription_id!r}"):
        return gateway.subscription.find(subscription_id)


def _search(gateway: braintree.BraintreeGateway, *criteria):
    """The SDK's subscription search over every status (Braintree's default leaves some out)."""
    return gateway.subscription.search(
        [SubscriptionSearch.status.in_list(list(ALL_STATUSES)), *criteria]
    )


@dataclass
class SearchReport:
    """How the ids of a backfill were found: searches made, creation-date ranges kept, ids,
    and the ranges still at the cap when they could not be split further (subscriptions may
    be missing from those: say so, never silently)."""

    searches: int = 0
    ranges: int = 0
    ids: int = 0
    capped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"searches": self.searches, "ranges": self.ranges, "ids": self.ids,
                "capped": list(self.capped)}


def ids_by_creation_date(
    gateway: braintree.BraintreeGateway, *, start: datetime = SEARCH_START,
    end: datetime | None = None, cap: int | None = None, report: SearchReport | None = None,
) -> list[str]:
    """Ids of every subscription created between `start` and `end`, sorted.

    Braintree answers a search with a capped list of ids, so one search of a large merchant
    silently misses subscriptions. A range whose answer reaches `cap` is split in two by
    creation date until every range's answer is under it (or the range is one second long:
    then it is reported in `report.capped`). Ranges are inclusive at both ends; an id on a
    boundary is counted once.
    """
    report = report if report is not None else SearchReport()
    cap = cap or SEARCH_CAP
    end = end or datetime.now(UTC) + timedelta(days=1)
    found: set[str] = set()
    ranges = [(start, end)]
    while ranges:
        low, high = ranges.pop()
        with calling_braintree(f"searching subscriptions created {low.isoformat()} .. "
                               f"{high.isoformat()}"):
            ids = list(_search(gateway, SubscriptionSearch.created_at.between(low, high)).ids)
        report.searches += 1
        if len(ids) >= cap and high - low > MIN_SEARCH_SPAN:
            middle = low + (high - low) / 2
            ranges += [(middle, high), (low, middle)]  # the earlier half is searched first
            continue
        if len(ids) >= cap:
            report.capped.append(f"{low.isoformat()}..{high.isoformat()}")
        report.ranges += 1
        found.update(ids)
    report.ids = len(found)
    return sorted(found)


def fetch_by_ids(gateway: braintree.BraintreeGateway, ids: Sequence[str], *,
                 page_size: int = PAGE_SIZE
                 ) -> Iterator[tuple[list[str], list[braintree.Subscription]]]:
    """The subscriptions of `ids`, as (page of ids, subscriptions found) per `page_size` ids.

    Two requests a page, as the SDK searches: the ids that match, then their objects. Ids
    Braintree does not know (deleted since they were listed) are simply missing from their
    page.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    for start in range(0, len(ids), page_size):
        page = list(ids[start:start + page_size])
        with calling_braintree(f"fetching subscriptions {page[0]}..{page[-1]}"):
            subscriptions = list(_search(gateway, SubscriptionSearch.ids.in_list(page)).items)
        yield page, subscriptions


def iter_subscriptions(
    gateway: braintree.BraintreeGateway,
    *,
    after: str | None = None,
    page_size: int = PAGE_SIZE,
    report: SearchReport | None = None,
) -> Iterator[braintree.Subscription]:
    """Every subscription in every status, in ascending id order, starting after `after`.

    Checkpoint by storing the id of the last subscription you have finished with and pass it
    back as `after` to resume. Costs one search for all ids (more when the answer reaches the
    cap: see `ids_by_creation_date`, which fills `report`), then two requests per page (see
    `fetch_by_ids`). Errors are raised as BraintreeApiError; everything yielded before an
    error stays valid.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    ids = ids_by_creation_date(gateway, report=report)
    pending = [sub_id for sub_id in ids if after is None or sub_id > after]
    for _page, subscriptions in fetch_by_ids(gateway, pending, page_size=page_size):
        # Yield in id order so that each id is a valid checkpoint.
        yield from sorted(subscriptions, key=lambda sub: sub.id)
