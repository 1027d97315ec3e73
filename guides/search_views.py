"""The search page and the suggestions shown as a customer types (docs/search.md)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.translation import get_language, ngettext
from django.views.decorators.http import require_safe

from guides import search_log
from guides.forms import SearchForm
from guides.models import Guide, Language, SearchSource
from guides.search import search_guides, search_terms
from guides.snippets import search_results
from guides.spelling import corrected_text
from helpdesk import limits
from helpdesk.http import client_address

SUGGESTIONS = 5
# Results the search page shows, each with its snippet: more than a customer reads on a phone.
PAGE_RESULTS = 20
# Browsers and shared caches may keep a suggestions answer this long: its address says all it
# depends on (the words, the company, the language), and guides change rarely.
SUGGESTIONS_MAX_AGE = 60  # seconds


@require_safe
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    query = ""
    company = None
    language = get_language() or settings.LANGUAGE_CODE
    results = []
    click_token = ""
    corrected = ""
    if form.is_valid():
        query = form.cleaned_data["q"]
        company = form.cleaned_data["company"] or None
        guides = search_guides(
            query=query, company=company, prefer_language=language, limit=PAGE_RESULTS
        )
        terms = search_terms(query, language=language)
        results = search_results(guides, terms)
        # Shown when the words searched for are not the ones typed ("netflx" → "netflix").
        corrected = corrected_text(query, language=language)
        search_id = _search_logged(
            request, query=query, company=company, source=SearchSource.PAGE, results=guides
        )
        if search_id is not None:
            click_token = search_log.search_click_token(search_id)
    return render(
        request,
        "guides/search.html",
        {
            "search_form": form,
            "query": query,
            "results": results,
            "corrected": corrected,
            "click_token": click_token,
            "follow_up_company": company,
            "follow_up_language": language,
        },
    )


def _search_logged(
    request: HttpRequest, *, query: str, company: str | None, source: str, results: list[Guide]
) -> int | None:
    """Log a customer's search made through this page (guides.search_log), within the
    client's budget; the id of the logged search, or None."""
    if not search_log.search_log_wanted(request):
        return None
    if limits.search_log_writes().take(client_address(request)) is not None:
        return None
    return search_log.search_record(
        query=query,
        company_slug=company,
        language=get_language() or settings.LANGUAGE_CODE,
        source=source,
        result_count=len(results),
    )


@require_safe
def search_suggestions(request: HttpRequest) -> HttpResponse:
    """The best few guides for what a customer has typed so far, as JSON, for
    guides/static/guides/search.js. ``q`` the words, ``company`` (optional) a company slug,
    ``language`` the page's language: its guides come first and the message is in it.

    Limited per client (helpdesk.limits.search_suggestions): past the limit a 429 with
    Retry-After. Not logged: what is typed on the way to a search is not a search (the
    search itself is logged when it is sent)."""
    form = SearchForm(request.GET)
    language = request.GET.get("language", "")
    if language not in Language.values:
        language = get_language() or settings.LANGUAGE_CODE
    with translation.override(language):
        retry_after = limits.search_suggestions().take(client_address(request))
        if retry_after is not None:
            refusal = limits.Refusal(
                retry_after,
                ngettext(
                    "You typed many searches in a short time. Please try again in "
                    "%(minutes)d minute.",
                    "You typed many searches in a short time. Please try again in "
                    "%(minutes)d minutes.",
                    limits.minutes(retry_after),
                )
                % {"minutes": limits.minutes(retry_after)},
            )
            response = JsonResponse({"detail": refusal.message}, status=429)
            response["Retry-After"] = str(retry_after)
            patch_cache_control(response, no_store=True)
            return response
        guides: list[Guide] = []
        if form.is_valid() and form.cleaned_data["q"].strip():
            guides = search_guides(
                query=form.cleaned_data["q"],
                company=form.cleaned_data["company"] or None,
                prefer_language=language,
                limit=SUGGESTIONS,
            )
        count = len(guides)
        message = (
            ngettext("%(count)d guide matches.", "%(count)d guides match.", count)
            % {"count": count}
            if count
            else str(_no_match_message())
        )
    response = JsonResponse(
        {
            "message": message,
            "results": [
                {
                    "title": guide.title,
                    "url": guide.public_path(),
                    "company": guide.company.name,
                    "language": guide.language,
                    "dir": guide.text_direction,
                }
                for guide in guides
            ],
        },
        json_dumps_params={"ensure_ascii": False},
    )
    patch_cache_control(response, public=True, max_age=SUGGESTIONS_MAX_AGE)
    return response


def _no_match_message() -> str:
    return translation.gettext("No guide matches yet. Keep typing, or search.")
