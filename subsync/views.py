from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from subsync import health


@login_not_required
@require_GET
def healthz(request):
    """200 when the database and the broker answer, 503 naming the failing part otherwise."""
    checks = {"database": health.check_database(), "broker": health.check_broker()}
    ok = all(value == "ok" for value in checks.values())
    return JsonResponse(checks, status=200 if ok else 503)
