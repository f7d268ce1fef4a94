"""Who may see and do what on the dashboard.

Every page needs a logged-in staff user (LoginRequiredMiddleware sends anonymous visitors to
the login page; a logged-in non-staff user gets 403). Actions change state, so they also need
a model permission, are POST only (CSRF-protected like every form), and are logged with the
acting user.
"""

from __future__ import annotations

import logging
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.views.decorators.http import require_POST

audit = logging.getLogger("subsync.audit")

# The permission each kind of action needs (superusers have them all).
REPLAY_EVENTS = "billing.change_webhookevent"
CHANGE_SYNC = "crm.change_contractsync"


def staff_required(view):
    """A dashboard page: staff only."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_active or not request.user.is_staff:
            raise PermissionDenied("The dashboard is for staff accounts.")
        return view(request, *args, **kwargs)

    return wrapper


def action(permission: str):
    """A dashboard action: POST, staff, `permission`; the view logs what it did with `log`."""

    def decorate(view):
        @require_POST
        @staff_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.has_perm(permission):
                raise PermissionDenied(f"This action needs the {permission} permission.")
            return view(request, *args, **kwargs)

        wrapper.permission = permission
        return wrapper

    return decorate


def log_action(request, name: str, **details) -> None:
    """One audit line per action: who, what, on which ids (never secrets)."""
    audit.info("dashboard action %s by %s", name, request.user.get_username(),
               extra={"action": name, "user": request.user.get_username(), **details})
