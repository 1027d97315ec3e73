"""The customer closes the loop: "it's solved", "I still need help", and the satisfaction
rating of a solved ticket, on the status page, from the e-mail's signed links, or through
the customer API. Each locks the ticket, changes it, and writes its event in one transaction,
like every other ticket service; the agents see the events in the ticket's history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.text import plain_text
from tickets.models import (
    OPEN_TICKET_STATUSES,
    RATING_WINDOW,
    RatingScore,
    RatingSource,
    Ticket,
    TicketEvent,
    TicketRating,
)
from tickets.services._common import _event, _ticket_locked
from tickets.services.exceptions import TicketClosedForReplies, TicketError, TicketStateRefusal
from tickets.services.workflow import ticket_customer_reply, ticket_transition


class RatingNotOpen(TicketStateRefusal):
    code = "rating_not_open"


# --- "it's solved" / "I still need help" -------------------------------------------------------


@transaction.atomic
def ticket_customer_solve(*, ticket: Ticket | int) -> Ticket:
    """The customer says the problem is gone: the ticket is solved (the assignee's capacity is
    freed and the clocks stop, as when an agent solves it), and its history says who did."""
    ticket = _ticket_locked(ticket)
    if ticket.status not in OPEN_TICKET_STATUSES:
        raise TicketStateRefusal(_("This request is already solved."))
    return ticket_transition(
        ticket=ticket, to_status=Ticket.Status.SOLVED, by_customer=True, tell_customer=False
    )


@transaction.atomic
def ticket_customer_still_needs_help(
    *, ticket: Ticket | int, message: str = "", now: datetime | None = None
) -> Ticket:
    """The customer says a solved ticket is not solved: it opens again (within the reopen
    window, as a reply would), with their message if they wrote one."""
    now = now or timezone.now()
    ticket = _ticket_locked(ticket)
    if not ticket.accepts_customer_replies(now=now):
        raise TicketClosedForReplies(
            _("This request is closed. If the problem is back, please send a new request.")
        )
    message = plain_text(message).strip()
    if ticket.status != Ticket.Status.SOLVED:
        # Open already: nothing to reopen, so only a message says anything. Refused for the
        # ticket's state (409), not the input: the same empty message reopens a solved one.
        if not message:
            raise TicketStateRefusal(
                _("Your request is still open: tell us what is still going wrong.")
            )
        ticket_customer_reply(ticket=ticket, body=message, now=now)
        return ticket
    if message:  # first, as a reply that reopens: the message, then the reopening
        _event(ticket, TicketEvent.Kind.CUSTOMER_MESSAGE, body=message, now=now)
    return ticket_transition(ticket=ticket, to_status=Ticket.Status.OPEN, by_customer=True)


# --- the satisfaction rating -------------------------------------------------------------------


def rating_open(ticket: Ticket, now: datetime | None = None) -> bool:
    """Whether the customer may rate the ticket, or change their rating: solved (or closed
    since) less than RATING_WINDOW ago."""
    if ticket.status not in (Ticket.Status.SOLVED, Ticket.Status.CLOSED):
        return False
    now = now or timezone.now()
    return ticket.solved_at is not None and now - ticket.solved_at <= RATING_WINDOW


@transaction.atomic
def ticket_rate(
    *,
    ticket: Ticket | int,
    score: str,
    comment: str = "",
    source: str = RatingSource.STATUS_PAGE,
    now: datetime | None = None,
) -> TicketRating:
    """Record the customer's rating of a solved ticket, or change it (one current rating per
    ticket). Rating the same again changes nothing, so a link followed twice is harmless; a
    change is an event in the ticket's history, with what it was before."""
    if score not in RatingScore.values:
        raise TicketError(_("Choose good or bad."), field="score")
    comment = plain_text(comment).strip()
    now = now or timezone.now()
    ticket = _ticket_locked(ticket)
    if not rating_open(ticket, now):
        if ticket.status in OPEN_TICKET_STATUSES:
            raise RatingNotOpen(_("You can rate the help you got once the request is solved."))
        raise RatingNotOpen(_("This request can no longer be rated."))
    rating = TicketRating.objects.filter(ticket=ticket).first()
    change: dict[str, Any] = {"score": score}
    if rating is None:
        rating = TicketRating.objects.create(
            ticket=ticket, score=score, comment=comment, source=source, created_at=now,
            updated_at=now,
        )  # fmt: skip
    elif (rating.score, rating.comment) == (score, comment):
        return rating
    else:
        change["from"] = rating.score
        rating.score, rating.comment, rating.source, rating.updated_at = (
            score, comment, source, now,
        )  # fmt: skip
        rating.save(update_fields=["score", "comment", "source", "updated_at"])
    if comment:
        change["note"] = comment
    _event(ticket, TicketEvent.Kind.RATED, change=change, now=now)
    return rating


# --- the signed links of the e-mails --------------------------------------------------------------

RATING_LINK_SALT = "tickets.rating-link"


def rating_link_token(*, ticket: Ticket, score: str) -> str:
    """The signed part of a one-click rating link: which ticket and which score, signed with
    the SECRET_KEY under its own salt (a status-link secret does not open it, nor it the
    status page) and timestamped: it expires with the rating window (rating_link_read)."""
    return signing.dumps([ticket.pk, ticket.status_key_version, score], salt=RATING_LINK_SALT)


class RatingLinkExpired(Exception):
    pass


def rating_link_read(token: str) -> tuple[Ticket, str] | None:
    """The ticket and score of a rating link; None when it was not ours or was changed (or its
    ticket is gone, or its status link was revoked since); RatingLinkExpired when it is
    older than the rating window."""
    try:
        ticket_id, key_version, score = signing.loads(
            token, salt=RATING_LINK_SALT, max_age=RATING_WINDOW
        )
    except signing.SignatureExpired as expired:
        raise RatingLinkExpired from expired
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if score not in RatingScore.values or not isinstance(ticket_id, int):
        return None
    ticket = (
        Ticket.objects.select_related("company", "guide__company", "rating")
        .filter(pk=ticket_id, status_key_version=key_version)
        .first()
    )
    return None if ticket is None else (ticket, score)
