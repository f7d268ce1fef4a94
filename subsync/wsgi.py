"""WSGI config for subsync, served as `subsync.wsgi:application`.

Django's application, with the webhook fast path in front of it: a POST to an exact webhook
path goes straight to its receiver, skipping the middleware (billing.webhooks.fast_path says
why and what it keeps).
"""

import os

from django.core.wsgi import get_wsgi_application

from billing.webhooks.fast_path import WebhookFastPath

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "subsync.settings")

application = WebhookFastPath(get_wsgi_application())
