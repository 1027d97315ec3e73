from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from guides import selectors
from guides.models import Company, Guide, Step


def home(request: HttpRequest) -> HttpResponse:
    companies = selectors.companies_with_published_guides().order_by("name")
    guides = selectors.published_guides().order_by("-view_count", "title")[:20]
    return render(request, "guides/home.html", {"companies": companies, "guides": guides})


def company_detail(request: HttpRequest, company: str) -> HttpResponse:
    company_obj = get_object_or_404(Company, slug=company)
    guides = selectors.published_guides().filter(company=company_obj).order_by("language", "title")
    return render(request, "guides/company.html", {"company": company_obj, "guides": guides})


def guide_detail(request: HttpRequest, company: str, language: str, slug: str) -> HttpResponse:
    guide: Guide = get_object_or_404(
        selectors.published_guide_detail(), company__slug=company, language=language, slug=slug
    )
    steps = list(guide.steps.all())
    return render(
        request,
        "guides/guide.html",
        {
            "guide": guide,
            "procedure": [s for s in steps if s.kind == Step.Kind.PROCEDURE],
            "alternatives": [s for s in steps if s.kind == Step.Kind.ALTERNATIVE],
            "last_resort": [s for s in steps if s.kind == Step.Kind.LAST_RESORT],
            "translations": selectors.guide_translations(guide=guide),
        },
    )
