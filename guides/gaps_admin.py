"""The admin's "Content gaps" page (guides.gaps) and its "mark handled" button, as views of
the guide admin (``admin:guides_guide_content_gaps``), linked from the guide list."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from guides import gaps
from guides.models import Company, ContentGapKind, Language, text_direction


class GapFilterForm(forms.Form):
    """The page's filters: one company of those the reader sees, and a language."""

    company = forms.ChoiceField(required=False, label=_("Company"))
    language = forms.ChoiceField(
        required=False,
        label=_("Language"),
        choices=[("", _("Both languages")), *Language.choices],
    )

    def __init__(self, *args: Any, companies: list[Company], every_company: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.companies = {company.slug: company for company in companies}
        everything = _("All companies") if every_company else _("All my companies")
        cast(forms.ChoiceField, self.fields["company"]).choices = [
            ("", everything),
            *((company.slug, company.name) for company in companies),
        ]

    def clean_company(self) -> Company | None:
        slug = self.cleaned_data["company"]
        return self.companies[slug] if slug else None

    def query_string(self) -> str:
        """These filters as a query string (for the way back after marking an item)."""
        data = self.cleaned_data
        params = {
            "company": data["company"].slug if data.get("company") else "",
            "language": data.get("language") or "",
        }
        return urlencode({name: value for name, value in params.items() if value})


class GapHandleForm(forms.Form):
    """One item's "mark handled": what names the item (guides.gaps.GapItem), and the page's
    filters to go back to. The company must be one the user sees (or none, for the items
    that named no company)."""

    kind = forms.ChoiceField(choices=ContentGapKind.choices)
    key = forms.CharField(max_length=300)
    company = forms.ChoiceField(required=False)
    language = forms.ChoiceField(choices=Language.choices)

    def __init__(self, *args: Any, companies: list[Company], **kwargs):
        super().__init__(*args, **kwargs)
        self.companies = {str(company.pk): company for company in companies}
        cast(forms.ChoiceField, self.fields["company"]).choices = [
            ("", "—"),
            *((pk, pk) for pk in self.companies),
        ]

    def clean_company(self) -> Company | None:
        pk = self.cleaned_data["company"]
        return self.companies[pk] if pk else None


def _guide_admin_url(guide_id: int) -> str:
    return reverse("admin:guides_guide_change", args=[guide_id])


class ContentGapsPages(admin.ModelAdmin):
    """GuideAdmin's "Content gaps" page and the button that marks an item handled."""

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        own = [
            path(
                "content-gaps/",
                self.admin_site.admin_view(self.content_gaps_view),
                name="{}_{}_content_gaps".format(*info),
            ),
            path(
                "content-gaps/handled/",
                self.admin_site.admin_view(self.content_gap_handle_view),
                name="{}_{}_content_gap_handle".format(*info),
            ),
        ]
        return own + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_see_content_gaps": gaps.content_gaps_visible_to(request.user),
        }
        return super().changelist_view(request, extra_context)

    def content_gaps_view(self, request: HttpRequest) -> HttpResponse:
        """The content gaps of the companies the user sees, filtered by company and
        language; a bad filter is a form error (400), not an empty list."""
        if not gaps.content_gaps_visible_to(request.user):
            raise PermissionDenied
        companies, every_company = gaps.content_gap_companies(request.user)
        form = GapFilterForm(request.GET, companies=companies, every_company=every_company)
        found = None
        if form.is_valid():
            found = gaps.content_gaps(
                companies=companies,
                every_company=every_company,
                company=form.cleaned_data["company"],
                language=form.cleaned_data["language"] or None,
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Content gaps"),
            "subtitle": None,
            "opts": self.opts,
            "form": form,
            "filter_company": (
                form.cleaned_data["company"].slug
                if found is not None and form.cleaned_data["company"]
                else ""
            ),
            "filter_language": form.cleaned_data["language"] if found is not None else "",
            "companies": companies,
            "every_company": every_company,
            "can_handle": request.user.has_perm("guides.handle_content_gaps"),
            "can_see_attempts": request.user.has_perm("guides.view_attempt"),
            "period_days": gaps.PERIOD_DAYS,
            "week_days": gaps.WEEK_DAYS,
            "baseline_days": gaps.BASELINE_DAYS,
            "min_tried": gaps.MIN_TRIED,
            "min_rise": round(gaps.MIN_RISE * 100),
            "sections": self._sections(found) if found is not None else {},
        }
        return TemplateResponse(
            request,
            "admin/guides/guide/content_gaps.html",
            context,
            status=200 if found is not None else 400,
        )

    def _sections(self, found: gaps.ContentGaps) -> dict[str, list[dict[str, Any]]]:
        """Each section's items with the links they lead to and the text direction of the
        customers' words in them."""
        search_page = reverse("guides:search")

        def search_url(item: gaps.SearchGap) -> str:
            params = {"q": item.query}
            if item.company is not None:
                params["company"] = item.company.slug
            return f"{search_page}?{urlencode(params)}"

        def row(item: gaps.GapItem, url: str, **more: Any) -> dict[str, Any]:
            return {
                "item": item,
                "dir": text_direction(item.language),
                "language": Language(item.language).label,
                "url": url,
                **more,
            }

        return {
            "searches": [row(item, search_url(item)) for item in found.searches],
            "needs_work": [
                row(item, _guide_admin_url(item.feedback.guide_id)) for item in found.needs_work
            ],
            "step_failures": [
                row(
                    item,
                    _guide_admin_url(item.step.guide_id),
                    rate_now=round(item.rate_now * 100),
                    rate_before=round(item.rate_before * 100),
                )
                for item in found.step_failures
            ],
            "failure_words": [
                row(item, _guide_admin_url(item.step.guide_id)) for item in found.failure_words
            ],
            "contact_requests": [
                row(item, reverse("admin:guides_attempt_change", args=[item.attempt.pk]))
                for item in found.contact_requests
            ],
            "follow_ups": [
                row(
                    item,
                    _guide_admin_url(item.follow_up.guide_id) if item.follow_up.guide_id else "",
                )
                for item in found.follow_ups
            ],
        }

    def content_gap_handle_view(self, request: HttpRequest) -> HttpResponse:
        """The "mark handled" button of one item (post/redirect/get). The item's company must
        be one the user sees the gaps of; a malformed item is a message, not an error page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("guides.handle_content_gaps") or not (
            gaps.content_gaps_visible_to(request.user)
        ):
            raise PermissionDenied
        companies, every_company = gaps.content_gap_companies(request.user)
        page = reverse("admin:guides_guide_content_gaps")
        back = GapFilterForm(
            {
                "company": request.POST.get("filter_company", ""),
                "language": request.POST.get("filter_language", ""),
            },
            companies=companies,
            every_company=every_company,
        )
        if back.is_valid() and back.query_string():
            page = f"{page}?{back.query_string()}"
        form = GapHandleForm(request.POST, companies=companies)
        if not form.is_valid():
            if "company" in form.errors and set(form.errors) == {"company"}:
                raise PermissionDenied  # a company whose gaps this user does not see
            messages.error(request, _("That item could not be marked: reload the page."))
            return HttpResponseRedirect(page)
        data = form.cleaned_data
        gaps.content_gap_handle(
            kind=data["kind"],
            key=data["key"],
            company=data["company"],
            language=data["language"],
            user=request.user,
        )
        messages.success(
            request, _("Marked handled. It shows again if something new comes up after now.")
        )
        return HttpResponseRedirect(page)
