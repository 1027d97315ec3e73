"""E-mails received for tickets (tickets.services.inbound_email): each one once, by its
Message-ID, with its raw source and what became of it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tickets.models.ticket import Ticket, TicketEvent


class InboundEmail(models.Model):
    """One received e-mail. The unique Message-ID is what makes a second delivery of the same
    message (a provider's retry, an IMAP message fetched by two polls) a no-op: the second
    insert fails on the index and the first row's outcome is the answer."""

    class Channel(models.TextChoices):
        WEBHOOK = "webhook", _("Provider webhook")
        IMAP = "imap", _("IMAP mailbox")
        # manage.py receive_email: a mail server's pipe, or a developer's .eml file.
        PIPE = "pipe", _("Handed to receive_email")

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        REFUSED = "refused", _("Refused")

    class Reason(models.TextChoices):
        NONE = "", _("Not refused")
        NO_TOKEN = "no_token", _("No reply address of ours")
        FORGED_TOKEN = "forged_token", _("Forged reply address")
        UNKNOWN_TICKET = "unknown_ticket", _("Unknown ticket")
        AUTO_REPLY = "auto_reply", _("Automatic reply")
        LOOP = "loop", _("Sent by the helpdesk itself")
        SENDER_MISMATCH = "sender_mismatch", _("Sender does not match the reply address")
        NOT_PERMITTED = "not_permitted", _("Sender may not work the ticket")
        CLOSED = "closed", _("Ticket closed for replies")
        EMPTY = "empty", _("Nothing left after quotes and signature")
        TOO_MANY = "too_many", _("Too many e-mails from this sender")

    # Without angle brackets. A message without one gets "sha256:<digest of its source>", so
    # the same bytes delivered twice still match.
    message_id = models.CharField(_("Message-ID"), max_length=255, unique=True)
    channel = models.CharField(_("received by"), max_length=16, choices=Channel.choices)
    # Lower-cased address part of From.
    sender = models.CharField(_("sender"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    # The message as received, quotes, signature and attachments included.
    raw = models.BinaryField(_("raw message"))
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    reason = models.CharField(
        _("reason"), max_length=32, choices=Reason.choices, blank=True, default=""
    )
    ticket = models.ForeignKey(
        Ticket,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbound_emails",
        verbose_name=_("ticket"),
    )
    # The customer message or agent reply it became.
    event = models.OneToOneField(
        TicketEvent,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbound_email",
        verbose_name=_("event"),
    )
    # The agent whose reply address it came to, when it was one.
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("agent"),
    )

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("inbound e-mail")
        verbose_name_plural = _("inbound e-mails")
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome__in=["accepted", "refused"]), name="inbound_email_outcome_known"
            ),
            models.CheckConstraint(
                condition=Q(outcome="accepted", reason="") | Q(outcome="refused") & ~Q(reason=""),
                name="inbound_email_refusal_has_reason",
            ),
        ]
        indexes = [
            # The per-sender limit (inbound_email_receive): one sender's e-mails in the window.
            models.Index(fields=["sender", "received_at"], name="inbound_email_sender_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} ({self.outcome})"
