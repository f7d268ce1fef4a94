"""What the webhook benchmark sends: deliveries from one or more provider generators, merged.

A generator knows one provider's webhook format and authentication; it returns deliveries in
the order the provider would create them. `plan` merges generators by share, delivers a little
out of order (providers do not promise order) and re-sends some deliveries (providers retry),
which is what the intake has to cope with. Adding a provider is one more generator in the list.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Delivery:
    """One HTTP POST, and what the app should make of it.

    `event_id` is the id the app stores the event under (its dedupe key); `subscription_id` and
    `version` are set when the event carries a subscription snapshot, so the benchmark can check
    that the newest version won.
    """

    provider: str
    path: str
    headers: dict[str, str]
    body: bytes
    event_id: str
    subscription_id: str | None = None
    version: int | None = None


class Generator(Protocol):
    provider: str

    def make(self, count: int) -> list[Delivery]:
        """`count` distinct deliveries, in the order the provider created them."""
        ...


@dataclass(frozen=True)
class Plan:
    deliveries: list[Delivery]  # in sending order, duplicates included
    distinct: int

    @property
    def duplicates(self) -> int:
        return len(self.deliveries) - self.distinct


def plan(
    *, total: int, generators: list[tuple[float, Generator]], duplicate_share: float,
    rng: random.Random, disorder: int = 64,
) -> Plan:
    """`total` deliveries: each generator's share of the distinct ones, then re-sends.

    `disorder` is how far (in positions) a delivery may move from its creation order.
    """
    distinct = max(1, round(total * (1 - duplicate_share)))
    weight = sum(share for share, _ in generators)
    keyed: list[tuple[float, Delivery]] = []
    remaining = distinct
    for index, (share, generator) in enumerate(generators):
        count = remaining if index == len(generators) - 1 else round(distinct * share / weight)
        remaining -= count
        made = generator.make(count)
        # Spread each provider's deliveries over the whole run, in creation order, then blur
        # that order by up to `disorder` positions.
        for position, delivery in enumerate(made):
            key = (position + 0.5) / len(made) * distinct + rng.uniform(0, disorder)
            keyed.append((key, delivery))
    keyed.sort(key=lambda pair: pair[0])
    ordered = [delivery for _, delivery in keyed]
    # Re-sends: a copy of an earlier delivery, arriving later (a provider's retry).
    for _ in range(total - distinct):
        original = rng.randrange(len(ordered))
        ordered.insert(rng.randint(original + 1, len(ordered)), ordered[original])
    return Plan(deliveries=ordered, distinct=distinct)
