"""Facts a Braintree subscription does not carry, looked up on demand.

A Braintree subscription has no currency, no customer and no billing frequency: those live on
its merchant account, its payment method's customer and its plan. The normaliser asks an
injected `Resolver` for them (only when the notification itself cannot tell), so that:
- parsing stays a pure function in tests (a fake resolver is a dict or two);
- `ApiResolver` answers through the SDK with an in-process cache;
- the Django layer can put a persistent cache in front (its own Resolver that reads the
  database first and delegates to ApiResolver on a miss) without touching the parser.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, TypeVar, runtime_checkable

import braintree

from billing.normalized import NormalizedCustomer, Provider

from .api import PlanInfo, calling_braintree, list_plans
from .errors import BraintreeApiError

T = TypeVar("T")


@runtime_checkable
class Resolver(Protocol):
    """Lookups the normaliser needs. Implementations raise BraintreeApiError on failure."""

    def currency_for_merchant_account(self, merchant_account_id: str) -> str:
        """ISO 4217 code the merchant account settles in."""
        ...

    def customer_for_payment_method(self, token: str) -> NormalizedCustomer:
        """The vault customer who owns the payment method `token`."""
        ...

    def plan(self, plan_id: str) -> PlanInfo | None:
        """The plan, or None when Braintree does not know it (deleted)."""
        ...

    def subscription(self, subscription_id: str) -> braintree.Subscription | None:
        """The full subscription, or None when Braintree does not know it.

        Used only when a notification carries a bare subscription (no status), as the SDK's
        sample notifications and the Control Panel's test webhooks do.
        """
        ...


def customer_from_sdk(customer, *, source_version: int | None = None) -> NormalizedCustomer:
    """A NormalizedCustomer from the SDK's Customer (vault or transaction customer details)."""
    return NormalizedCustomer(
        provider=Provider.BRAINTREE,
        external_id=str(customer.id),
        email=getattr(customer, "email", None) or "",
        company=getattr(customer, "company", None) or "",
        first_name=getattr(customer, "first_name", None) or "",
        last_name=getattr(customer, "last_name", None) or "",
        source_version=source_version,
    )


class _TtlCache:
    """A dict whose entries expire, so a long-lived worker eventually sees changed plans."""

    def __init__(self, *, ttl_seconds: float | None, clock: Callable[[], float]):
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[object, tuple[float, object]] = {}

    def get_or_load(self, key: object, load: Callable[[], T]) -> T:
        now = self._clock()
        hit = self._entries.get(key)
        if hit is not None and (self._ttl is None or now - hit[0] < self._ttl):
            return hit[1]  # type: ignore[return-value]
        value = load()
        self._entries[key] = (now, value)
        return value

    def clear(self) -> None:
        self._entries.clear()


class ApiResolver:
    """A Resolver that asks the Braintree API and remembers the answers for `ttl_seconds`.

    Plans are loaded all at once (one request serves every plan id); a plan id missing from
    that list triggers one reload, since it may have been created after the list was cached.
    Errors propagate as BraintreeApiError so the calling task can retry transient ones.
    Not-found answers are not cached, except for plans and subscriptions, where they are a
    legitimate answer (None).
    """

    def __init__(
        self,
        gateway: braintree.BraintreeGateway,
        *,
        ttl_seconds: float | None = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._gateway = gateway
        self._currencies = _TtlCache(ttl_seconds=ttl_seconds, clock=clock)
        self._customers = _TtlCache(ttl_seconds=ttl_seconds, clock=clock)
        self._plans = _TtlCache(ttl_seconds=ttl_seconds, clock=clock)
        self._reloaded_for: set[str] = set()

    def currency_for_merchant_account(self, merchant_account_id: str) -> str:
        def load() -> str:
            with calling_braintree(f"finding merchant account {merchant_account_id!r}"):
                account = self._gateway.merchant_account.find(merchant_account_id)
            currency = getattr(account, "currency_iso_code", "") or ""
            if not currency:
                raise BraintreeApiError(
                    f"merchant account {merchant_account_id!r} has no currency_iso_code",
                    permanent=True,
                )
            return currency.upper()

        return self._currencies.get_or_load(merchant_account_id, load)

    def customer_for_payment_method(self, token: str) -> NormalizedCustomer:
        def load() -> NormalizedCustomer:
            with calling_braintree(f"finding payment method {token!r}"):
                method = self._gateway.payment_method.find(token)
            customer_id = getattr(method, "customer_id", None)
            if not customer_id:
                raise BraintreeApiError(
                    f"payment method {token!r} belongs to no customer", permanent=True
                )
            with calling_braintree(f"finding customer {customer_id!r}"):
                customer = self._gateway.customer.find(customer_id)
            return customer_from_sdk(customer)

        return self._customers.get_or_load(token, load)

    def plan(self, plan_id: str) -> PlanInfo | None:
        plans = self._plans.get_or_load("all", self._load_plans)
        if plan_id not in plans and plan_id not in self._reloaded_for:
            self._reloaded_for.add(plan_id)
            self._plans.clear()
            plans = self._plans.get_or_load("all", self._load_plans)
        return plans.get(plan_id)

    def subscription(self, subscription_id: str) -> braintree.Subscription | None:
        try:
            with calling_braintree(f"finding subscription {subscription_id!r}"):
                return self._gateway.subscription.find(subscription_id)
        except BraintreeApiError as exc:
            if exc.status == 404:
                return None
            raise

    def _load_plans(self) -> dict[str, PlanInfo]:
        return {plan.plan_id: plan for plan in list_plans(self._gateway)}
