"""API tokens: only a hash of each key is stored, so a database dump or the admin never
reveals one. The key is shown once, when it is created (api.tokens)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True,
                            help_text="What the token is for, e.g. 'BI export' or 'Slack bot'")
    prefix = models.CharField(max_length=16, editable=False,
                              help_text="The key's first characters, to recognise it")
    key_hash = models.CharField(max_length=64, unique=True, editable=False,
                                help_text="SHA-256 of the key, hex; the key itself is not kept")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API token"
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        label = f" ({self.name})" if self.name else ""
        return f"{self.prefix}…{label}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None
