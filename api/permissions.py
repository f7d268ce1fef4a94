"""Who may read and who may act: the dashboard's rules (dashboard.access), for the API.

Reading needs an active staff account; an action needs, in addition, the same model permission
as the dashboard's button for it (REPLAY_EVENTS, CHANGE_SYNC).
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from dashboard.access import CHANGE_SYNC, REPLAY_EVENTS

__all__ = ["CHANGE_SYNC", "REPLAY_EVENTS", "IsStaff", "MayAct"]


class IsStaff(BasePermission):
    message = "The API is for staff accounts."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff)


class MayAct(BasePermission):
    """The view's `action_permission`, e.g. crm.change_contractsync (superusers have all)."""

    def has_permission(self, request, view) -> bool:
        permission = view.action_permission
        self.message = f"This action needs the {permission} permission."
        return request.user.has_perm(permission)
