from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from billing.selectors.configuration import webhook_configuration
from crm.salesforce.config import SalesforceConfig
from subsync import health


@login_not_required
@require_GET
def healthz(request):
    """200 when the database and the broker answer, 503 naming the failing part otherwise.

    It also says which providers' webhooks are refused for missing settings, naming the
    settings (never their values), and where Salesforce pushes go: "built-in emulator"
    (make run's stand-in: nothing reaches a real org), "configured", or what is missing.
    That does not change the status: the app itself is up, and a load balancer that took it
    out would refuse the other provider's webhooks too.
    """
    checks = {"database": health.check_database(), "broker": health.check_broker()}
    ok = all(value == "ok" for value in checks.values())
    webhooks = {
        entry.provider: "ok" if entry.configured
        else f"refused: needs {', '.join(entry.settings_to_set)}"
        for entry in webhook_configuration()
    }
    return JsonResponse({**checks, "webhooks": webhooks, "salesforce": _salesforce()},
                        status=200 if ok else 503)


def _salesforce() -> str:
    """From settings alone (as crm.selectors.salesforce_target decides, without its database
    read): /healthz must answer while the database is down."""
    if settings.SUBSYNC_SALESFORCE_EMULATOR:
        return "built-in emulator"
    missing = SalesforceConfig.from_settings().missing()
    return f"not configured: needs {', '.join(missing)}" if missing else "configured"
