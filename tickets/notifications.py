"""E-mails of the escalation path: the customer's confirmation with the status link, the
agents' replies to the customer, the assignee's heads-up and the supervisors' breach alert.

The tasks in tickets.tasks call these with a ticket (or event) id after the transaction has
committed. Each returns True when an e-mail went to the backend and False when there is nobody
to write to. Backend failures (SMTP errors are OSErrors) propagate so the task retries them.

A task re-delivered after its worker died sends its e-mail again: a duplicate e-mail is the
price of never losing one, until the ticket records what was sent.

Every e-mail is written to one person and carries their reply token (tickets.reply_addresses):
a Reply-To on the inbound mailbox and threading headers, so that answering it by e-mail lands
in the ticket's thread (tickets.services.inbound_email) as that person.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import format_html

from helpdesk.limits import recipient_key
from helpdesk.text import one_line
from tickets import presentation
from tickets.models import RatingScore, Ticket, TicketEvent
from tickets.reply_addresses import reply_address, reply_token, threading_headers
from tickets.services.satisfaction import rating_link_token, rating_open

logger = logging.getLogger(__name__)

# RFC 3834: tells well-behaved auto-responders (out-of-office replies) not to answer, so an
# automatic reply never loops back into the helpdesk's mailbox.
AUTOMATED_HEADERS = {"Auto-Submitted": "auto-generated"}


def ticket_status_url(ticket: Ticket) -> str:
    """The customer's status link; whoever holds it can read the ticket's public thread."""
    path = reverse(
        "tickets:status", kwargs={"reference": ticket.reference, "token": ticket.status_token()}
    )
    return f"{settings.SITE_URL}{path}"


def rating_links(ticket: Ticket) -> dict[str, str]:
    """The one-click rating links of a solved ticket's e-mails, good and bad (signed, expiring:
    tickets.services.satisfaction); none while it may not be rated. They open a page that
    asks to confirm: a GET never records, as mail scanners fetch every link of a message."""
    if not rating_open(ticket):
        return {}
    return {
        score: settings.SITE_URL
        + reverse("tickets:rate", kwargs={"token": rating_link_token(ticket=ticket, score=score)})
        for score in RatingScore.values
    }


def ticket_admin_url(ticket: Ticket) -> str:
    return f"{settings.SITE_URL}{reverse('admin:tickets_ticket_change', args=[ticket.pk])}"


def _ticket(ticket_id: int) -> Ticket | None:
    ticket = (
        Ticket.objects.select_related("company", "queue", "assignee__user")
        .filter(pk=ticket_id)
        .first()
    )
    if ticket is None:
        # Deleted between the commit and the task: nothing to tell anyone, and no retry helps.
        logger.warning("Ticket %s no longer exists; no e-mail sent", ticket_id)
    return ticket


def _send(
    *,
    template: str,
    context: dict[str, Any],
    to: str,
    ticket: Ticket,
    agent_user_id: int | None = None,
    connection: BaseEmailBackend | None = None,
) -> None:
    """Render tickets/email/<template>_{subject,body}.txt and _body.html in the active
    language and send them as one multipart e-mail to ``to``: the ticket's customer, or the
    agent (or supervisor) with the user id ``agent_user_id``, whose reply token it carries.
    Through ``connection`` when given, else a connection of its own."""
    context = {**context, "ticket": ticket}
    token = reply_token(ticket_id=ticket.pk, agent_user_id=agent_user_id)
    address = reply_address(token)
    # The name in a greeting and the subject in a sentence must stay on their line. They
    # are stored on one line (helpdesk.text), but rows written before that rule may not be.
    name, subject = one_line(ticket.requester_name), one_line(ticket.subject)
    context = {
        **context,
        "requester_name": name,
        "subject": subject,
        # For the HTML bodies: the customer's words inside our translated sentences, each
        # in its own direction (an Arabic name in an English greeting, and back).
        "requester_name_isolated": format_html('<bdi dir="auto">{}</bdi>', name),
        "subject_isolated": format_html('<bdi dir="auto">{}</bdi>', subject),
    }
    _rendered_send(
        template=template, context=context, to=[to],
        reply_to=[address] if address else None,
        headers={**AUTOMATED_HEADERS, **threading_headers(ticket_id=ticket.pk, token=token)},
        connection=connection,
    )  # fmt: skip


def _rendered_send(
    *,
    template: str,
    context: dict[str, Any],
    to: list[str],
    headers: dict[str, str],
    reply_to: list[str] | None = None,
    connection: BaseEmailBackend | None = None,
) -> None:
    """Render tickets/email/<template>_{subject,body}.txt and _body.html in the active
    language and send them as one multipart e-mail."""
    subject = render_to_string(f"tickets/email/{template}_subject.txt", context)
    message = EmailMultiAlternatives(
        # Header values must be one line; the subject template may wrap.
        subject=" ".join(subject.split()),
        body=render_to_string(f"tickets/email/{template}_body.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        reply_to=reply_to,
        headers=headers,
        connection=connection,
    )
    message.attach_alternative(
        render_to_string(f"tickets/email/{template}_body.html", context), "text/html"
    )
    message.send()


def confirmations_in_window(emails: list[str]) -> Counter[str]:
    """How many confirmation e-mails each mailbox of ``emails`` (helpdesk.limits.recipient_key:
    case and plus tag ignored) was sent, or had withheld by the cap, in the last
    CONFIRMATION_EMAIL_WINDOW seconds; one query for them all.

    Counted in the database rather than in the cache: the tickets already record when their
    confirmation went out, so the count survives a cache flush or outage (a cache counter
    would fail open exactly when a flood meets a Redis restart) and needs no state of its own.
    The created_at bound lets the newest-tickets index narrow the rows to the window's; a
    confirmation the sweeper sends late for an older ticket is not counted, and that happens
    once per ticket after an outage, not at a client's will.
    """
    mailboxes = {recipient_key(email) for email in emails}
    if not mailboxes:
        return Counter()
    since = timezone.now() - timedelta(seconds=settings.CONFIRMATION_EMAIL_WINDOW)
    any_of = Q()
    for mailbox in mailboxes:
        local, _at, domain = mailbox.rpartition("@")
        any_of |= Q(requester_email__iexact=mailbox) | Q(
            requester_email__istartswith=f"{local}+", requester_email__iendswith=f"@{domain}"
        )
    sent_to = Ticket.objects.filter(
        any_of, created_at__gte=since, customer_notified_at__gte=since
    ).values_list("requester_email", flat=True)
    return Counter(recipient_key(address) for address in sent_to)


def customer_ticket_created_send(*, ticket_id: int) -> bool:
    """Tell the customer, in their language, that a person has their request, and give them
    the status link and what they already tried (see tickets_created_send)."""
    return tickets_created_send(created=[(ticket_id, False)]) == 1


def agent_assigned_send(*, ticket_id: int) -> bool:
    """Tell the assignee a ticket is theirs, with its SLA due times and the admin link."""
    ticket = _ticket(ticket_id)
    return ticket is not None and _agent_assigned(ticket)


def ticket_created_send(*, ticket_id: int, assigned: bool) -> int:
    """The e-mails of one new ticket (tickets_created_send); how many went out."""
    return tickets_created_send(created=[(ticket_id, assigned)])


def tickets_created_send(*, created: list[tuple[int, bool]]) -> int:
    """The e-mails of new tickets, given as (ticket id, assigned as it was created): each
    customer's confirmation, then, for an assigned ticket, the assignee's. One read of the
    tickets, one count of their mailboxes' confirmations in the window, one connection to the
    mail server, one UPDATE marking the confirmations; returns how many e-mails went out.

    At most CONFIRMATION_EMAIL_LIMIT confirmations per mailbox in the window, whatever the
    request limits let through: anyone may type anyone's address into a contact form, and the
    helpdesk must not become a way to flood a mailbox. Past the cap the ticket stands (agents
    still see it and their replies are still sent); only this e-mail is withheld, logged, and
    marked like a sent one, so the sweeper does not queue it again and a mailbox under a
    steady flood gets nothing more until the flood stops. Two workers confirming for one
    mailbox at the same instant may both pass the count: the cap can be passed by the worker
    concurrency less one, still "a few"; serialising them would need a lock per mailbox for a
    rare race.

    The marks are written after sending, also when a send fails part-way (the task is retried
    then): a retry does not confirm twice, and an assignee's e-mail may go twice. A worker
    killed between a send and the marks sends those confirmations again: twice rather than
    never.
    """
    tickets = Ticket.objects.select_related("company", "queue", "assignee__user").in_bulk(
        [ticket_id for ticket_id, _assigned in created]
    )
    due = [ticket for ticket in tickets.values() if _confirmation_due(ticket)]
    confirmed = confirmations_in_window([ticket.requester_email for ticket in due])
    marked: list[int] = []
    sent = 0
    try:
        with get_connection() as connection:
            for ticket_id, assigned in created:
                ticket = tickets.get(ticket_id)
                if ticket is None:
                    logger.warning("Ticket %s no longer exists; no e-mail sent", ticket_id)
                    continue
                if _confirmation_due(ticket):
                    mailbox = recipient_key(ticket.requester_email)
                    if confirmed[mailbox] >= settings.CONFIRMATION_EMAIL_LIMIT:
                        _confirmation_withheld_log(ticket)
                    else:
                        _confirmation_send(ticket, connection=connection)
                        sent += 1
                    confirmed[mailbox] += 1
                    marked.append(ticket.pk)
                if assigned:
                    sent += _agent_assigned(ticket, connection=connection)
    finally:
        if marked:
            Ticket.objects.filter(pk__in=marked).update(customer_notified_at=timezone.now())
    return sent


def _confirmation_due(ticket: Ticket) -> bool:
    return bool(ticket.requester_email) and ticket.customer_notified_at is None


def _confirmation_withheld_log(ticket: Ticket) -> None:
    logger.warning(
        "Confirmation of ticket %s not sent: %s already went to this address in the last "
        "%s s (CONFIRMATION_EMAIL_LIMIT)",
        ticket.reference,
        settings.CONFIRMATION_EMAIL_LIMIT,
        settings.CONFIRMATION_EMAIL_WINDOW,
    )


def _confirmation_send(ticket: Ticket, *, connection: BaseEmailBackend | None = None) -> None:
    with translation.override(ticket.language):
        _send(
            template="customer_ticket_created",
            context={
                "status_url": ticket_status_url(ticket),
                "tried_steps": presentation.tried_steps(ticket),
            },
            to=ticket.requester_email,
            ticket=ticket,
            connection=connection,
        )


def _agent_assigned(ticket: Ticket, *, connection: BaseEmailBackend | None = None) -> bool:
    if ticket.assignee is None or not ticket.assignee.user.email:
        return False
    # In the agent's language, whatever the customer's: the first they work in, else the
    # site's. (An Arabic agent's work page follows their browser; their e-mail has only this.)
    languages = ticket.assignee.languages or [settings.LANGUAGE_CODE]
    with translation.override(languages[0]):
        _send(
            template="agent_assigned",
            context={"admin_url": ticket_admin_url(ticket)},
            to=ticket.assignee.user.email,
            ticket=ticket,
            agent_user_id=ticket.assignee.user_id,
            connection=connection,
        )
    return True


def supervisors_breach_send(*, ticket_id: int) -> bool:
    """Alert the supervisors of the ticket's queue that an SLA target was missed: one e-mail
    each (through one connection), as each carries its reader's reply address."""
    ticket = _ticket(ticket_id)
    if ticket is None:
        return False
    recipients = dict(
        ticket.queue.supervisors.filter(is_active=True)
        .exclude(email="")
        .order_by("email", "pk")
        .values_list("email", "pk")
        .distinct()
    )
    if not recipients:
        return False
    with translation.override(settings.LANGUAGE_CODE), get_connection() as connection:
        for email, user_id in recipients.items():
            _send(
                template="supervisors_breach",
                context={"admin_url": ticket_admin_url(ticket)},
                to=email,
                ticket=ticket,
                agent_user_id=user_id,
                connection=connection,
            )
    return True


def customer_reply_send(*, event_id: int) -> bool:
    """E-mail an agent's public reply to the customer, in the ticket's language, with the
    status link to answer on. Internal notes and every other event are never sent."""
    event = (
        TicketEvent.objects.select_related("ticket__company")
        .filter(pk=event_id, kind=TicketEvent.Kind.AGENT_REPLY)
        .first()
    )
    if event is None:
        return False
    ticket = event.ticket
    if not ticket.requester_email:
        return False
    with translation.override(ticket.language):
        _send(
            template="customer_reply",
            context={
                "event": event,
                "status_url": ticket_status_url(ticket),
                "rating_links": rating_links(ticket),
            },
            to=ticket.requester_email,
            ticket=ticket,
        )
    return True


def customer_solved_send(*, ticket_id: int) -> bool:
    """Tell the customer their ticket is solved, in its language, with the one-click rating
    links; nothing when it was reopened before the task ran (the links would be refused)."""
    ticket = _ticket(ticket_id)
    if ticket is None or not ticket.requester_email or not rating_open(ticket):
        return False
    with translation.override(ticket.language):
        _send(
            template="customer_solved",
            context={
                "status_url": ticket_status_url(ticket),
                "rating_links": rating_links(ticket),
            },
            to=ticket.requester_email,
            ticket=ticket,
        )
    return True


def supervisors_webhook_disabled_send(*, endpoint_id: int) -> int:
    """Tell the supervisors (and superusers) that a webhook endpoint was switched off after
    failing too often, with why and where to switch it on; how many were written to."""
    from django.contrib.auth import get_user_model

    from tickets import roles
    from tickets.models import WebhookEndpoint

    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return 0
    recipients = sorted(
        set(
            get_user_model()
            .objects.filter(Q(is_superuser=True) | Q(groups__name=roles.SUPERVISOR), is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )
    if not recipients:
        return 0
    admin_url = settings.SITE_URL + reverse(
        "admin:tickets_webhookendpoint_change", args=[endpoint.pk]
    )
    # About no ticket, so without _send's reply address and thread headers: one e-mail to
    # them all, as there is nothing to answer into.
    with translation.override(settings.LANGUAGE_CODE):
        _rendered_send(
            template="supervisors_webhook_disabled",
            context={"endpoint": endpoint, "admin_url": admin_url},
            to=recipients,
            headers=dict(AUTOMATED_HEADERS),
        )
    return len(recipients)


def customer_merged_send(*, ticket_id: int) -> bool:
    """Tell the customer of a merged duplicate that their request goes on in the other ticket
    (the same customer's: tickets.services.ticket_merge refuses any other), with its link."""
    ticket = _ticket(ticket_id)
    if ticket is None or not ticket.requester_email or ticket.merged_into_id is None:
        return False
    target = Ticket.objects.get(pk=ticket.merged_into_id)
    with translation.override(ticket.language):
        _send(
            template="customer_merged",
            context={"target": target, "status_url": ticket_status_url(target)},
            to=ticket.requester_email,
            ticket=ticket,
        )
    return True
