"""The customer's side of a ticket: the status page behind the link in their e-mail."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.crypto import constant_time_compare
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from guides import services as guide_services
from guides.models import Guide
from guides.search import search_guides
from tickets.forms import ContactRequestForm
from tickets.models import Ticket, TicketEvent
from tickets.notifications import tried_steps_for_display
from tickets.services import escalation_request

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
            "tried_steps": tried_steps_for_display(ticket),
            "thread": thread,
        },
    )
    # A link forwarded or pasted somewhere public must not end up in a search index.
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


# --- the contact form, for a customer who found no guide ---------------------------------------

OPENED_GUIDES_SESSION_KEY = "contact-opened-guides"


def contact(request: HttpRequest) -> HttpResponse:
    """Describe the problem; we first suggest the best-matching guides, and if the customer
    still wants a person the request takes the same escalation path as a failed guide."""
    form = ContactRequestForm(request.POST or None)
    suggestions: list = []
    if request.method == "POST" and form.is_valid():
        company = form.cleaned_data["company"]
        if request.POST.get("action") == "send":
            attempt, _token = guide_services.attempt_start_without_guide(
                language=get_language() or settings.LANGUAGE_CODE,
                company=company,
                opened_guide_ids=request.session.get(OPENED_GUIDES_SESSION_KEY, []),
                user_agent=request.headers.get("User-Agent", ""),
            )
            attempt = escalation_request(
                attempt=attempt,
                description=form.cleaned_data["description"],
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
            )
            request.session.pop(OPENED_GUIDES_SESSION_KEY, None)
            return render(request, "tickets/contact_done.html", {"attempt": attempt})
        suggestions = search_guides(
            query=form.cleaned_data["description"],
            company=company.slug if company else None,
            limit=5,
        )
    return render(
        request,
        "tickets/contact.html",
        {"form": form, "suggestions": suggestions, "suggested": request.method == "POST"},
    )


@require_safe
def contact_guide_open(request: HttpRequest, guide_id: int) -> HttpResponse:
    """A suggested guide, opened from the contact form: remember it, then show the guide."""
    guide = get_object_or_404(
        Guide.objects.select_related("company"), pk=guide_id, status=Guide.Status.PUBLISHED
    )
    opened = request.session.get(OPENED_GUIDES_SESSION_KEY, [])
    if guide.pk not in opened:
        request.session[OPENED_GUIDES_SESSION_KEY] = [*opened, guide.pk][-20:]
    return redirect(
        "guides:guide-detail",
        company=guide.company.slug,
        language=guide.language,
        slug=guide.slug,
    )
