"""Files that travel with messages: a customer's screenshot, an agent's log or PDF.

The bytes live in the "attachments" storage (settings.STORAGES: the file system under the var
dir, or an S3-compatible bucket), under a random name that says nothing about the ticket or
the upload; everything a reader is shown (name, type, size) is kept here. Only
tickets.views.attachment_download serves them, behind a short-lived signed link.
"""

from __future__ import annotations

from django.core.files.storage import Storage, storages
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guides.models import Attempt
from tickets.models.ticket import Ticket, TicketEvent


def attachments_storage() -> Storage:
    # A callable, so that the migration names no backend and tests may swap the alias.
    return storages["attachments"]


class Attachment(models.Model):
    # Set together, once the message exists. A file sent with a request for a person is first
    # held by its attempt (the ticket is made later, by a worker), then moved to the ticket's
    # first message by tickets.services.escalation in the transaction that makes the ticket.
    ticket = models.ForeignKey(
        Ticket,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="attachments",
        verbose_name=_("ticket"),
    )
    event = models.ForeignKey(
        TicketEvent,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="attachments",
        verbose_name=_("message"),
    )
    attempt = models.ForeignKey(
        Attempt,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        # attachment_waiting_idx below serves the one lookup by attempt.
        db_index=False,
        related_name="attachments",
        verbose_name=_("attempt"),
    )
    # The storage's name: random (tickets.services.attachments), never the uploaded name.
    file = models.FileField(_("file"), storage=attachments_storage, max_length=200)
    # The uploaded name, cleaned, with the extension of what the content is.
    name = models.CharField(_("name"), max_length=120)
    # Sniffed from the content, never taken from the name or the browser.
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        constraints = [
            models.CheckConstraint(
                condition=Q(event__isnull=False, ticket__isnull=False)
                | Q(event__isnull=True, ticket__isnull=True, attempt__isnull=False),
                name="attachment_has_owner",
            ),
        ]
        indexes = [
            # A request's files waiting for its ticket (tickets.services.escalation).
            models.Index(
                fields=["attempt"], condition=Q(event__isnull=True), name="attachment_waiting_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.name
