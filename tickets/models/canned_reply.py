"""Canned replies: an agent's ready answers, per queue and language, with placeholders that
tickets.services.canned_replies fills in for one ticket."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guides.markdown import render_markdown
from guides.models import Language, text_direction
from helpdesk.text import OneLineCharField, PlainTextField
from tickets.models.routing import Queue
from tickets.models.ticket import STAFF_MESSAGE_MAX_LENGTH, TicketStatus

# The statuses a canned reply may move a ticket to: those some transition leads to (the
# workflow itself decides, when it is applied, whether this ticket may go there).
CANNED_REPLY_STATUSES = (TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.SOLVED)


class CannedReply(models.Model):
    # Empty: offered in every queue.
    queue = models.ForeignKey(
        Queue,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="canned_replies",
        verbose_name=_("queue"),
        help_text=_("Leave empty to offer it in every queue."),
    )
    language = models.CharField(_("language"), max_length=8, choices=Language.choices)
    title = OneLineCharField(_("title"), max_length=200)
    body = PlainTextField(
        _("text"),
        max_length=STAFF_MESSAGE_MAX_LENGTH,
        help_text=_(
            "Markdown. Placeholders: {customer_name}, {reference}, {status_link}, "
            "{agent_name}, {guide:ID} and {step:ID#POSITION}."
        ),
    )
    status_after = models.CharField(
        _("then set status"),
        max_length=16,
        choices=[(s.value, s.label) for s in CANNED_REPLY_STATUSES],
        blank=True,
    )
    internal_note = PlainTextField(
        _("internal note"),
        blank=True,
        max_length=STAFF_MESSAGE_MAX_LENGTH,
        help_text=_("Added to the ticket for the staff when the reply is used."),
    )
    usage_count = models.PositiveIntegerField(_("times used"), default=0, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["title", "pk"]
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        constraints = [
            # One title per queue and language; the NULL queue ("every queue") counts as one
            # queue of its own (Coalesce), which a plain unique constraint would not do.
            models.UniqueConstraint(
                Coalesce("queue", 0), "language", "title", name="canned_reply_title_unique"
            ),
            models.CheckConstraint(
                condition=Q(status_after__in=["", *CANNED_REPLY_STATUSES]),
                name="canned_reply_status_known",
            ),
            models.CheckConstraint(
                condition=Q(language__in=Language.values), name="canned_reply_language_known"
            ),
        ]
        indexes = [
            # The work page's picker: the active replies of one language (its queue's and the
            # ones for every queue).
            models.Index(
                fields=["language", "queue"],
                condition=Q(is_active=True),
                name="canned_reply_picker_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def text_direction(self) -> str:
        return text_direction(self.language)

    @property
    def body_html(self) -> str:
        return render_markdown(self.body)
