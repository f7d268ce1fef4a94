"""The demo's history as provider-neutral steps: pure, deterministic, no database.

`build_story` draws customers and subscription lives from a seeded random generator and plays
each life from its start to `now`: trials that convert or lapse, renewals, upgrades,
downgrades, seat changes, failed payments (recovered or not), cancellations with a reason
(at once, or at the term end), reactivations. Every step is a `Step` holding the whole
subscription as it stands right after it, which is what both providers send.

The provider decides what can happen and how it is told (the renderers turn steps into
payloads): Braintree sends nothing when a subscription is created in trial or changed between
charges, so there a change shows on the next charge; a Braintree subscription cannot be
reactivated, so a returning customer starts a new one; ending at the term end is a
subscription with a fixed number of billing cycles that then expires.

A few scripted lives come first so that even a small demo shows every kind of movement, a
running trial, a past-due and a non-renewing subscription, and renewals this quarter and next.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from billing.demo.catalog import (
    CANCEL_REASONS,
    COMPANY_KINDS,
    COMPANY_SUFFIX,
    COMPANY_WORDS,
    FIRST_NAMES,
    LAST_NAMES,
    SEATS,
    TIERS,
    Price,
)
from billing.selectors.renewals import next_quarter
from subsync.months import add_months

CHARGEBEE, BRAINTREE = "chargebee", "braintree"
HISTORY_DAYS = 730
TRIAL_DAYS = 14
PAST_DUE_GRACE_DAYS = 21  # unpaid this long after a failed renewal: cancelled for non-payment
NOT_PAID = "not_paid"  # Chargebee's own cancel_reason for dunning that ran out


@dataclass(frozen=True)
class DemoCustomer:
    provider: str
    id: str
    first_name: str
    last_name: str
    email: str
    company: str
    currency: str
    created_at: datetime
    payment_token: str


@dataclass(frozen=True)
class Charge:
    id: str
    amount: int  # minor units
    at: datetime


@dataclass(frozen=True)
class StatusChange:
    status: str
    at: datetime
    source: str  # Braintree's subscription_source: api, control_panel, recurring
    price: int


@dataclass(frozen=True)
class DemoSubscription:
    """One subscription as the provider holds it at a moment (neutral statuses)."""

    id: str
    customer: DemoCustomer
    price: Price
    seats: int
    status: str  # trial, active, past_due, non_renewing, cancelled, expired
    created_at: datetime
    started_at: datetime | None = None
    trial_start: datetime | None = None
    trial_end: datetime | None = None
    term_start: datetime | None = None
    term_end: datetime | None = None
    cycle: int = 0  # billing cycles charged
    cancelled_at: datetime | None = None
    cancel_reason: str = ""  # Chargebee's cancel_reason_code, or NOT_PAID
    cancel_source: str = ""  # Braintree's subscription_source of the cancellation
    dues: int = 0
    due_since: datetime | None = None
    contract: bool = False  # a Chargebee contract term matching the yearly term
    final_cycle: bool = False  # Braintree: a fixed number of cycles, this is the last
    charges: tuple[Charge, ...] = ()
    history: tuple[StatusChange, ...] = ()

    @property
    def amount(self) -> int:
        """Minor units per billing cycle, all seats."""
        return self.price.per_seat * self.seats


@dataclass(frozen=True)
class Step:
    """Something that happened, and the subscription (or customer) right after it."""

    at: datetime
    kind: str  # customer_created, created, trial_converted, trial_lapsed, renewed, changed,
    # payment_failed, payment_recovered, cancel_scheduled, cancelled, reactivated, expired
    provider: str
    customer: DemoCustomer
    subscription: DemoSubscription | None = None
    source: str = "api"  # who did it, as Chargebee's event `source` says


@dataclass(frozen=True)
class Action:
    """A decision in one term of a life: at `fraction` of term `term` (0 = at its start)."""

    term: int
    fraction: float
    kind: str  # upgrade, downgrade, seats, cancel, end_of_term, fail
    seats: int = 0  # seats: the change; fail: days to recover (0 = never)
    reason: str = ""


@dataclass(frozen=True)
class Life:
    provider: str
    currency: str
    tier: str
    period_months: int
    seats: int
    start: datetime
    trial: str = ""  # "", "convert", "lapse"
    actions: tuple[Action, ...] = ()
    reactivate_after_days: int = 0  # after a voluntary cancellation; 0 = never
    contract: bool = False


@dataclass
class Story:
    customers: list[DemoCustomer] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    subscriptions: int = 0


def build_story(*, subscriptions: int, seed: int | str, now: datetime) -> Story:
    """Customers and the steps of their subscriptions' lives, `subscriptions` lives in all."""
    rng = random.Random(seed)
    now = now.astimezone(UTC)
    story = Story()
    names = _Names(rng)
    lives = _scripted_lives(now)
    played = 0
    while story.subscriptions < subscriptions:
        life = lives[played] if played < len(lives) else _random_life(rng, now)
        played += 1
        customer = names.customer(life, rng=rng)
        story.customers.append(customer)
        _Player(rng=rng, now=now, story=story, names=names).play(life, customer)
    story.steps.sort(key=lambda step: step.at)
    return story


# -- lives ------------------------------------------------------------------------------------


def _days_ago(now: datetime, days: float, *, hour: int = 10) -> datetime:
    moment = now - timedelta(days=days)
    return moment.replace(hour=hour, minute=17, second=0, microsecond=0)


def _scripted_lives(now: datetime) -> list[Life]:
    """Lives that show every feature of the dashboard, relative to `now`."""
    today = now.date()
    # A renewal later this quarter (today's evening at the latest) and one next quarter.
    # The renewals page's own quarters, so the demo's renewals land in its windows.
    next_start = next_quarter(today=today).start
    this_quarter = min(today + timedelta(days=12), next_start - timedelta(days=1))
    next_quarter_day = next_start + timedelta(days=20)
    renew_this = datetime.combine(this_quarter, datetime.min.time(), tzinfo=UTC).replace(
        hour=23, minute=0)
    renew_next = datetime.combine(next_quarter_day, datetime.min.time(), tzinfo=UTC)
    recent_renewal = _days_ago(now, 4)
    return [
        Life(CHARGEBEE, "USD", "team", 1, 6, _days_ago(now, 420), trial="convert",
             actions=(Action(3, 0.4, "upgrade"), Action(8, 0.5, "seats", seats=4))),
        Life(CHARGEBEE, "EUR", "starter", 1, 2, _days_ago(now, 200), trial="lapse"),
        Life(CHARGEBEE, "USD", "team", 1, 8, _days_ago(now, 5), trial="convert"),
        Life(CHARGEBEE, "USD", "business", 12, 40, add_months(renew_this, -24), contract=True),
        Life(BRAINTREE, "EUR", "team", 12, 12, add_months(renew_next, -12)),
        Life(CHARGEBEE, "GBP", "business", 1, 25, _days_ago(now, 300),
             actions=(Action(4, 0.6, "downgrade"),)),
        Life(CHARGEBEE, "USD", "team", 1, 5, _days_ago(now, 330),
             actions=(Action(8, 0.5, "cancel", reason="Too expensive"),)),
        Life(CHARGEBEE, "EUR", "team", 1, 9, _days_ago(now, 480),
             actions=(Action(3, 0.3, "cancel", reason="Missing features"),),
             reactivate_after_days=75),
        Life(CHARGEBEE, "USD", "team", 1, 7, add_months(recent_renewal, -6),
             actions=(Action(6, 0.0, "fail"),)),
        Life(CHARGEBEE, "GBP", "team", 12, 15, add_months(_days_ago(now, -40), -12),
             actions=(Action(0, 0.8, "end_of_term", reason="Switched to competitor"),)),
        Life(BRAINTREE, "USD", "team", 1, 4, add_months(_days_ago(now, 3, hour=0), -5),
             actions=(Action(5, 0.0, "fail"),)),
        Life(BRAINTREE, "GBP", "starter", 1, 3, _days_ago(now, 500, hour=0),
             actions=(Action(4, 0.5, "cancel"),), reactivate_after_days=45),
        Life(BRAINTREE, "USD", "business", 1, 20, _days_ago(now, 600, hour=0),
             actions=(Action(9, 0.0, "end_of_term"),)),
        Life(BRAINTREE, "GBP", "team", 1, 6, _days_ago(now, 380, hour=0),
             actions=(Action(2, 0.5, "seats", seats=3), Action(6, 0.5, "seats", seats=-2))),
        Life(CHARGEBEE, "USD", "starter", 1, 3, _days_ago(now, 700),
             actions=(Action(10, 0.5, "cancel", reason="Company closed"),)),
        Life(CHARGEBEE, "USD", "business", 1, 30, _days_ago(now, 250),
             actions=(Action(2, 0.0, "fail", seats=3),)),
        Life(BRAINTREE, "EUR", "team", 1, 5, _days_ago(now, 100, hour=0), trial="convert"),
    ]


def _weighted(rng: random.Random, choices: dict) -> object:
    return rng.choices(list(choices), weights=list(choices.values()))[0]


def _random_life(rng: random.Random, now: datetime) -> Life:
    provider = _weighted(rng, {CHARGEBEE: 6, BRAINTREE: 4})
    currency = _weighted(rng, {"USD": 55, "EUR": 27, "GBP": 18})
    tier = _weighted(rng, {"starter": 4, "team": 4, "business": 2})
    period = _weighted(rng, {1: 3, 12: 1})
    low, high = SEATS[tier]
    seats = min(high, low + int(rng.expovariate(1 / max(1, (high - low) / 3))))
    # More customers joined recently than long ago: the business is growing.
    age_days = 3 + (HISTORY_DAYS - 3) * rng.random() ** 1.4
    start = _days_ago(now, age_days, hour=0 if provider == BRAINTREE else rng.randrange(7, 20))
    trial = ""
    if rng.random() < (0.4 if provider == CHARGEBEE else 0.1):
        trial = "convert" if provider == BRAINTREE or rng.random() < 0.7 else "lapse"
    terms = int(age_days / (30.4 * period)) + 1
    actions: list[Action] = []
    for term in range(terms):
        if term and rng.random() < 0.04 * period:
            recover = rng.randrange(1, 9) if rng.random() < 0.75 else 0
            actions.append(Action(term, 0.0, "fail", seats=recover))
        for _ in range(period):
            roll = rng.random()
            fraction = rng.uniform(0.05, 0.95)
            if roll < 0.022:
                actions.append(Action(term, fraction, "upgrade"))
            elif roll < 0.034:
                actions.append(Action(term, fraction, "downgrade"))
            elif roll < 0.08:
                change = rng.choice((1, 1, 2, 3, 5, -1, -2))
                actions.append(Action(term, fraction, "seats", seats=change))
            elif roll < 0.098:
                kind = "cancel" if rng.random() < 0.55 else "end_of_term"
                reason = _weighted(rng, dict(zip(CANCEL_REASONS, (30, 20, 20, 8, 22),
                                                 strict=True)))
                actions.append(Action(term, fraction, kind, reason=reason))
    # Some of today's subscriptions are ending or behind on payment: what ops staff look for.
    roll = rng.random()
    if terms > 1 and roll < 0.04:
        actions.append(Action(terms - 1, 0.0, "fail"))
    elif roll < 0.08:
        reason = rng.choice(CANCEL_REASONS)
        actions.append(Action(terms - 1, rng.uniform(0.05, 0.5), "end_of_term", reason=reason))
    return Life(provider, currency, tier, period, seats, start, trial=trial,
                actions=tuple(actions),
                reactivate_after_days=rng.randrange(30, 200) if rng.random() < 0.2 else 0,
                contract=provider == CHARGEBEE and period == 12 and rng.random() < 0.5)


# -- names ------------------------------------------------------------------------------------


class _Names:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._ids: set[str] = set()

    def token(self, length: int = 16) -> str:
        alphabet = string.ascii_letters + string.digits
        while True:
            value = "".join(self._rng.choice(alphabet) for _ in range(length))
            if value not in self._ids:
                self._ids.add(value)
                return value

    def braintree_id(self) -> str:
        """Braintree's ids are short lower-case alphanumerics."""
        alphabet = string.ascii_lowercase + string.digits
        while True:
            value = "".join(self._rng.choice(alphabet) for _ in range(6))
            if value not in self._ids:
                self._ids.add(value)
                return value

    def customer(self, life: Life, *, rng: random.Random) -> DemoCustomer:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = ""
        if rng.random() < 0.9:
            company = (f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)} "
                       f"{COMPANY_SUFFIX[life.currency]}")
        local = f"{first}.{last}".lower().replace("'", "")
        domain = (company.split(" ")[0].lower() if company else "mail") + ".example"
        ident = self.token() if life.provider == CHARGEBEE else self.braintree_id()
        return DemoCustomer(
            provider=life.provider, id=ident, first_name=first, last_name=last,
            email=f"{_ascii(local)}.{ident[:4].lower()}@{domain}", company=company,
            currency=life.currency, created_at=life.start - timedelta(minutes=3),
            payment_token=self.braintree_id() if life.provider == BRAINTREE else "",
        )


def _ascii(text: str) -> str:
    table = str.maketrans("éëíáç", "eeiac")
    return text.translate(table).encode("ascii", "ignore").decode()


# -- playing a life ---------------------------------------------------------------------------


class _Player:
    """Plays one life from its start to `now`, appending the steps to the story."""

    def __init__(self, *, rng: random.Random, now: datetime, story: Story,
                 names: _Names) -> None:
        self.rng, self.now, self.story, self.names = rng, now, story, names
        self.sub: DemoSubscription | None = None
        self.provider = ""
        self.last_at: datetime | None = None
        # Braintree: changes made since the last charge, which the next charge will show.
        self.pending: dict = {}

    # Each step is strictly later than the one before it: versions increase with time.
    def emit(self, kind: str, at: datetime, *, source: str = "api", **changes) -> bool:
        at = at.replace(microsecond=0)  # providers send whole seconds
        if self.last_at is not None and at <= self.last_at:
            at = self.last_at + timedelta(seconds=1)
        if at > self.now:
            return False
        self.last_at = at
        self.sub = replace(self.sub, **changes)
        self.story.steps.append(Step(at=at, kind=kind, provider=self.provider,
                                     customer=self.sub.customer, subscription=self.sub,
                                     source=source))
        return True

    def billed_at(self, boundary: datetime) -> datetime:
        """When a term starting at `boundary` is billed: Chargebee at the boundary itself,
        Braintree (whose periods are whole days) a few hours into the billing day."""
        if self.provider == CHARGEBEE:
            return boundary
        return boundary + timedelta(hours=self.rng.randrange(1, 9))

    def new_subscription(self, life: Life, customer: DemoCustomer, at: datetime) -> None:
        ident = self.names.token() if life.provider == CHARGEBEE else self.names.braintree_id()
        self.sub = DemoSubscription(id=ident, customer=customer,
                                price=Price(life.tier, life.currency, life.period_months),
                                seats=life.seats, status="active", created_at=at,
                                contract=life.contract)
        self.story.subscriptions += 1

    def charge(self, at: datetime) -> tuple[Charge, ...]:
        charge = Charge(id=self.names.braintree_id() + "x", amount=self.sub.amount, at=at)
        return (*self.sub.charges, charge)[-3:]

    def history(self, status: str, at: datetime, source: str = "api"
                ) -> tuple[StatusChange, ...]:
        change = StatusChange(status=status, at=at, source=source, price=self.sub.amount)
        return (*self.sub.history, change)[-6:]

    def term(self, start: datetime, cycle: int) -> dict:
        return {"term_start": start, "term_end": add_months(start, self.sub.price.period_months),
                "cycle": cycle}

    def play(self, life: Life, customer: DemoCustomer) -> None:
        self.provider = life.provider
        if life.provider == CHARGEBEE:
            self.story.steps.append(Step(at=customer.created_at, kind="customer_created",
                                         provider=CHARGEBEE, customer=customer,
                                         source="hosted_page"))
        self.new_subscription(life, customer, life.start)
        start = life.start
        if life.trial:
            trial_end = start + timedelta(days=TRIAL_DAYS)
            self.sub = replace(self.sub, status="trial", trial_start=start, trial_end=trial_end,
                               term_start=start, term_end=trial_end)
            if life.provider == CHARGEBEE:
                self.emit("created", start, source="hosted_page")
            if trial_end > self.now:
                return
            if life.trial == "lapse":
                # Braintree is not told about a trial that never billed: nothing to send.
                if life.provider == CHARGEBEE:
                    self.emit("trial_lapsed", trial_end, source="scheduled_job",
                              status="cancelled", cancelled_at=trial_end, term_end=trial_end,
                              cancel_reason="no_card")
                return
            start = trial_end
            at = self.billed_at(start)
            self.sub = replace(self.sub, status="active", started_at=start,
                               **self.term(start, 1))
            self.emit("trial_converted", at, source="scheduled_job", charges=self.charge(at),
                      history=self.history("Active", at))
        else:
            at = self.billed_at(start)
            self.sub = replace(self.sub, started_at=start, **self.term(start, 1))
            self.emit("created", at, source="hosted_page", charges=self.charge(at),
                      history=self.history("Active", at))
        self.run_terms(life, actions=list(life.actions))

    def run_terms(self, life: Life, *, actions: list[Action]) -> None:
        term = 0
        while True:
            ending = self.run_term(term, [a for a in actions if a.term == term], life)
            if ending == "stop":
                return
            term_end = self.sub.term_end
            renew_at = self.billed_at(term_end)
            if renew_at > self.now:
                return
            if ending == "end_of_term":
                if self.provider == CHARGEBEE:
                    self.emit("cancelled", term_end, source="scheduled_job", status="cancelled",
                              cancelled_at=term_end)
                else:
                    self.emit("expired", renew_at, source="recurring", status="expired",
                              history=self.history("Expired", renew_at, "recurring"))
                self.maybe_reactivate(life, term_end)
                return
            term += 1
            self.renew([a for a in actions if a.term == term], at=renew_at)
            if self.sub.status in ("cancelled", "expired"):
                self.maybe_reactivate(life, self.sub.cancelled_at or renew_at)
                return

    def renew(self, actions: list[Action], *, at: datetime) -> None:
        start = self.sub.term_end
        pending, self.pending = self.pending, {}
        final = any(a.kind == "end_of_term" for a in actions) and self.provider == BRAINTREE
        fail = next((a for a in actions if a.kind == "fail"), None)
        changes = {**self.term(start, self.sub.cycle + 1), **pending}
        if final:
            changes.update(final_cycle=True, status="non_renewing")
        if fail is None:
            self.sub = replace(self.sub, **changes)
            self.emit("renewed", at, source="scheduled_job", charges=self.charge(at),
                      history=self.history("Active", at) if pending or final else
                      self.sub.history)
            return
        self.sub = replace(self.sub, **changes)
        if self.provider == CHARGEBEE:
            self.emit("renewed", at, source="scheduled_job")
        failed_at = at + timedelta(hours=2)
        self.emit("payment_failed", failed_at, source="scheduled_job", status="past_due",
                  dues=self.sub.amount, due_since=failed_at,
                  history=self.history("Past Due", failed_at, "recurring"))
        if fail.seats:
            paid_at = failed_at + timedelta(days=fail.seats, hours=3)
            self.emit("payment_recovered", paid_at, source="api",
                      status="non_renewing" if final else "active", dues=0, due_since=None,
                      charges=self.charge(paid_at), history=self.history("Active", paid_at))
            return
        gave_up = failed_at + timedelta(days=PAST_DUE_GRACE_DAYS)
        self.emit("cancelled", gave_up, source="scheduled_job", status="cancelled",
                  cancelled_at=gave_up, cancel_reason=NOT_PAID, cancel_source="recurring",
                  history=self.history("Canceled", gave_up, "recurring"))

    def run_term(self, term: int, actions: list[Action], life: Life) -> str:
        """Mid-term decisions; "stop" when the life ended, "end_of_term" when it will."""
        ending = ""
        for action in sorted((a for a in actions if a.kind != "fail"),
                             key=lambda a: a.fraction):
            length = self.sub.term_end - self.sub.term_start
            at = self.sub.term_start + length * action.fraction
            if at > self.now:
                break
            if action.kind in ("upgrade", "downgrade", "seats"):
                self.change(action, at)
            elif action.kind == "cancel":
                source = self.rng.choice(("api", "control_panel"))
                if self.emit("cancelled", at, source="admin_console", status="cancelled",
                             cancelled_at=at, cancel_reason=action.reason,
                             cancel_source=source, history=self.history("Canceled", at, source)):
                    self.maybe_reactivate(life, at)
                return "stop"
            elif action.kind == "end_of_term" and self.provider == CHARGEBEE:
                self.emit("cancel_scheduled", at, source="admin_console",
                          status="non_renewing", cancelled_at=self.sub.term_end,
                          cancel_reason=action.reason)
                ending = "end_of_term"
        if self.sub.final_cycle:
            ending = "end_of_term"
        return ending

    def change(self, action: Action, at: datetime) -> None:
        tier, seats = self.sub.price.tier, self.sub.seats
        index = TIERS.index(tier)
        if action.kind == "upgrade":
            if index + 1 < len(TIERS):
                tier = TIERS[index + 1]
            else:
                seats += 5
        elif action.kind == "downgrade":
            if index > 0:
                tier = TIERS[index - 1]
            else:
                seats = max(1, seats - 1)
        else:
            seats = max(1, seats + action.seats)
        if (tier, seats) == (self.sub.price.tier, self.sub.seats):
            return
        price = replace(self.sub.price, tier=tier)
        if self.provider == CHARGEBEE:
            self.emit("changed", at, source="admin_console", price=price, seats=seats)
        else:
            # Braintree sends no notification for an update; the next charge carries it.
            self.pending = {**self.pending, "price": price, "seats": seats}

    def maybe_reactivate(self, life: Life, ended_at: datetime) -> None:
        if not life.reactivate_after_days or self.sub.cancel_reason == NOT_PAID:
            return
        at = ended_at + timedelta(days=life.reactivate_after_days)
        if at > self.now:
            return
        again = replace(life, actions=(), reactivate_after_days=0)
        if self.provider == CHARGEBEE:
            self.sub = replace(self.sub, status="active", cancelled_at=None, cancel_reason="",
                               dues=0, due_since=None, started_at=at, **self.term(at, 1))
            self.emit("reactivated", at, source="admin_console")
        else:
            # A cancelled Braintree subscription stays cancelled: the customer starts anew.
            start = at.replace(hour=0, minute=0, second=0, microsecond=0)
            self.last_at, self.pending = None, {}
            self.new_subscription(again, self.sub.customer, start)
            self.sub = replace(self.sub, started_at=start, **self.term(start, 1))
            at = self.billed_at(start)
            self.emit("created", at, charges=self.charge(at), history=self.history("Active", at))
        self.run_terms(again, actions=[])
