"""What the demo company sells, and the names of who buys it.

Three per-seat plans, each billed monthly or yearly (a year costs ten months), priced per
currency. Chargebee lists them as item prices (`team-EUR-Yearly`), Braintree as one plan per
currency and cycle (`team_yearly_eur`) whose price is the first seat; further seats are the
`extra_seat` add-on, as Braintree merchants usually model seats.
"""

from __future__ import annotations

from dataclasses import dataclass

TIERS = ("starter", "team", "business")
CURRENCIES = ("USD", "EUR", "GBP")
# Minor units per seat per month.
_MONTHLY_SEAT_PRICE = {
    "starter": {"USD": 1900, "EUR": 1900, "GBP": 1500},
    "team": {"USD": 4900, "EUR": 4500, "GBP": 3900},
    "business": {"USD": 9900, "EUR": 9500, "GBP": 7900},
}
YEARLY_MONTHS_CHARGED = 10  # two months free on a yearly plan
SEATS = {"starter": (1, 5), "team": (3, 25), "business": (10, 80)}
EXTRA_SEAT_ADDON = "extra_seat"


@dataclass(frozen=True)
class Price:
    tier: str
    currency: str
    period_months: int  # 1 or 12

    @property
    def per_seat(self) -> int:
        """Minor units per seat per billing cycle."""
        monthly = _MONTHLY_SEAT_PRICE[self.tier][self.currency]
        return monthly if self.period_months == 1 else monthly * YEARLY_MONTHS_CHARGED

    @property
    def cadence(self) -> str:
        return "monthly" if self.period_months == 1 else "yearly"

    @property
    def chargebee_item_price_id(self) -> str:
        return f"{self.tier}-{self.currency}-{self.cadence.capitalize()}"

    @property
    def braintree_plan_id(self) -> str:
        return f"{self.tier}_{self.cadence}_{self.currency.lower()}"

    @property
    def name(self) -> str:
        return f"{self.tier.capitalize()} ({self.cadence}, {self.currency})"


def all_prices() -> list[Price]:
    return [Price(tier, currency, months) for tier in TIERS for currency in CURRENCIES
            for months in (1, 12)]


def braintree_merchant_account(currency: str) -> str:
    return f"demo_{currency.lower()}"


FIRST_NAMES = (
    "Ada", "Bruno", "Chloé", "Dev", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemi",
    "Liam", "Maya", "Nils", "Olu", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Viktor",
    "Wen", "Ximena", "Yusuf", "Zoë",
)
LAST_NAMES = (
    "Abbott", "Berger", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ito",
    "Jansen", "Kowalski", "Lindqvist", "Moreau", "Novak", "O'Brien", "Patel", "Quist", "Rossi",
    "Schmidt", "Tanaka", "Ueda", "Varga", "Walsh", "Yilmaz", "Zimmermann",
)
COMPANY_WORDS = (
    "Northwind", "Bluefin", "Copperleaf", "Driftwood", "Evergreen", "Foxglove", "Granite",
    "Harbor", "Ironbark", "Juniper", "Kestrel", "Lumen", "Meridian", "Nimbus", "Oakridge",
    "Pinnacle", "Quarry", "Riverstone", "Saffron", "Tidewater", "Umber", "Vantage", "Willow",
    "Zephyr",
)
COMPANY_KINDS = (
    "Analytics", "Logistics", "Studio", "Labs", "Health", "Robotics", "Media", "Foods",
    "Energy", "Legal", "Travel", "Systems",
)
COMPANY_SUFFIX = {"USD": "Inc.", "EUR": "GmbH", "GBP": "Ltd"}
# Chargebee cancel_reason_code values a site would configure; "" is a cancellation without one.
CANCEL_REASONS = ("Too expensive", "Missing features", "Switched to competitor",
                  "Company closed", "")
