"""`python manage.py create_api_token USERNAME [--name NAME]`: a new API token for a user.

Stable interface: the key is printed once, alone on the LAST line of standard output, so that
scripts can take it with `| tail -n 1`. Only its hash is stored; it cannot be shown again.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from api.tokens import create_token


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print its key, once, on the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="What the token is for.")

    def handle(self, *args, username: str, name: str, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        token, key = create_token(user=user, name=name)
        notes = []
        if not user.is_staff:
            notes.append(f"Note: {username} is not staff: the API will refuse this token "
                         "until the account is.")
        self.stdout.write(f"API token {token.prefix}… created for {username}. "
                          "The key is shown only this once:")
        for note in notes:
            self.stdout.write(note)
        self.stdout.write(key)
