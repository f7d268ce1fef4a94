"""How to reach and log in to the Salesforce org, read once from Django settings.

Kept as a frozen value (hashable, comparable) so that clients can be cached per
configuration, and with the secrets out of its repr so it can never leak into a log line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

FLOWS = ("client_credentials", "jwt", "password")

# What each login flow needs, by setting name.
_REQUIRED = {
    "client_credentials": ("SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET"),
    "jwt": ("SALESFORCE_CLIENT_ID", "SALESFORCE_USERNAME", "SALESFORCE_PRIVATE_KEY_FILE"),
    "password": (
        "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET", "SALESFORCE_USERNAME",
        "SALESFORCE_PASSWORD",
    ),
}


@dataclass(frozen=True)
class SalesforceConfig:
    login_url: str
    auth_flow: str = "client_credentials"
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    username: str = ""
    password: str = field(default="", repr=False)
    private_key_file: str = ""
    api_version: str = "62.0"
    ca_bundle: str = ""
    timeout: float = 30.0
    # Instance hosts trusted besides Salesforce's domains (crm.salesforce.endpoints).
    instance_hosts: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls) -> SalesforceConfig:
        return cls(
            login_url=settings.SALESFORCE_LOGIN_URL.rstrip("/"),
            auth_flow=(settings.SALESFORCE_AUTH_FLOW or "client_credentials").strip().lower(),
            client_id=settings.SALESFORCE_CLIENT_ID,
            client_secret=settings.SALESFORCE_CLIENT_SECRET,
            username=settings.SALESFORCE_USERNAME,
            password=settings.SALESFORCE_PASSWORD,
            private_key_file=settings.SALESFORCE_PRIVATE_KEY_FILE,
            api_version=str(settings.SALESFORCE_API_VERSION).lstrip("vV"),
            ca_bundle=settings.SALESFORCE_CA_BUNDLE,
            timeout=float(getattr(settings, "SALESFORCE_TIMEOUT", 30)),
            instance_hosts=tuple(getattr(settings, "SALESFORCE_INSTANCE_HOSTS", ())),
        )

    def missing(self) -> list[str]:
        """Settings this flow needs that are empty (an unknown flow is reported as such)."""
        if self.auth_flow not in FLOWS:
            return [f"SALESFORCE_AUTH_FLOW (unknown flow {self.auth_flow!r})"]
        values = {
            "SALESFORCE_CLIENT_ID": self.client_id,
            "SALESFORCE_CLIENT_SECRET": self.client_secret,
            "SALESFORCE_USERNAME": self.username,
            "SALESFORCE_PASSWORD": self.password,
            "SALESFORCE_PRIVATE_KEY_FILE": self.private_key_file,
        }
        missing = [name for name in _REQUIRED[self.auth_flow] if not values[name]]
        if not self.login_url:
            missing.insert(0, "SALESFORCE_LOGIN_URL")
        return missing

    @property
    def configured(self) -> bool:
        return not self.missing()
