"""Which Salesforce URLs we send credentials and customer data to.

The login request carries the client secret (or a signed assertion, or a password), and the
token endpoint's answer names the instance that every later call, with the session token and
customer data, goes to. Both must be HTTPS, and the instance must be Salesforce's: a token
endpoint that is not what it claims (a typo'd or hijacked SALESFORCE_LOGIN_URL, a proxy gone
wrong) must not be able to send our session anywhere it likes.

Trusted instance hosts: Salesforce's own domains, the host of SALESFORCE_LOGIN_URL itself (the
operator chose it: a My Domain URL, or the built-in emulator, which is its own instance), and
SALESFORCE_INSTANCE_HOSTS (for a proxy in front of Salesforce, or an emulator whose instance
host differs from its login host).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from crm.salesforce.errors import AUTH_FAILURE_BACKOFF_SECONDS, SalesforceError

SALESFORCE_DOMAINS = ("salesforce.com", "force.com", "cloudforce.com", "database.com",
                      "salesforce.mil")


def _refused(message: str, *, code: str) -> SalesforceError:
    """Settings must change before this can work: retry only after a long while."""
    return SalesforceError(message, code=code, permanent=False,
                           retry_after=AUTH_FAILURE_BACKOFF_SECONDS)


def check_login_url(login_url: str) -> None:
    """Refuse to send credentials anywhere but an https:// URL."""
    if urlsplit(login_url).scheme.lower() != "https" or not urlsplit(login_url).hostname:
        raise _refused(f"SALESFORCE_LOGIN_URL must be an https:// URL, not {login_url!r}",
                       code="INSECURE_LOGIN_URL")


def host_trusted(host: str, *, login_url: str, extra_hosts: tuple[str, ...] = ()) -> bool:
    host = host.lower().rstrip(".")
    if any(host == domain or host.endswith("." + domain) for domain in SALESFORCE_DOMAINS):
        return True
    allowed = {(urlsplit(login_url).hostname or "").lower(), *(h.lower() for h in extra_hosts)}
    return host in allowed


def check_instance_url(instance_url: str, *, login_url: str,
                       extra_hosts: tuple[str, ...] = ()) -> None:
    """Refuse an instance_url (from the token endpoint) that is not HTTPS or not Salesforce's."""
    parts = urlsplit(instance_url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise _refused(f"the Salesforce login answered an instance_url that is not https: "
                       f"{instance_url!r}; not used", code="INSECURE_INSTANCE_URL")
    if not host_trusted(parts.hostname, login_url=login_url, extra_hosts=extra_hosts):
        raise _refused(
            f"the Salesforce login answered the instance host {parts.hostname!r}, which is not "
            f"a Salesforce domain; not used. If it is yours (a proxy), add it to "
            "SALESFORCE_INSTANCE_HOSTS.", code="UNTRUSTED_INSTANCE_URL")
