"""`python -m subsync.first_admin`: create the first superuser, once, for `make run`.

Run as its own process by subsync.run (the settings are those of the run), it makes the
password itself and prints it once: it is never on a command line, where `ps` would show it
to every local user, and never stored in clear. Prints nothing when a superuser exists.
"""

from __future__ import annotations

import os
import secrets


def ensure_first_admin() -> str:
    """The line to show the operator, or "" when there already is a superuser."""
    from django.contrib.auth import get_user_model

    users = get_user_model()
    if users.objects.filter(is_superuser=True).exists():
        return ""
    password = secrets.token_urlsafe(12)
    users.objects.create_superuser("admin", "admin@localhost", password)
    return (f"created the first admin account: user 'admin', password '{password}' "
            "(shown only this once; change it in /admin/)")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "subsync.settings")
    import django

    django.setup()
    message = ensure_first_admin()
    if message:
        print(message, flush=True)
