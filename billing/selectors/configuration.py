"""Which providers can receive webhooks, and what to set for those that cannot.

A provider whose webhook settings are missing refuses every delivery (Chargebee with 401,
Braintree with 403), and the provider then retries for a day or so and gives up: events are
lost without anyone noticing. /healthz stays about the database and the broker, so this is
where the dashboard (and anyone else) learns that a provider is not wired up yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from billing.providers.braintree.client import configuration_problem


@dataclass(frozen=True)
class WebhookConfiguration:
    provider: str
    path: str  # the URL path to configure at the provider
    configured: bool
    settings_to_set: tuple[str, ...] = ()
    message: str = ""  # what is wrong and what to do; "" when configured


def chargebee_webhook_configuration() -> WebhookConfiguration:
    names = ("CHARGEBEE_WEBHOOK_USERNAME", "CHARGEBEE_WEBHOOK_PASSWORD")
    missing = tuple(name for name in names if not getattr(settings, name, ""))
    return WebhookConfiguration(
        provider="chargebee", path="/webhooks/chargebee/", configured=not missing,
        settings_to_set=missing,
        message=(f"Chargebee webhooks are refused: set {', '.join(missing)}, and the same "
                 "credentials on the Chargebee webhook" if missing else ""),
    )


def braintree_webhook_configuration() -> WebhookConfiguration:
    problem = configuration_problem()
    return WebhookConfiguration(
        provider="braintree", path="/webhooks/braintree/", configured=problem is None,
        settings_to_set=problem.settings_to_set if problem else (),
        message=f"Braintree webhooks are refused. {problem}" if problem else "",
    )


def webhook_configuration() -> list[WebhookConfiguration]:
    """One entry per provider, in a stable order."""
    return [chargebee_webhook_configuration(), braintree_webhook_configuration()]
