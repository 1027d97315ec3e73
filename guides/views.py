from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from guides import search_log, selectors, services
from guides.forms import FeedbackForm, SearchForm, StepOutcomeForm
from guides.models import Attempt, Company, Guide, Step
from guides.page_cache import GuidePage, guide_page
from guides.preview_links import (
    QUERY_PARAMETER,
    PreviewLinkExpired,
    PreviewLinkInvalid,
    preview_guide_id,
)
from guides.view_counts import guide_page_view_counts
from guides.visitors import FeedbackThrottle, visitor_of, visitor_remember
from helpdesk import limits
from helpdesk.http import client_address

ATTEMPT_COOKIE_AGE = 60 * 60 * 24 * 30  # a month: long enough to come back after trying


def _cookie_name(guide: Guide) -> str:
    # One cookie per guide, so a customer can have attempts on several guides at once.
    return f"attempt-{guide.pk}"


def attempt_from_cookie(request: HttpRequest, guide: Guide) -> Attempt | None:
    attempt = selectors.attempt_by_token(request.COOKIES.get(_cookie_name(guide)))
    if attempt is None or attempt.guide_id != guide.pk:
        return None
    return attempt


def remember_attempt(response: HttpResponse, guide: Guide, token: str) -> None:
    response.set_cookie(
        _cookie_name(guide),
        token,
        max_age=ATTEMPT_COOKIE_AGE,
        httponly=True,
        secure=settings.SESSION_COOKIE_SECURE,
        samesite="Lax",
    )


def _writes_refused(request: HttpRequest, guide: Guide) -> HttpResponse | None:
    """Count a write posted on a guide page against the client's budget (WEB_WRITE_LIMIT);
    past it, the 429 page in the guide's language instead of the write."""
    retry_after = limits.guide_page_writes().take(client_address(request))
    if retry_after is None:
        return None
    with translation.override(guide.language):
        return limits.too_many_requests(request, retry_after, reason="writes")


def _say(request: HttpRequest, guide: Guide, level: int, message: str | Promise) -> None:
    """A message for the guide's page, in the guide's language: the page that shows it is
    written in that language (lang and dir), whatever the language of the site's header."""
    with translation.override(guide.language):
        messages.add_message(request, level, str(message))


def published_guide(company: str, language: str, slug: str) -> Guide:
    return get_object_or_404(
        selectors.published_guide_detail(), company__slug=company, language=language, slug=slug
    )


def home(request: HttpRequest) -> HttpResponse:
    companies = selectors.companies_with_published_guides().order_by("name")
    guides = selectors.published_guides_for_reader(language=get_language())[:20]
    return render(
        request,
        "guides/home.html",
        {"companies": companies, "guides": guides, "search_form": SearchForm()},
    )


@require_safe
def search_result_open(request: HttpRequest, guide_id: int) -> HttpResponse:
    """A guide opened from search results: the search (its signed id in ``s``) is marked as
    clicked, then the guide's own page, whose address and cache stay as they are."""
    guide = get_object_or_404(
        Guide.objects.select_related("company"), pk=guide_id, status=Guide.Status.PUBLISHED
    )
    if request.method == "GET":
        search_log.search_click_record(token=request.GET.get("s", ""), guide_id=guide.pk)
    return HttpResponseRedirect(guide.public_path())


def company_detail(request: HttpRequest, company: str) -> HttpResponse:
    company_obj = get_object_or_404(Company, slug=company)
    guides = selectors.published_guides_for_reader(language=get_language()).filter(
        company=company_obj
    )
    return render(
        request,
        "guides/company.html",
        {
            "company": company_obj,
            "guides": guides,
            "search_form": SearchForm(initial={"company": company_obj.slug}),
        },
    )


def guide_detail(request: HttpRequest, company: str, language: str, slug: str) -> HttpResponse:
    if QUERY_PARAMETER in request.GET:
        return _guide_preview(request, company, language, slug, request.GET[QUERY_PARAMETER])
    visitor = visitor_of(request)
    page = guide_page(
        company=company,
        language=language,
        slug=slug,
        counts_view=lambda guide_id: guide_page_view_counts(
            guide_id=guide_id,
            method=request.method or "",
            user_agent=request.headers.get("User-Agent", ""),
            visitor=visitor,
        ),
    )
    attempt = attempt_from_cookie(request, page.guide)
    current = {}
    feedback = None
    if attempt is not None:
        current = selectors.current_outcomes(selectors.attempt_outcome_history(attempt=attempt))
        feedback = selectors.attempt_feedback(attempt=attempt)
    response = HttpResponse(
        page.html(
            request,
            attempt=attempt,
            attempt_open=attempt is None or attempt.status in services.OPEN_ATTEMPT_STATUSES,
            current_outcomes=current,
            feedback=feedback,
        )
    )
    visitor_remember(response, visitor)
    return response


def _guide_preview(
    request: HttpRequest, company: str, language: str, slug: str, token: str
) -> HttpResponse:
    """The guide at this address as it stands now, published or not, for the holder of a
    preview link (guides.preview_links): rendered for this request alone, outside the page
    cache, with no view counted, no attempt and no forms, and kept out of every cache and
    search index."""
    try:
        guide_id = preview_guide_id(token)
    except PreviewLinkExpired:
        response = render(request, "guides/preview_expired.html", status=410)
        _not_kept(response)
        return response
    except PreviewLinkInvalid:
        raise Http404("No such preview.") from None
    guide = get_object_or_404(
        selectors.guide_preview_detail(),
        pk=guide_id,
        company__slug=company,
        language=language,
        slug=slug,
    )
    page = GuidePage(
        guide=guide,
        context={
            "guide": guide,
            "preview": True,
            "translations": list(selectors.guide_translations(guide=guide)),
            "related": [],
        },
        version=None,
        shown=selectors.steps_shown(guide=guide),
    )
    response = HttpResponse(
        page.html(request, attempt=None, attempt_open=False, current_outcomes={}, feedback=None)
    )
    _not_kept(response)
    return response


def _not_kept(response: HttpResponse) -> None:
    # The token is in the address: no shared cache may keep the page, no engine index it.
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"


def _back_to_the_guide(
    request: HttpRequest, guide: Guide, anchor: str = ""
) -> HttpResponseRedirect:
    """The redirect after a form on the guide page. The page it leads back to was already seen:
    it is noted as viewed today, so that the reload is not counted as a new view."""
    response = HttpResponseRedirect(guide.public_path() + (f"#{anchor}" if anchor else ""))
    visitor = visitor_of(request)
    visitor.view_is_first_today(guide.pk)
    visitor_remember(response, visitor)
    return response


@require_POST
def step_outcome(
    request: HttpRequest, company: str, language: str, slug: str, step_id: int
) -> HttpResponse:
    guide = published_guide(company, language, slug)
    if refused := _writes_refused(request, guide):
        return refused
    form = StepOutcomeForm(request.POST)
    step = next((s for s in guide.steps.all() if s.pk == step_id), None)
    if step is None:
        raise Http404("No such step in this guide.")
    response = _back_to_the_guide(request, guide, f"step-{step.position}")
    if not form.is_valid():
        _say(request, guide, messages.ERROR, gettext_lazy("Choose what happened at this step."))
        return response
    attempt = attempt_from_cookie(request, guide)
    if attempt is None:
        # Marking a step of the procedure, the customer has not yet acted on the alternatives'
        # order: the attempt may take any (an exploring one included), the page shows it from
        # now on. Marking a later step, they chose under the order the page showed: recorded.
        seen = None if step.kind == Step.Kind.PROCEDURE else form.cleaned_data["order"]
        attempt, token = services.attempt_start(
            guide=guide, user_agent=request.headers.get("User-Agent", ""), seen_order=seen
        )
        remember_attempt(response, guide, token)
    try:
        # A refusal's message is made when raised: in the language of the page it shows on.
        with translation.override(guide.language):
            services.step_outcome_record(
                attempt=attempt,
                step_id=step.pk,
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["note"],
            )
    except services.SelfHelpError as exc:
        _say(request, guide, messages.ERROR, exc.message)
        return response
    response["Location"] = guide.public_path() + "#" + _where_next(guide, attempt)
    return response


def _where_next(guide: Guide, attempt: Attempt) -> str:
    """Where the page goes after a step is answered: the success and the helpful vote once
    the guide fixed it, else the next step not yet answered (the one the page puts in focus),
    else the way to a person."""
    attempt.refresh_from_db(fields=["status"])
    if attempt.status == Attempt.Status.RESOLVED:
        return "feedback"
    shown = selectors.steps_shown(guide=guide, step_order=attempt.step_order)
    current = selectors.current_outcomes(selectors.attempt_outcome_history(attempt=attempt))
    step = selectors.next_unanswered_step(shown, current)
    return f"step-{step.position}" if step is not None else "person"


@require_POST
def attempt_restart(request: HttpRequest, company: str, language: str, slug: str) -> HttpResponse:
    guide = published_guide(company, language, slug)
    if refused := _writes_refused(request, guide):
        return refused
    _attempt, token = services.attempt_start(
        guide=guide, user_agent=request.headers.get("User-Agent", "")
    )
    response = _back_to_the_guide(request, guide)
    remember_attempt(response, guide, token)
    return response


@require_POST
def feedback(request: HttpRequest, company: str, language: str, slug: str) -> HttpResponse:
    guide = published_guide(company, language, slug)
    if refused := _writes_refused(request, guide):
        return refused
    form = FeedbackForm(request.POST)
    response = _back_to_the_guide(request, guide, "feedback")
    if not FeedbackThrottle().allow_answer(request):
        _say(
            request, guide, messages.ERROR,
            gettext_lazy("Too many answers came from your connection. Please try later."),
        )  # fmt: skip
    elif form.is_valid():
        # One answer per visitor (and per attempt): answering again replaces it.
        services.feedback_give(
            guide=guide,
            attempt=attempt_from_cookie(request, guide),
            visitor_id=visitor_of(request).id,
            helpful=form.cleaned_data["helpful"],
            comment=form.cleaned_data["comment"],
        )
        _say(request, guide, messages.SUCCESS, gettext_lazy("Thank you for telling us."))
    else:
        _say(request, guide, messages.ERROR, gettext_lazy("Choose Yes or Needs work."))
    return response
