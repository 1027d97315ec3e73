from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class IdempotencyRecord(models.Model):
    """The first answer to an API POST sent with an ``Idempotency-Key``, replayed to retries
    that send the same key (see helpdesk.idempotency).

    Neither the caller nor the credential it sent is stored: ``scope_hash`` is an HMAC of
    them, so a record tells whose it is only to someone who presents the same credential.
    """

    scope_hash = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    # SHA-256 of the method, the path and the body: a retry must send the same request.
    request_fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_headers = models.JSONField(default=dict)
    response_body = models.BinaryField(default=b"")
    # The purge task deletes by age (helpdesk.idempotency.idempotency_records_purge).
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            # One answer per key and caller; concurrent requests with one key wait on this
            # index, and the losers replay the winner's answer.
            models.UniqueConstraint(fields=["scope_hash", "key"], name="idempotency_key_once"),
        ]

    def __str__(self) -> str:
        return f"{self.key} → {self.status_code}"


class StaffPreference(models.Model):
    """What a staff member chose for themselves in the admin, kept with their account so it
    follows them to every device and every sign-in: for now, the admin's language.

    Read once at sign-in into the session (helpdesk.staff_language), not on every page: the
    admin's pages, the 1M-ticket changelist's included, keep their query count.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="staff_preference",
    )
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("staff preference")
        verbose_name_plural = _("staff preferences")
        constraints = [
            # Only a language the site is translated into: anything else would be shown as
            # English anyway, silently.
            models.CheckConstraint(
                condition=models.Q(language__in=[code for code, _name in settings.LANGUAGES]),
                name="staff_preference_language_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.language}"
