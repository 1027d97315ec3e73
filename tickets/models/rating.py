"""The customer's satisfaction rating of a solved ticket: good or bad, with a comment."""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk.text import PlainTextField
from tickets.models.ticket import Ticket

# A rating may be given, and changed, for this long after the ticket was solved; the signed
# links in the e-mails expire with it (tickets.services.satisfaction).
RATING_WINDOW = timedelta(days=14)


class RatingScore(models.TextChoices):
    GOOD = "good", _("Good")
    BAD = "bad", _("Bad")


class RatingSource(models.TextChoices):
    STATUS_PAGE = "status_page", _("Status page")
    EMAIL = "email", _("E-mail link")
    API = "api", _("API")


class TicketRating(models.Model):
    """One current rating per ticket (the one-to-one's unique index): rating again replaces
    it, and the ticket's history keeps every change as an event."""

    Score = RatingScore
    Source = RatingSource

    ticket = models.OneToOneField(
        Ticket, on_delete=models.CASCADE, related_name="rating", verbose_name=_("ticket")
    )
    score = models.CharField(_("rating"), max_length=8, choices=RatingScore.choices)
    comment = PlainTextField(_("comment"), blank=True)
    source = models.CharField(_("given on"), max_length=16, choices=RatingSource.choices)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("satisfaction rating")
        verbose_name_plural = _("satisfaction ratings")
        constraints = [
            models.CheckConstraint(
                condition=Q(score__in=RatingScore.values), name="ticket_rating_score_known"
            ),
            models.CheckConstraint(
                condition=Q(source__in=RatingSource.values), name="ticket_rating_source_known"
            ),
        ]
        indexes = [
            # The overview's share of good ratings over a period, and its latest bad comments
            # (tickets.selectors.satisfaction_summary): one range scan of the period.
            models.Index(fields=["updated_at", "score"], name="ticket_rating_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.score}"
