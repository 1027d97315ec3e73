"""The customer's side of a ticket: the two ways to ask for a person (the guide's "talk to a
person" and the contact form), their confirmation, the status page behind the link, the
one-click rating from the e-mail, and the signed download links of attachments."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
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
from guides.models import Attempt, Guide, SearchSource, text_direction
from guides.search import search_guides
from helpdesk import limits
from helpdesk.http import client_address
from tickets import presentation, services
from tickets.forms import (
    ContactRequestForm,
    CustomerReplyForm,
    GuideContactForm,
    RatingForm,
    StillNeedHelpForm,
)
from tickets.models import (
    CUSTOMER_MESSAGE_MAX_LENGTH,
    OPEN_TICKET_STATUSES,
    RATING_WINDOW,
    Attachment,
    RatingSource,
    Ticket,
    TicketRating,
    status_token_of,
)
from tickets.selectors import escalation_by_secret, ticket_by_secret, ticket_thread
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


def _see_other(url: str) -> HttpResponseRedirect:
    """Post/redirect/get: a 303 makes the browser GET the page, so a reload sends nothing."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def status_path(reference: str) -> str:
    """The path of a reference's status page (its secret is status_token_of the reference)."""
    return reverse(
        "tickets:status", kwargs={"reference": reference, "token": status_token_of(reference)}
    )


def _status_link(request: HttpRequest, ticket: Ticket | None, reference: str) -> str:
    if ticket is not None:
        path = reverse(
            "tickets:status", kwargs={"reference": ticket.reference, "token": ticket.status_token()}
        )
    else:
        path = status_path(reference)
    return request.build_absolute_uri(path)


def _linked(request: HttpRequest, reference: str, token: str) -> Ticket | Attempt | HttpResponse:
    """What a status link names: its ticket, or the escalation still waiting for it. A wrong
    link is a bare 404 that counts against the client's guesses; an address over its budget
    is refused every link, right ones included (see ticket_status)."""
    address = client_address(request)
    guesses = limits.ticket_link_guesses()
    retry_after = guesses.retry_after(address)
    if retry_after is not None:
        return limits.too_many_requests(request, retry_after, reason="guesses")
    found: Ticket | Attempt | None = ticket_by_secret(reference=reference, secret=token)
    if found is None:
        found = escalation_by_secret(reference=reference, secret=token)
    if found is None:
        guesses.count(address)
        raise Http404
    return found


def _private(response: HttpResponse) -> HttpResponse:
    # A link forwarded or pasted somewhere public must not end up in a search index.
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


STATUS_ACTIONS = ("reply", "solved", "still_need_help", "rate")


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache  # the page shows the customer's messages: no shared cache may keep a copy
def ticket_status(request: HttpRequest, reference: str, token: str) -> HttpResponse:
    """The ticket's status, what the customer tried and the public thread, with a form to
    answer, "it's solved" / "I still need help", and the rating once solved, to whoever holds
    the link. The token (160 bits of HMAC) is the secret; the reference is not, as it is read
    out over the phone. Unknown reference and wrong token get the same bare 404.

    A link whose ticket the worker has not made yet (the reference is reserved when the
    customer asks for a person) answers "we are passing your request to a person".

    Guessing is hopeless at 160 bits, but each 404 counts against the client's address, and
    an address over the limit is refused every status page, right links included, until its
    window ends: a guesser learns nothing from a lucky hit during the penalty.

    ``?new=1``: the contact form's confirmation, shown on top (the form redirects here).
    """
    found = _linked(request, reference, token)
    if isinstance(found, HttpResponse):
        return found
    new = request.GET.get("new") == "1"
    if isinstance(found, Attempt):
        if request.method == "POST":  # nothing to answer yet: show the page
            return _see_other(request.get_full_path())
        with translation.override(found.language):
            response = render(
                request,
                "tickets/status_pending.html",
                {
                    "attempt": found,
                    "direction": text_direction(found.language),
                    "reference": reference,
                    "status_url": _status_link(request, None, reference),
                    "state_url": reverse(
                        "tickets:status-state", kwargs={"reference": reference, "token": token}
                    ),
                    "new_request": new,
                },
            )
        return _private(response)
    ticket = found
    # Labels, messages and form errors in the ticket's language, whatever the browser's.
    with translation.override(ticket.language):
        action = request.POST.get("action", "reply") if request.method == "POST" else ""
        posted = request.POST if request.method == "POST" else None
        form = CustomerReplyForm(
            posted if action == "reply" else None, request.FILES if action == "reply" else None
        )
        still_form = StillNeedHelpForm(posted if action == "still_need_help" else None)
        rating_form = RatingForm(
            posted if action == "rate" else None,
            initial=_rating_initial(ticket),
        )
        refusal, status = "", 200
        if action:
            refusal, status, done = _status_action(request, ticket, action, form, still_form,
                                                   rating_form)  # fmt: skip
            if done:
                return _see_other(request.path)
        response = render(
            request,
            "tickets/status.html",
            {
                "ticket": ticket,
                "tried_steps": presentation.tried_steps(ticket),
                "thread": ticket_thread(ticket=ticket, public_only=True),
                "form": form,
                "still_form": still_form,
                "rating_form": rating_form,
                "rating": _rating_of(ticket),
                "rating_open": services.rating_open(ticket),
                "rating_until": ticket.solved_at + RATING_WINDOW if ticket.solved_at else None,
                "can_solve": ticket.status in OPEN_TICKET_STATUSES,
                "refusal": refusal,
                "refused_action": action if refusal else "",
                "accepts_replies": ticket.accepts_customer_replies(),
                "new_request_url": _new_request_url(ticket),
                "new_request": new,
                "status_url": _status_link(request, ticket, ticket.reference),
                "reference": ticket.reference,
            },
            status=status,
        )
    if status == 429:
        response["Retry-After"] = str(limits.status_page_replies().retry_after(
            client_address(request)) or 60)  # fmt: skip
    return _private(response)


def _rating_of(ticket: Ticket) -> TicketRating | None:
    try:
        return ticket.rating  # joined by ticket_by_secret and rating_link_read
    except TicketRating.DoesNotExist:
        return None


def _rating_initial(ticket: Ticket) -> dict:
    rating = _rating_of(ticket)
    return {"score": rating.score, "comment": rating.comment} if rating else {}


def _status_action(
    request: HttpRequest,
    ticket: Ticket,
    action: str,
    form: CustomerReplyForm,
    still_form: StillNeedHelpForm,
    rating_form: RatingForm,
) -> tuple[str, int, bool]:
    """One of the status page's writes: (refusal, status, done). Every write, whichever, counts
    against the client's budget of status-page writes (STATUS_PAGE_REPLY_LIMIT)."""
    address = client_address(request)
    writes = limits.status_page_replies()
    if action not in STATUS_ACTIONS:
        return _("Unknown action."), 400, False
    if writes.retry_after(address) is not None:
        return _("You sent many messages in a short time. Please try again later."), 429, False
    try:
        if action == "reply":
            if not ticket.accepts_customer_replies():
                return _closed_refusal(), 409, False
            if not form.is_valid():
                return "", 200, False
            writes.count(address)
            # One transaction: the message is sent with its files or not at all.
            with transaction.atomic():
                event = services.ticket_customer_reply(
                    ticket=ticket, body=form.cleaned_data["body"]
                )
                services.attachments_add(event=event, files=form.cleaned_data["attachments"])
            messages.success(request, _("Your message was sent. A person will read it soon."))
        elif action == "solved":
            writes.count(address)
            services.ticket_customer_solve(ticket=ticket)
            messages.success(request, _("Thank you. We marked your request as solved."))
        elif action == "still_need_help":
            if not still_form.is_valid():
                return "", 200, False
            writes.count(address)
            services.ticket_customer_still_needs_help(
                ticket=ticket, message=still_form.cleaned_data["message"]
            )
            messages.success(request, _("Your request is open again. A person will answer you."))
        else:
            if not rating_form.is_valid():
                return "", 200, False
            writes.count(address)
            services.ticket_rate(
                ticket=ticket, score=rating_form.cleaned_data["score"],
                comment=rating_form.cleaned_data["comment"],
                source=RatingSource.STATUS_PAGE,
            )  # fmt: skip
            messages.success(request, _("Thank you for your rating."))
    except services.TicketClosedForReplies:
        ticket.refresh_from_db()  # closed since the page was shown
        return _closed_refusal(), 409, False
    except services.TicketError as error:
        ticket.refresh_from_db()
        if action == "reply":  # nothing but blanks, which the form strips
            form.add_error("body", _("Write your message first."))
            return "", 200, False
        return str(error.message), error.status, False
    return "", 200, True


@require_safe
@never_cache
def ticket_status_state(request: HttpRequest, reference: str, token: str) -> HttpResponse:
    """The status page's tiny JSON for its script: ``{"ready": true}`` once the ticket of the
    link exists. Guess-limited like the page itself."""
    found = _linked(request, reference, token)
    if isinstance(found, HttpResponse):
        return found
    return _private(JsonResponse({"ready": isinstance(found, Ticket)}))


# --- one-click rating from the e-mail ------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
def ticket_rate_link(request: HttpRequest, token: str) -> HttpResponse:
    """The good / bad links of the solved e-mail. A GET records nothing (mail scanners and
    link previewers fetch every link of a message): it shows the choice made, a comment box
    and one button, and the POST records the rating and returns to the status page."""
    address = client_address(request)
    guesses = limits.ticket_link_guesses()
    retry_after = guesses.retry_after(address)
    if retry_after is not None:
        return limits.too_many_requests(request, retry_after, reason="guesses")
    try:
        read = services.rating_link_read(token)
    except services.RatingLinkExpired:
        return _private(render(request, "tickets/rate_expired.html", status=410))
    if read is None:
        guesses.count(address)
        raise Http404
    ticket, score = read
    status_url = reverse(
        "tickets:status", kwargs={"reference": ticket.reference, "token": ticket.status_token()}
    )
    with translation.override(ticket.language):
        form = RatingForm(
            request.POST if request.method == "POST" else None,
            initial={"score": score, "comment": getattr(_rating_of(ticket), "comment", "")},
        )
        refusal, status = "", 200
        if request.method == "POST" and form.is_valid():
            writes = limits.status_page_replies()
            if writes.retry_after(address) is not None:
                refusal, status = (
                    _("You sent many messages in a short time. Please try again later."), 429,
                )  # fmt: skip
            else:
                writes.count(address)
                try:
                    services.ticket_rate(
                        ticket=ticket, score=form.cleaned_data["score"],
                        comment=form.cleaned_data["comment"], source=RatingSource.EMAIL,
                    )  # fmt: skip
                except services.TicketError as error:
                    refusal, status = str(error.message), error.status
                else:
                    messages.success(request, _("Thank you for your rating."))
                    return _see_other(status_url)
        response = render(
            request,
            "tickets/rate.html",
            {
                "ticket": ticket,
                "form": form,
                "refusal": refusal,
                "rating_open": services.rating_open(ticket),
                "status_url": status_url,
            },
            status=status,
        )
    return _private(response)


# --- "talk to a person" at the end of a guide -------------------------------------------------


def _prefilled(request: HttpRequest) -> dict[str, str]:
    """``?description=`` fills the description in (the follow-up box and the search page link
    here with the customer's question)."""
    description = request.GET.get("description", "").strip()
    return {"description": description[:CUSTOMER_MESSAGE_MAX_LENGTH]} if description else {}


def _attempt_reference(attempt: Attempt) -> str | None:
    """The reference the customer was given: reserved at escalation, or, for an escalation
    recorded before references were reserved, its ticket's once made."""
    if attempt.ticket_reference:
        return attempt.ticket_reference
    return Ticket.objects.filter(attempt=attempt).values_list("reference", flat=True).first()


def _guide_contact_done(request: HttpRequest, guide: Guide, attempt: Attempt) -> HttpResponse:
    reference = _attempt_reference(attempt)
    return render(
        request,
        "tickets/guide_contact_done.html",
        {
            "guide": guide,
            "attempt": attempt,
            "reference": reference,
            "status_url": _status_link(request, None, reference) if reference else "",
        },
    )


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache  # the confirmation carries the status link's secret
def guide_contact(request: HttpRequest, company: str, language: str, slug: str) -> HttpResponse:
    """The guide page's "talk to a person" (``guides:contact``, under the guide's path): the
    customer's words and contact go on their attempt, which escalates with the steps they
    tried; a customer without an attempt gets one here, in the same transaction.

    Post/redirect/get: a sent request answers 303 to this same page, which shows the
    confirmation (reference, status link, what happens next) for as long as the attempt is
    escalated; a reload or a second POST writes nothing."""
    guide = guide_views.published_guide(company, language, slug)
    attempt = guide_views.attempt_from_cookie(request, guide)
    if attempt is not None and attempt.status == Attempt.Status.ESCALATED:
        if request.method == "POST":
            return _see_other(request.path)
        with translation.override(guide.language):
            return _guide_contact_done(request, guide, attempt)
    form = GuideContactForm(
        request.POST or None, request.FILES or None, initial=_prefilled(request)
    )
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
            escalation_request(
                attempt=attempt,
                description=form.cleaned_data["description"],
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
            )
            services.attachments_hold(attempt=attempt, files=form.cleaned_data["attachments"])
        sent = _see_other(request.path)
        if token:
            guide_views.remember_attempt(sent, guide, token)
        return sent
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
    form = ContactRequestForm(
        request.POST or None, request.FILES or None, initial=_prefilled(request)
    )
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
                    services.attachments_hold(
                        attempt=attempt, files=form.cleaned_data["attachments"]
                    )
                request.session.pop(OPENED_GUIDES_SESSION_KEY, None)
                # Post/redirect/get onto the request's own status page, which shows the
                # confirmation: its URL is the link to keep, and a reload sends nothing.
                assert attempt.ticket_reference is not None  # escalation_request reserves it
                return _see_other(f"{status_path(attempt.ticket_reference)}?new=1")
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
    can_send = valid and (refusal is None or sending)
    if not (can_send or sending):
        # Files are asked for with the button that sends: a browser does not keep a chosen
        # file across the suggestions' round trip.
        form.fields.pop("attachments", None)
    context = {
        "form": form,
        "suggestions": suggestions,
        "click_token": click_token,
        "suggested": request.method == "POST" and refusal is None,
        # After suggestions, or when sending was refused for now: the button that sends.
        "can_send": can_send,
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


# --- attachments ---------------------------------------------------------------------------------

# What a download is served as: the sniffed type when a browser cannot run it, else bytes.
_SAFE_DOWNLOAD_TYPES = {
    "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "application/zip",
}  # fmt: skip


@require_safe
@never_cache  # private, no-store: neither a shared cache nor the browser's keeps a copy
def attachment_download(request: HttpRequest, token: str) -> HttpResponse | FileResponse:
    """An attachment behind its signed link (tickets.services.attachment_link_token), as a
    download whatever its type: a forged or unknown link is a 404 page, an expired one 410.
    The link is the permission: pages hand it only to readers who may see the message."""
    try:
        pk = services.attachment_link_read(token)
        attachment = Attachment.objects.get(pk=pk)
    except (services.AttachmentLinkInvalid, Attachment.DoesNotExist) as error:
        status = error.status if isinstance(error, services.AttachmentLinkInvalid) else 404
        response = render(
            request, "tickets/attachment_link.html", {"expired": status == 410}, status=status
        )
        return _private(response)
    try:
        stored = attachment.file.open("rb")
    except OSError:  # the row outlived its file (restored database, emptied bucket)
        response = render(request, "tickets/attachment_link.html", {"missing": True}, status=404)
        return _private(response)
    if attachment.content_type in _SAFE_DOWNLOAD_TYPES:
        content_type = attachment.content_type
    elif attachment.content_type == "text/plain":
        content_type = "text/plain; charset=utf-8"
    else:
        content_type = "application/octet-stream"
    # FileResponse writes Content-Disposition: attachment with an RFC 5987 filename* when
    # the name is not ASCII.
    download = FileResponse(
        stored, as_attachment=True, filename=attachment.name, content_type=content_type
    )
    download["X-Content-Type-Options"] = "nosniff"
    # Were it ever rendered inline, it would run nothing and reach nothing.
    download["Content-Security-Policy"] = "default-src 'none'; sandbox"
    download["Referrer-Policy"] = "no-referrer"
    download["X-Robots-Tag"] = "noindex, nofollow"
    return download
