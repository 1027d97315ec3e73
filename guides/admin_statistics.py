"""The statistics pages in the admin: what customers did with the guides, for the people who
write and run them.

Authors see the guides they write (guides.view_statistics and Guide.authors), supervisors
every guide (guides.view_all_statistics), anyone else nothing: the scope comes from
guides.statistics.statistics_guides_for, and a guide outside it is a 404, not a 403, so its
existence does not leak. The pages read the day tallies only (guides.statistics), draw their
charts on the server (guides.charts) and offer each chart's figures as CSV (``?download=``).
"""

from __future__ import annotations

import csv
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import get_language_bidi, gettext_lazy
from django.utils.translation import gettext as _

from guides.charts import Bar, bar_chart, column_chart, funnel_chart
from guides.gaps import content_gaps_visible_to
from guides.models import Company, Guide, Language
from guides.statistics import (
    Funnel,
    StepFigures,
    deflection_series,
    guide_funnels,
    guide_statistics,
    rate,
    statistics_allowed,
    statistics_guides_for,
    step_failure_notes,
)

# Without dates, the pages show the last twelve weeks; a range longer than this is refused.
DEFAULT_DAYS = 84
MAX_DAYS = 3 * 366
NOTES_PER_PAGE = 50


class StatisticsFilter(forms.Form):
    company = forms.ModelChoiceField(
        queryset=Company.objects.none(), required=False, label=gettext_lazy("Company")
    )
    guide = forms.ModelChoiceField(
        queryset=Guide.objects.none(), required=False, label=gettext_lazy("Guide")
    )
    language = forms.ChoiceField(required=False, label=gettext_lazy("Language"))
    date_from = forms.DateField(
        required=False,
        label=gettext_lazy("From"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = forms.DateField(
        required=False, label=gettext_lazy("To"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, guides=None, with_company: bool = True, **kwargs: Any):
        super().__init__(*args, **kwargs)
        language = self.fields["language"]
        assert isinstance(language, forms.ChoiceField)
        language.choices = [("", _("All languages")), *Language.choices]
        company = self.fields["company"]
        if with_company and guides is not None:
            assert isinstance(company, forms.ModelChoiceField)
            company.queryset = Company.objects.filter(pk__in=guides.values("company_id")).order_by(
                "name"
            )
            guide = self.fields["guide"]
            assert isinstance(guide, forms.ModelChoiceField)
            guide.queryset = guides.select_related("company").order_by("company__name", "title")
        else:
            del self.fields["company"]
            del self.fields["guide"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        today = timezone.now().date()
        date_to = cleaned.get("date_to") or today
        date_from = cleaned.get("date_from") or date_to - timedelta(days=DEFAULT_DAYS - 1)
        if date_from > date_to:
            raise forms.ValidationError(_("The start of the range is after its end."))
        if (date_to - date_from).days >= MAX_DAYS:
            raise forms.ValidationError(_("Choose a range of at most three years."))
        cleaned["date_from"], cleaned["date_to"] = date_from, date_to
        return cleaned


def percent(share: float | None, *, decimals: int = 0) -> str:
    """A share as a percentage in the page's language ("—" for none)."""
    if share is None:
        return "—"
    # Rounded here: number_format cuts decimals off rather than rounding them.
    return f"{number_format(round(share * 100, decimals), decimal_pos=decimals)} %"


def _seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return _("%(count)s s") % {"count": number_format(round(seconds))}
    if seconds < 7200:
        return _("%(count)s min") % {"count": number_format(round(seconds / 60))}
    return _("%(count)s h") % {"count": number_format(round(seconds / 3600, 1))}


def _csv(filename: str, header: list[str], rows: list[list[Any]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")  # so that spreadsheets open the Arabic as UTF-8
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        # A cell a spreadsheet would run as a formula is quoted as text (CSV injection).
        writer.writerow(
            [
                "'" + cell if isinstance(cell, str) and cell[:1] in "=+-@\t\r" else cell
                for cell in row
            ]
        )
    return response


def _funnel_stages(funnel: Funnel) -> list[tuple[str, int]]:
    return [
        (_("Views"), funnel.views),
        (_("Attempts"), funnel.attempts),
        (_("Resolved by self-help"), funnel.resolved),
        (_("Abandoned"), funnel.abandoned),
        (_("Asked for a person"), funnel.escalated),
        (_("Tickets solved"), funnel.tickets_solved),
    ]


def _step_label(figures: StepFigures) -> str:
    position = figures.position if figures.position is not None else "?"
    return f"{position}. {figures.title}"


class StatisticsAdminMixin(admin.ModelAdmin):
    """GuideAdmin's statistics pages: the overview of every guide in the user's scope, one
    guide's funnel and steps, and a step's failure notes."""

    def get_urls(self):
        view = self.admin_site.admin_view
        own = [
            path(
                "statistics/",
                view(self.statistics_overview_view),
                name="guides_guide_statistics",
            ),
            path(
                "<int:guide_id>/statistics/",
                view(self.guide_statistics_view),
                name="guides_guide_guide_statistics",
            ),
            path(
                "<int:guide_id>/statistics/steps/<int:step>/notes/",
                view(self.failure_notes_view),
                name="guides_guide_failure_notes",
            ),
        ]
        return own + super().get_urls()

    # --- helpers ---

    def _scope(self, request: HttpRequest):
        if not statistics_allowed(request.user):
            raise PermissionDenied
        return statistics_guides_for(request.user)

    def _guide_in_scope(self, request: HttpRequest, guide_id: int) -> Guide:
        guide = self._scope(request).select_related("company").filter(pk=guide_id).first()
        if guide is None:
            raise Http404
        return guide

    def _page(self, request: HttpRequest, template: str, context: dict[str, Any]):
        return TemplateResponse(
            request,
            f"admin/guides/statistics/{template}",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "rtl": get_language_bidi(),
                **context,
            },
        )

    # --- the overview ---

    def statistics_overview_view(self, request: HttpRequest) -> HttpResponse:
        guides = self._scope(request)
        # Bound even without parameters: every field is optional and clean() fills the range.
        form = StatisticsFilter(request.GET, guides=guides)
        if not form.is_valid():
            return self._page(request, "overview.html", {"title": _("Statistics"), "form": form})
        filters = form.cleaned_data
        company = filters.get("company")
        if filters.get("guide") is not None:
            guides = guides.filter(pk=filters["guide"].pk)
        date_from, date_to = filters["date_from"], filters["date_to"]
        scope = {
            "guides": guides,
            "company_id": company.pk if company else None,
            "language": filters.get("language") or None,
            "date_from": date_from,
            "date_to": date_to,
        }
        weeks = deflection_series(**scope)
        funnels = guide_funnels(**scope)
        download = request.GET.get("download")
        if download == "deflection":
            return _csv(
                "deflection.csv",
                ["week", "resolved", "escalated", "deflection_rate"],
                [
                    [point.week, point.resolved, point.escalated, _rate_cell(point.rate)]
                    for point in weeks
                ],
            )
        if download == "guides":
            return _csv(
                "guides.csv",
                [
                    "guide_id", "guide", "company", "language", "views", "attempts", "resolved",
                    "abandoned", "escalated", "tickets_solved", "tickets_reopened",
                    "deflection_rate",
                ],
                [
                    [
                        row.guide_id, row.title, row.company, row.language, row.funnel.views,
                        row.funnel.attempts, row.funnel.resolved, row.funnel.abandoned,
                        row.funnel.escalated, row.funnel.tickets_solved,
                        row.funnel.tickets_reopened, _rate_cell(row.funnel.deflection_rate),
                    ]
                    for row in funnels
                ],
            )  # fmt: skip
        rtl = get_language_bidi()
        # Over every guide in the scope (the weeks), not only the guides listed below.
        resolved = sum(point.resolved for point in weeks)
        escalated = sum(point.escalated for point in weeks)
        chart = column_chart(
            [(point.week, point.rate, percent(point.rate)) for point in weeks],
            title=_("Deflection rate per week"),
            rtl=rtl,
        )
        return self._page(
            request,
            "overview.html",
            {
                "title": _("Statistics"),
                "form": form,
                "date_from": date_from,
                "date_to": date_to,
                "deflection_chart": chart if weeks else None,
                "weeks": [(point, percent(point.rate)) for point in weeks],
                "deflection": percent(rate(resolved, resolved + escalated)),
                "funnels": [(row, percent(row.funnel.deflection_rate)) for row in funnels],
                "query": request.GET.urlencode(),
                "can_see_content_gaps": content_gaps_visible_to(request.user),
            },
        )

    # --- one guide ---

    def guide_statistics_view(self, request: HttpRequest, guide_id: int) -> HttpResponse:
        guide = self._guide_in_scope(request, guide_id)
        form = StatisticsFilter(request.GET, with_company=False)
        if not form.is_valid():
            return self._page(
                request, "guide.html", {"title": guide.title, "guide": guide, "form": form}
            )
        filters = form.cleaned_data
        language = filters.get("language") or None
        date_from, date_to = filters["date_from"], filters["date_to"]
        stats = guide_statistics(
            guide=guide, language=language, date_from=date_from, date_to=date_to
        )
        download = request.GET.get("download")
        if download == "funnel":
            return _csv(
                f"guide-{guide.pk}-funnel.csv",
                ["stage", "count"],
                [[label, count] for label, count in _funnel_stages(stats.funnel)],
            )
        if download == "steps":
            return _csv(
                f"guide-{guide.pk}-steps.csv",
                [
                    "version", "language", "step_id", "position", "kind", "title", "shown",
                    "tried", "worked", "did_not_work", "could_not_do", "skipped",
                    "abandoned_here", "success_rate", "interval_low", "interval_high",
                    "median_seconds",
                ],
                [
                    [
                        s.version, s.language, s.step, s.position, s.kind, s.title, s.shown,
                        s.tried, s.worked, s.did_not_work, s.could_not_do, s.skipped,
                        s.abandoned_here, _rate_cell(s.success_rate),
                        *(_rate_cell(bound) for bound in (s.success_interval or (None, None))),
                        round(s.median_seconds, 1) if s.median_seconds is not None else "",
                    ]
                    for s in stats.steps
                ],
            )  # fmt: skip
        rtl = get_language_bidi()
        stages = _funnel_stages(stats.funnel)
        funnel = funnel_chart(
            [(label, count, number_format(count, force_grouping=True)) for label, count in stages],
            title=_("From the page to the ticket"),
            rtl=rtl,
        )
        groups: dict[tuple[int, str], list[StepFigures]] = {}
        for figures in stats.steps:
            groups.setdefault((figures.version, figures.language), []).append(figures)
        step_groups = []
        for (version, step_language), steps in groups.items():
            title = _("Success per step, version %(version)s, %(language)s") % {
                "version": version,
                "language": Language(step_language).label,
            }
            chart = bar_chart(
                [
                    Bar(
                        label=_step_label(s),
                        share=s.success_rate,
                        value=(
                            f"{percent(s.success_rate)} ({s.worked}/{s.tried})"
                            if s.tried
                            else _("not tried")
                        ),
                        low=(s.success_interval or (None, None))[0],
                        high=(s.success_interval or (None, None))[1],
                    )
                    for s in steps
                ],
                title=title,
                rtl=rtl,
                labels_rtl=guide.text_direction == "rtl",
            )
            rows = [
                {
                    "figures": s,
                    "rate": percent(s.success_rate),
                    "interval": (
                        f"{percent(s.success_interval[0])} – {percent(s.success_interval[1])}"
                        if s.success_interval
                        else "—"
                    ),
                    "median": _seconds(s.median_seconds),
                    "notes_url": reverse(
                        "admin:guides_guide_failure_notes", args=[guide.pk, s.step]
                    ),
                }
                for s in steps
            ]
            step_groups.append({"title": title, "chart": chart, "rows": rows})
        return self._page(
            request,
            "guide.html",
            {
                "title": guide.title,
                "guide": guide,
                "form": form,
                "date_from": date_from,
                "date_to": date_to,
                "funnel": stats.funnel,
                "funnel_chart": funnel,
                "stages": stages,
                "deflection": percent(stats.funnel.deflection_rate),
                "median_solve": _seconds(stats.funnel.median_solve_seconds),
                "resolved_by_step": stats.resolved_by_step,
                "step_groups": step_groups,
                "query": request.GET.urlencode(),
            },
        )

    # --- a step's failure notes ---

    def failure_notes_view(self, request: HttpRequest, guide_id: int, step: int) -> HttpResponse:
        guide = self._guide_in_scope(request, guide_id)
        language = request.GET.get("language") or None
        if language not in (None, *Language.values):
            language = None
        search = (request.GET.get("q") or "").strip()[:200]
        notes = step_failure_notes(guide=guide, step=step, language=language, search=search)
        page = Paginator(notes, NOTES_PER_PAGE).get_page(request.GET.get("page"))
        title = next(
            (item.get("title") for item in _latest_snapshot(guide) if item.get("step") == step),
            None,
        )
        return self._page(
            request,
            "failure_notes.html",
            {
                "title": _("What customers wrote: %(step)s") % {"step": title or step},
                "guide": guide,
                "step": step,
                "page": page,
                "search": search,
                "language": language or "",
                "languages": Language.choices,
            },
        )


def _latest_snapshot(guide: Guide) -> list[dict[str, Any]]:
    version = guide.versions.order_by("-number").only("steps").first()
    return [item for item in (version.steps if version else []) if isinstance(item, dict)]


def _rate_cell(share: float | None) -> str:
    return "" if share is None else f"{share:.4f}"
