"""The customer's side of a ticket: the status page behind the link in their e-mail."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from guides import search_log
from guides import selectors as guide_selectors
from guides import services as guide_services
from guides import views as guide_views
from guides.models import Attempt, Guide, SearchSource
from guides.search import search_guides
from helpdesk import limits
from helpdesk.http import client_address
from tickets import presentation, services
from tickets.forms import ContactRequestForm, CustomerReplyForm, GuideContactForm
from tickets.models import Ticket
from tickets.selectors import ticket_by_secret, ticket_thread
from tickets.services import escalation_request

# --- the customer's status page ------------------------------------------------------------------


def _new_request_url(ticket: Ticket) -> str:
    """Where a customer whose request is closed starts again: the guide they came from, if it
    is still published (its last step leads to a person), else the contact form."""
    guide = ticket.guide
    if guide is not None and guide.status == Guide.Status.PUBLISHED:
        return guide.public_path()
    return reverse("tickets:contact")


def _closed_refusal() -> str:
    return _("This request is closed, so your message was not sent.")


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache  # the page shows the customer's messages: no shared cache may keep a copy
def ticket_status(request: HttpRequest, reference: str, token: str) -> HttpResponse:
    """The ticket's status, what the customer tried and the public thread, with a form to
    answer, to whoever holds the link. The token (160 bits of HMAC) is the secret; the
    reference is not, as it is read out over the phone. Unknown reference and wrong token get
    the same bare 404.

    Guessing is hopeless at 160 bits, but each 404 counts against the client's address, and
    an address over the limit is refused every status page, right links included, until its
    window ends: a guesser learns nothing from a lucky hit during the penalty.
    """
    address = client_address(request)
    guesses = limits.ticket_link_guesses()
    retry_after = guesses.retry_after(address)
    if retry_after is not None:
        return limits.too_many_requests(request, retry_after, reason="guesses")
    ticket = ticket_by_secret(reference=reference, secret=token)
    if ticket is None:
        guesses.count(address)
        raise Http404

    # Labels, messages and form errors in the ticket's language, whatever the browser's.
    with translation.override(ticket.language):
        form = CustomerReplyForm(request.POST if request.method == "POST" else None)
        refusal, status = "", 200
        if request.method == "POST":
            replies = limits.status_page_replies()
            retry_after = replies.retry_after(address)
            if retry_after is not None:
                refusal = _("You sent many messages in a short time. Please try again later.")
                status = 429
            elif not ticket.accepts_customer_replies():
                refusal, status = _closed_refusal(), 409
            elif form.is_valid():
                replies.count(address)
                try:
                    services.ticket_customer_reply(ticket=ticket, body=form.cleaned_data["body"])
                except services.TicketClosedForReplies:
                    ticket.refresh_from_db()  # closed since the page was shown
                    refusal, status = _closed_refusal(), 409
                except services.TicketError:  # nothing but blanks, which the form strips
                    form.add_error("body", _("Write your message first."))
                else:
                    messages.success(
                        request, _("Your message was sent. A person will read it soon.")
                    )
                    return redirect(request.path)
        response = render(
            request,
            "tickets/status.html",
            {
                "ticket": ticket,
                "tried_steps": presentation.tried_steps(ticket),
                "thread": ticket_thread(ticket=ticket, public_only=True),
                "form": form,
                "refusal": refusal,
                "accepts_replies": ticket.accepts_customer_replies(),
                "new_request_url": _new_request_url(ticket),
            },
            status=status,
        )
    if status == 429:
        response["Retry-After"] = str(retry_after)
    # A link forwarded or pasted somewhere public must not end up in a search index.
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


# --- "talk to a person" at the end of a guide -------------------------------------------------


def guide_contact(request: HttpRequest, company: str, language: str, slug: str) -> HttpResponse:
    """The guide page's "talk to a person" (``guides:contact``, under the guide's path): the
    customer's words and contact go on their attempt, which escalates with the steps they
    tried; a customer without an attempt gets one here, in the same transaction."""
    guide = guide_views.published_guide(company, language, slug)
    attempt = guide_views.attempt_from_cookie(request, guide)
    if attempt is not None and attempt.status == Attempt.Status.ESCALATED:
        return render(
            request, "tickets/guide_contact_done.html", {"guide": guide, "attempt": attempt}
        )
    form = GuideContactForm(request.POST or None)
    refusal = None
    if request.method == "POST" and form.is_valid():
        with translation.override(guide.language):  # the form's language, not the browser's
            refusal = limits.escalation_refusal(
                client=client_address(request), email=form.cleaned_data["email"]
            )
    if refusal is not None:
        form.add_error(None, refusal.message)
    elif request.method == "POST" and form.is_valid():
        token = None
        # One transaction: a request refused on the way (or failing) leaves no attempt behind.
        with transaction.atomic():
            if attempt is None:
                attempt, token = guide_services.attempt_start(
                    guide=guide, user_agent=request.headers.get("User-Agent", "")
                )
            attempt = escalation_request(
                attempt=attempt,
                description=form.cleaned_data["description"],
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
            )
        response = render(
            request, "tickets/guide_contact_done.html", {"guide": guide, "attempt": attempt}
        )
        if token:
            guide_views.remember_attempt(response, guide, token)
        return response
    tried = []
    if attempt is not None:
        current = guide_selectors.current_outcomes(
            guide_selectors.attempt_outcome_history(attempt=attempt)
        )
        tried = sorted(current.values(), key=lambda outcome: outcome.step_position)
    response = render(
        request,
        "tickets/guide_contact.html",
        {"guide": guide, "form": form, "tried": tried},
        status=200 if refusal is None else 429,
    )
    if refusal is not None:
        response["Retry-After"] = str(refusal.retry_after)
    return response


# --- the contact form, for a customer who found no guide ---------------------------------------

OPENED_GUIDES_SESSION_KEY = "contact-opened-guides"


def contact(request: HttpRequest) -> HttpResponse:
    """Describe the problem; we first suggest the best-matching guides, and if the customer
    still wants a person the request takes the same escalation path as a failed guide.

    Both steps are limited per client (helpdesk.limits): a suggestion is a search, sending is
    an escalation (also limited per recipient e-mail address). A refused form is shown again,
    as typed, with the reason, a 429 and Retry-After; nothing is written."""
    form = ContactRequestForm(request.POST or None)
    suggestions: list = []
    click_token = ""
    refusal: limits.Refusal | None = None
    sending = request.POST.get("action") == "send"
    valid = request.method == "POST" and form.is_valid()
    if valid:
        company = form.cleaned_data["company"]
        if sending:
            refusal = limits.escalation_refusal(
                client=client_address(request), email=form.cleaned_data["email"]
            )
            if refusal is None:
                # One transaction: a request failing on the way leaves no attempt behind.
                with transaction.atomic():
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
        else:
            client = client_address(request)
            logged = search_log.search_log_wanted(request)
            # The suggestions' budget and the search log's, in one round trip.
            taken = limits.take_together(
                [(limits.contact_searches(), client)]
                + ([(limits.search_log_writes(), client)] if logged else [])
            )
            refusal = limits.contact_search_refusal_of(taken[0])
            if refusal is None:
                suggestions = search_guides(
                    query=form.cleaned_data["description"],
                    company=company.slug if company else None,
                    prefer_language=get_language(),
                    limit=5,
                )
                if logged and taken[1] is None:
                    search_id = search_log.search_record(
                        query=form.cleaned_data["description"],
                        company_slug=company.slug if company else None,
                        language=get_language() or settings.LANGUAGE_CODE,
                        source=SearchSource.CONTACT,
                        result_count=len(suggestions),
                    )
                    if search_id is not None:
                        click_token = search_log.search_click_token(search_id)
    if refusal is not None:
        form.add_error(None, refusal.message)
    context = {
        "form": form,
        "suggestions": suggestions,
        "click_token": click_token,
        "suggested": request.method == "POST" and refusal is None,
        # After suggestions, or when sending was refused for now: the button that sends.
        "can_send": valid and (refusal is None or sending),
    }
    response = render(
        request, "tickets/contact.html", context, status=200 if refusal is None else 429
    )
    if refusal is not None:
        response["Retry-After"] = str(refusal.retry_after)
    return response


@require_safe
def contact_guide_open(request: HttpRequest, guide_id: int) -> HttpResponse:
    """A suggested guide, opened from the contact form: remember it (and, with the signed
    search id in ``s``, mark the suggestions' search as clicked), then show the guide."""
    guide = get_object_or_404(
        Guide.objects.select_related("company"), pk=guide_id, status=Guide.Status.PUBLISHED
    )
    opened = request.session.get(OPENED_GUIDES_SESSION_KEY, [])
    if guide.pk not in opened:
        request.session[OPENED_GUIDES_SESSION_KEY] = [*opened, guide.pk][-20:]
    if request.method == "GET":
        # The suggestions' search, if it was logged: this is the guide it led to.
        search_log.search_click_record(token=request.GET.get("s", ""), guide_id=guide.pk)
    return redirect(guide.public_path())
