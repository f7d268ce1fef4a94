"""The dashboard's own login page, in its look; the admin keeps its login at /admin/login/."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.utils.decorators import method_decorator


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    template_name = "dashboard/login.html"
    redirect_authenticated_user = False


class LogoutView(auth_views.LogoutView):
    next_page = "dashboard:login"
