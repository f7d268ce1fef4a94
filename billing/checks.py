"""System checks: say at start-up which providers' webhooks would be refused, and why.

A provider whose webhook settings are missing gets 401/403 for every delivery, retries for a
day or so and gives up, so its events are lost without anyone noticing. `manage.py check`,
`migrate` and `make run` print these warnings. A deployment that uses only one provider can
silence the other's with `SILENCED_SYSTEM_CHECKS` (ids below).
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks

from billing.selectors.configuration import webhook_configuration

CHECK_IDS = {"chargebee": "billing.W001", "braintree": "billing.W002"}
# Chargebee's Basic auth password is the only proof that a delivery comes from Chargebee.
MIN_WEBHOOK_PASSWORD_LENGTH = 16


def webhook_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return [
        checks.Warning(
            entry.message,
            hint=(f"Until then every delivery to {entry.path} is refused. Using only the "
                  f"other provider? Add '{CHECK_IDS[entry.provider]}' to "
                  "SILENCED_SYSTEM_CHECKS."),
            id=CHECK_IDS[entry.provider],
        )
        for entry in webhook_configuration()
        if not entry.configured
    ]


def verify_events_needs_the_api(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """CHARGEBEE_VERIFY_EVENTS fetches every event from the API: without API keys, every
    Chargebee event would fail."""
    if not settings.CHARGEBEE_VERIFY_EVENTS or (settings.CHARGEBEE_SITE
                                                 and settings.CHARGEBEE_API_KEY):
        return []
    return [checks.Error(
        "CHARGEBEE_VERIFY_EVENTS=true needs CHARGEBEE_SITE and CHARGEBEE_API_KEY: every "
        "event is fetched from Chargebee's API before it is applied.",
        hint="Set both (a read-only API key is enough), or CHARGEBEE_VERIFY_EVENTS=false.",
        id="billing.E002",
    )]


def webhook_password_length(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """An error (the app does not start) for a guessable Chargebee webhook password."""
    password = settings.CHARGEBEE_WEBHOOK_PASSWORD
    if not password or len(password) >= MIN_WEBHOOK_PASSWORD_LENGTH:
        return []
    return [checks.Error(
        f"CHARGEBEE_WEBHOOK_PASSWORD is {len(password)} characters long; at least "
        f"{MIN_WEBHOOK_PASSWORD_LENGTH} are required.",
        hint=("It is the only proof that a webhook comes from Chargebee. Set a long random "
              "value (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(24))'`) "
              "here and in Chargebee's webhook settings."),
        id="billing.E001",
    )]
