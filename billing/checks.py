"""System checks: say at start-up which providers' webhooks would be refused, and why.

A provider whose webhook settings are missing gets 401/403 for every delivery, retries for a
day or so and gives up, so its events are lost without anyone noticing. `manage.py check`,
`migrate` and `make run` print these warnings. A deployment that uses only one provider can
silence the other's with `SILENCED_SYSTEM_CHECKS` (ids below).
"""

from __future__ import annotations

from django.core import checks

from billing.selectors.configuration import webhook_configuration

CHECK_IDS = {"chargebee": "billing.W001", "braintree": "billing.W002"}


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
