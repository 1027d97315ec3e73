"""The customer's side of a ticket: the status page behind the link in their e-mail."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from guides.models import RTL_LANGUAGES
from tickets.models import Ticket, TicketEvent
from tickets.notifications import tried_steps_for_display

# What the customer may read of the thread; notes and system events stay with the staff.
PUBLIC_EVENT_KINDS = (TicketEvent.Kind.CUSTOMER_MESSAGE, TicketEvent.Kind.AGENT_REPLY)


@require_safe
@never_cache  # the page shows the customer's messages: no shared cache may keep a copy
def ticket_status(request: HttpRequest, reference: str, token: str) -> HttpResponse:
    """The ticket's status, what the customer tried and the public thread, to whoever holds
    the link. The token (160 bits of HMAC) is the secret; the reference is not, as it is
    read out over the phone. Unknown reference and wrong token get the same bare 404.

    Guessing is hopeless at 160 bits, but a rate limit per address belongs here too (later
    work, with the customer's reply form).
    """
    ticket = Ticket.objects.select_related("company").filter(reference=reference).first()
    if ticket is None or not constant_time_compare(token, ticket.status_token()):
        raise Http404
    thread = ticket.events.filter(kind__in=PUBLIC_EVENT_KINDS).order_by("created_at", "pk")
    response = render(
        request,
        "tickets/status.html",
        {
            "ticket": ticket,
            "text_direction": "rtl" if ticket.language in RTL_LANGUAGES else "ltr",
            "tried_steps": tried_steps_for_display(ticket),
            "thread": thread,
        },
    )
    # A link forwarded or pasted somewhere public must not end up in a search index.
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
