"""API tokens: how an integration signs in to the ticket API as a person."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk.text import OneLineCharField


def api_token_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the ticket API, for an agent or an integration's user.

    Only the SHA-256 of the key is stored: the key is shown once, when the token is created in
    the admin, and a leaked database does not leak working keys. Revoked tokens stay listed
    (with who created them and when they were last used) so an audit can follow them.
    """

    KEY_PREFIX = "hd_"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("user"),
    )
    name = OneLineCharField(
        _("name"), max_length=100, help_text=_("What uses it, e.g. 'CRM sync'.")
    )
    # The first characters of the key, to recognise it in logs and lists.
    prefix = models.CharField(_("prefix"), max_length=16, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def key_new(cls) -> str:
        return cls.KEY_PREFIX + secrets.token_urlsafe(32)
