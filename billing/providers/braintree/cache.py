"""A persistent Resolver: Braintree look-ups kept in the database, shared by every worker.

`ApiResolver` remembers answers only inside one process, so each worker restart (and each of
several workers) would ask Braintree again for the same plan, merchant account and payment
method. `DatabaseResolver` reads the billing.models cache tables first and asks the API only
on a miss (or when a plan or customer entry is older than `MAX_AGE`), then stores the answer.

- Merchant account currencies never change: cached for good.
- Plans are listed all at once (one request) and the table mirrors the listing: the backfill
  refreshes it first, and a plan id the table does not know triggers one refresh per event.
- Customers found through a payment method carry the time they were read as their
  `source_version`, so details read long ago never overwrite newer ones from a notification.
- Subscriptions (only fetched for bare sample notifications) are state, not facts: not cached.

The gateway is built only on a miss, so a fully cached event needs neither network nor keys.
API calls happen here, in the worker; never call this from a web request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

import braintree
from django.db import transaction
from django.utils import timezone

from billing.models import BraintreeMerchantAccount, BraintreePaymentMethodCustomer, BraintreePlan
from billing.normalized import NormalizedCustomer, Provider

from .api import PlanInfo, list_plans
from .normalize import to_ms
from .resolver import ApiResolver

MAX_AGE = timedelta(days=1)  # plans and customer details are re-read after this
# Plan rows read in this process, by plan id: (monotonic deadline, refreshed_at, PlanInfo).
# Every subscription notification needs its plan, and reading the row was the largest single
# cost of applying a Braintree event; a plan changes rarely, and a refresh clears this.
PLAN_MEMO_SECONDS = 60.0
_plan_memo: dict[str, tuple[float, datetime, PlanInfo]] = {}
# Likewise the other two look-ups every subscription notification makes: a merchant account's
# currency never changes (kept for the life of the process), and a payment method's customer
# row is kept for a minute, far inside MAX_AGE.
CUSTOMER_MEMO_SECONDS = 60.0
_currency_memo: dict[str, str] = {}
_customer_memo: dict[str, tuple[float, datetime, NormalizedCustomer]] = {}


def _recall(memo: dict, key: str, *, fresh: Callable[[datetime], bool]):
    """What `memo` holds for `key` if its time is not over and the row it came from is fresh
    (entries are (monotonic deadline, refreshed_at, value)); None otherwise."""
    remembered = memo.get(key)
    if remembered is not None and remembered[0] > time.monotonic() and fresh(remembered[1]):
        return remembered[2]
    return None


def _remember(memo: dict, key: str, value, *, refreshed_at: datetime, seconds: float):
    memo[key] = (time.monotonic() + seconds, refreshed_at, value)
    return value


def forget_plans() -> None:
    """Drop the plans this process remembers (after a refresh)."""
    _plan_memo.clear()


def forget_memos() -> None:
    """Drop everything this process remembers of the cache tables (between tests)."""
    forget_plans()
    _currency_memo.clear()
    _customer_memo.clear()


def refresh_plans(*, gateway: braintree.BraintreeGateway,
                  now: datetime | None = None) -> list[PlanInfo]:
    """List every plan (one request) and make the plan table mirror the listing."""
    plans = list_plans(gateway)
    with transaction.atomic():
        remember_plans(plans, now=now)
        BraintreePlan.objects.exclude(plan_id__in=[plan.plan_id for plan in plans]).delete()
    return plans


def remember_plans(plans: list[PlanInfo], *, now: datetime | None = None) -> None:
    """Store `plans` as read at `now` (others are left alone): a listing's rows, or the plan
    catalogue of data that did not come through the API (billing.demo)."""
    now = now or timezone.now()
    for plan in plans:
        BraintreePlan.objects.update_or_create(
            plan_id=plan.plan_id,
            defaults={"name": plan.name[:255], "billing_frequency": plan.billing_frequency,
                      "price": plan.price, "currency": plan.currency.upper(),
                      "refreshed_at": now},
        )
    forget_plans()


def _plan_info(row: BraintreePlan) -> PlanInfo:
    return PlanInfo(plan_id=row.plan_id, billing_frequency=row.billing_frequency,
                    price=row.price, currency=row.currency, name=row.name)


def _customer(row: BraintreePaymentMethodCustomer) -> NormalizedCustomer:
    return NormalizedCustomer(
        provider=Provider.BRAINTREE, external_id=row.customer_id, email=row.email,
        company=row.company, first_name=row.first_name, last_name=row.last_name,
        source_version=to_ms(row.refreshed_at),
    )


class DatabaseResolver:
    """A Resolver that answers from the cache tables, falling back to ApiResolver on a miss.

    `gateway` is a factory (usually configured.gateway_from_settings), called at most once
    and only when the API is needed.
    """

    def __init__(self, *, gateway: Callable[[], braintree.BraintreeGateway],
                 max_age: timedelta = MAX_AGE, now: Callable[[], datetime] = timezone.now):
        self._gateway_factory = gateway
        self._gateway: braintree.BraintreeGateway | None = None
        self._api: ApiResolver | None = None
        self._max_age = max_age
        self._now = now

    def _remote_gateway(self) -> braintree.BraintreeGateway:
        if self._gateway is None:
            self._gateway = self._gateway_factory()
        return self._gateway

    def _remote(self) -> ApiResolver:
        if self._api is None:
            # The tables are the cache: ApiResolver's own in-process one is switched off
            # (ttl 0), or a long backfill would never see a customer's re-read details.
            self._api = ApiResolver(self._remote_gateway(), ttl_seconds=0)
        return self._api

    def _fresh(self, refreshed_at: datetime) -> bool:
        return refreshed_at >= self._now() - self._max_age

    def currency_for_merchant_account(self, merchant_account_id: str) -> str:
        if merchant_account_id in _currency_memo:
            return _currency_memo[merchant_account_id]
        row = BraintreeMerchantAccount.objects.filter(
            merchant_account_id=merchant_account_id).first()
        if row is not None:
            currency = row.currency
        else:
            currency = self._remote().currency_for_merchant_account(merchant_account_id).upper()
            BraintreeMerchantAccount.objects.update_or_create(
                merchant_account_id=merchant_account_id,
                defaults={"currency": currency, "refreshed_at": self._now()},
            )
        _currency_memo[merchant_account_id] = currency
        return currency

    def customer_for_payment_method(self, token: str) -> NormalizedCustomer:
        remembered = _recall(_customer_memo, token, fresh=self._fresh)
        if remembered is not None:
            return remembered
        row = BraintreePaymentMethodCustomer.objects.filter(token=token).first()
        if row is None or not self._fresh(row.refreshed_at):
            found = self._remote().customer_for_payment_method(token)
            row, _ = BraintreePaymentMethodCustomer.objects.update_or_create(
                token=token,
                defaults={"customer_id": found.external_id, "email": found.email[:254],
                          "company": found.company[:255], "first_name": found.first_name[:255],
                          "last_name": found.last_name[:255], "refreshed_at": self._now()},
            )
        return _remember(_customer_memo, token, _customer(row), refreshed_at=row.refreshed_at,
                         seconds=CUSTOMER_MEMO_SECONDS)

    def plan(self, plan_id: str) -> PlanInfo | None:
        remembered = _recall(_plan_memo, plan_id, fresh=self._fresh)
        if remembered is not None:
            return remembered
        row = BraintreePlan.objects.filter(plan_id=plan_id).first()
        if row is not None and self._fresh(row.refreshed_at):
            return _remember(_plan_memo, plan_id, _plan_info(row), refreshed_at=row.refreshed_at,
                             seconds=PLAN_MEMO_SECONDS)
        plans = refresh_plans(gateway=self._remote_gateway(), now=self._now())
        return next((plan for plan in plans if plan.plan_id == plan_id), None)

    def subscription(self, subscription_id: str) -> braintree.Subscription | None:
        return self._remote().subscription(subscription_id)
