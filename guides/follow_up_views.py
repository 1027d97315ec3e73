"""The follow-up box's pages (guides.follow_up): ask, see the answers, say whether they
answered.

Without script the box is a plain form: asking posts, stores the question and redirects to
its own page (post/redirect/get, so a reload asks nothing again), whose "did this answer
you?" form posts and redirects back to it. Our script (guides/static/guides/follow_up.js)
posts the same forms with the FETCH_HEADER and puts the answer part it gets back in place,
in the box's live region: the same template (_follow_up_answers.html) in both ways.

Asking and answering count against the client's budget of writes on guide pages
(helpdesk.limits.guide_page_writes); past it, a 429 with Retry-After in the page's language.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.views.decorators.http import require_POST, require_safe

from guides import follow_up
from guides.models import Company, Guide, Language
from helpdesk import limits
from helpdesk.http import client_address

# Sent by follow_up.js: answer with the part to put in place, not with a redirect.
FETCH_HEADER = "X-Follow-Up"
ANSWERS_TEMPLATE = "guides/_follow_up_answers.html"


class FollowUpForm(forms.Form):
    question = forms.CharField(
        max_length=follow_up.MAX_QUESTION_CHARS,
        error_messages={"required": gettext_lazy("Type your question.")},
    )
    # Where it was asked: a guide page names its guide; the search page its company (if
    # any) and language.
    guide = forms.IntegerField(required=False, min_value=1)
    company = forms.SlugField(required=False, max_length=100)
    language = forms.ChoiceField(required=False, choices=Language.choices)

    def clean_guide(self) -> Guide | None:
        guide_id = self.cleaned_data["guide"]
        if guide_id is None:
            return None
        guide = (
            Guide.objects.select_related("company")
            .filter(pk=guide_id, status=Guide.Status.PUBLISHED)
            .first()
        )
        if guide is None:
            raise forms.ValidationError(gettext_lazy("This guide cannot be found."))
        return guide

    def clean_company(self) -> Company | None:
        slug = self.cleaned_data["company"]
        if not slug:
            return None
        company = Company.objects.filter(slug=slug).first()
        if company is None:
            raise forms.ValidationError(gettext_lazy("This company cannot be found."))
        return company

    def clean_question(self) -> str:
        question = follow_up.question_cleaned(self.cleaned_data["question"])
        if not question:
            raise forms.ValidationError(gettext_lazy("Type your question."))
        return question


def _fetched(request: HttpRequest) -> bool:
    return request.headers.get(FETCH_HEADER) == "fetch"


def _page_language(request: HttpRequest) -> str:
    """The language of the page the box is on: its guide's, else the one it posted."""
    guide_id = request.POST.get("guide", "")
    if guide_id.isascii() and guide_id.isdigit() and len(guide_id) < 12:
        language = Guide.objects.filter(pk=int(guide_id)).values_list("language", flat=True)
        if found := language.first():
            return found
    posted = request.POST.get("language", "")
    if posted in Language.values:
        return posted
    return get_language() or settings.LANGUAGE_CODE


def _answers_context(asked: follow_up.FollowUp) -> dict:
    return {"follow_up": asked, "person_url": follow_up.person_url(asked.question)}


def _refused(request: HttpRequest, retry_after: int) -> HttpResponse:
    if not _fetched(request):
        return limits.too_many_requests(request, retry_after, reason="writes")
    minutes = limits.minutes(retry_after)
    message = ngettext(
        "You asked many questions in a short time. Please try again in %(minutes)d minute.",
        "You asked many questions in a short time. Please try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}
    response = render(request, ANSWERS_TEMPLATE, {"follow_up_error": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


@require_POST
def follow_up_ask(request: HttpRequest) -> HttpResponse:
    """Ask a question from a follow-up box."""
    with translation.override(_page_language(request)):
        retry_after = limits.guide_page_writes().take(client_address(request))
        if retry_after is not None:
            return _refused(request, retry_after)
        form = FollowUpForm(request.POST)
        if not form.is_valid():
            if _fetched(request):
                errors = [str(error) for field in form.errors.values() for error in field]
                return render(
                    request, ANSWERS_TEMPLATE, {"follow_up_error": " ".join(errors)}, status=400
                )
            return render(
                request,
                "guides/follow_up.html",
                {
                    "form": form,
                    "page_language": translation.get_language(),
                    "guide": form.cleaned_data.get("guide"),
                },
                status=400,
            )
        data = form.cleaned_data
        asked = follow_up.follow_up_ask(
            question=data["question"],
            language=data["language"] or translation.get_language() or settings.LANGUAGE_CODE,
            company=data["company"],
            guide=data["guide"],
        )
        if _fetched(request):
            return render(request, ANSWERS_TEMPLATE, _answers_context(asked))
        return HttpResponseRedirect(
            reverse("guides:follow-up", kwargs={"token": asked.token}), status=303
        )


def _follow_up_or_404(token: str) -> follow_up.FollowUp:
    asked = follow_up.follow_up_of(token)
    if asked is None:
        raise Http404("No such follow-up question.")
    return asked


@require_safe
def follow_up_page(request: HttpRequest, token: str) -> HttpResponse:
    """A question's answers, without script: where asking leads, and where saying whether
    they answered leads back to."""
    asked = _follow_up_or_404(token)
    stored = asked.question
    with translation.override(stored.language):
        response = render(
            request,
            "guides/follow_up.html",
            {
                **_answers_context(asked),
                "page_language": stored.language,
                "guide": stored.guide
                if stored.guide is not None and stored.guide.status == Guide.Status.PUBLISHED
                else None,
                "follow_up_company": stored.company.slug if stored.company else "",
                "follow_up_language": stored.language,
            },
        )
    # The address holds the question's token: not for search engines or other sites.
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "same-origin"
    return response


@require_POST
def follow_up_verdict(request: HttpRequest, token: str) -> HttpResponse:
    """The customer's "did this answer your question?"."""
    asked = _follow_up_or_404(token)
    with translation.override(asked.question.language):
        retry_after = limits.guide_page_writes().take(client_address(request))
        if retry_after is not None:
            return _refused(request, retry_after)
        verdict = request.POST.get("answered", "")
        if verdict in ("yes", "no"):
            follow_up.follow_up_verdict_record(follow_up=asked.question, answered=verdict == "yes")
        if _fetched(request):
            return render(request, ANSWERS_TEMPLATE, _answers_context(asked))
        return HttpResponseRedirect(
            reverse("guides:follow-up", kwargs={"token": token}) + "#follow-up-result",
            status=303,
        )
