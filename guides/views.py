from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from guides import selectors, services
from guides.forms import ContactForm, FeedbackForm, SearchForm, StepOutcomeForm
from guides.models import Attempt, Company, Guide, Step
from guides.search import search_guides
from guides.view_counts import guide_view_record
from tickets.services import escalation_request

ATTEMPT_COOKIE_AGE = 60 * 60 * 24 * 30  # a month: long enough to come back after trying


def _cookie_name(guide: Guide) -> str:
    # One cookie per guide, so a customer can have attempts on several guides at once.
    return f"attempt-{guide.pk}"


def _attempt_from_cookie(request: HttpRequest, guide: Guide) -> Attempt | None:
    attempt = selectors.attempt_by_token(request.COOKIES.get(_cookie_name(guide)))
    if attempt is None or attempt.guide_id != guide.pk:
        return None
    return attempt


def _remember_attempt(response: HttpResponse, guide: Guide, token: str) -> None:
    response.set_cookie(
        _cookie_name(guide),
        token,
        max_age=ATTEMPT_COOKIE_AGE,
        httponly=True,
        secure=settings.SESSION_COOKIE_SECURE,
        samesite="Lax",
    )


def _published_guide(company: str, language: str, slug: str) -> Guide:
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


def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    results: list[Guide] = []
    query = ""
    if form.is_valid():
        query = form.cleaned_data["q"]
        results = search_guides(query=query, company=form.cleaned_data["company"] or None)
    return render(
        request,
        "guides/search.html",
        {"search_form": form, "query": query, "results": results},
    )


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
    guide = _published_guide(company, language, slug)
    guide_view_record(guide_id=guide.pk)
    attempt = _attempt_from_cookie(request, guide)
    current = {}
    feedback = None
    if attempt is not None:
        current = selectors.current_outcomes(selectors.attempt_outcome_history(attempt=attempt))
        feedback = selectors.attempt_feedback(attempt=attempt)
    steps = [(step, current.get(step.pk)) for step in guide.steps.all()]
    return render(
        request,
        "guides/guide.html",
        {
            "guide": guide,
            "attempt": attempt,
            "attempt_open": attempt is None or attempt.status in services.OPEN_ATTEMPT_STATUSES,
            "procedure": [s for s in steps if s[0].kind == Step.Kind.PROCEDURE],
            "alternatives": [s for s in steps if s[0].kind == Step.Kind.ALTERNATIVE],
            "last_resort": [s for s in steps if s[0].kind == Step.Kind.LAST_RESORT],
            "translations": selectors.guide_translations(guide=guide),
            "feedback": feedback,
            "feedback_form": FeedbackForm(),
        },
    )


@require_POST
def step_outcome(
    request: HttpRequest, company: str, language: str, slug: str, step_id: int
) -> HttpResponse:
    guide = _published_guide(company, language, slug)
    form = StepOutcomeForm(request.POST)
    step = next((s for s in guide.steps.all() if s.pk == step_id), None)
    if step is None:
        raise Http404("No such step in this guide.")
    response = HttpResponseRedirect(f"{guide.public_path()}#step-{step.position}")
    if not form.is_valid():
        messages.error(request, _("Choose what happened at this step."))
        return response
    attempt = _attempt_from_cookie(request, guide)
    if attempt is None:
        attempt, token = services.attempt_start(
            guide=guide, user_agent=request.headers.get("User-Agent", "")
        )
        _remember_attempt(response, guide, token)
    try:
        services.step_outcome_record(
            attempt=attempt,
            step_id=step.pk,
            outcome=form.cleaned_data["outcome"],
            note=form.cleaned_data["note"],
        )
    except services.SelfHelpError as exc:
        messages.error(request, exc.message)
    return response


@require_POST
def attempt_restart(request: HttpRequest, company: str, language: str, slug: str) -> HttpResponse:
    guide = _published_guide(company, language, slug)
    _attempt, token = services.attempt_start(
        guide=guide, user_agent=request.headers.get("User-Agent", "")
    )
    response = redirect(guide.public_path())
    _remember_attempt(response, guide, token)
    return response


@require_POST
def feedback(request: HttpRequest, company: str, language: str, slug: str) -> HttpResponse:
    guide = _published_guide(company, language, slug)
    form = FeedbackForm(request.POST)
    if form.is_valid():
        services.feedback_give(
            guide=guide,
            attempt=_attempt_from_cookie(request, guide),
            helpful=form.cleaned_data["helpful"],
            comment=form.cleaned_data["comment"],
        )
        messages.success(request, _("Thank you for telling us."))
    else:
        messages.error(request, _("Choose Yes or Needs work."))
    return HttpResponseRedirect(f"{guide.public_path()}#feedback")


def contact(request: HttpRequest, company: str, language: str, slug: str) -> HttpResponse:
    guide = _published_guide(company, language, slug)
    attempt = _attempt_from_cookie(request, guide)
    if attempt is not None and attempt.status == Attempt.Status.ESCALATED:
        return render(request, "guides/contact_done.html", {"guide": guide, "attempt": attempt})
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token = None
        # One transaction: a request refused on the way (or failing) leaves no attempt behind.
        with transaction.atomic():
            if attempt is None:
                attempt, token = services.attempt_start(
                    guide=guide, user_agent=request.headers.get("User-Agent", "")
                )
            attempt = escalation_request(
                attempt=attempt,
                description=form.cleaned_data["description"],
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
            )
        response = render(request, "guides/contact_done.html", {"guide": guide, "attempt": attempt})
        if token:
            _remember_attempt(response, guide, token)
        return response
    tried = []
    if attempt is not None:
        current = selectors.current_outcomes(selectors.attempt_outcome_history(attempt=attempt))
        tried = sorted(current.values(), key=lambda outcome: outcome.step_position)
    return render(request, "guides/contact.html", {"guide": guide, "form": form, "tried": tried})
