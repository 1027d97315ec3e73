"""Business schedules: a time zone, weekly working hours and holidays, edited on one page and
shared by any number of queues (tickets.business_hours counts the SLA clocks by them)."""

from __future__ import annotations

import itertools
import zoneinfo

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from tickets.models import BusinessSchedule, Holiday, Weekday, WorkingHours


def _time_zone_choices() -> list[tuple[str, str]]:
    # A list, not free text: a typo would make every due time of the queue fail to compute.
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class BusinessScheduleForm(forms.ModelForm):
    time_zone = forms.ChoiceField(
        label=capfirst(_("time zone")),  # as the model fields' labels are shown
        choices=_time_zone_choices,
        help_text=_("An IANA name such as Asia/Riyadh or Europe/London; hours are local time."),
    )

    class Meta:
        model = BusinessSchedule
        fields = ["name", "time_zone"]


class WorkingHoursFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        kept = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        if not kept:
            # A schedule with no hours would never let an SLA clock run.
            raise forms.ValidationError(
                _("Give the schedule at least one period of working hours."),
                code="schedule_without_hours",
            )
        by_day: dict[int, list[tuple]] = {}
        for row in kept:
            if row.get("starts_at") and row.get("ends_at"):
                by_day.setdefault(row["weekday"], []).append((row["starts_at"], row["ends_at"]))
        for weekday, spans in by_day.items():
            spans.sort()
            for (_start, end), (next_start, _next_end) in itertools.pairwise(spans):
                if next_start < end:
                    raise forms.ValidationError(
                        _("Two periods of %(weekday)s overlap; make them one."),
                        code="working_hours_overlap",
                        params={"weekday": Weekday(weekday).label},
                    )


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    formset = WorkingHoursFormSet
    extra = 0
    fields = ["weekday", "starts_at", "ends_at"]


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 0
    fields = ["date", "name"]


@admin.register(BusinessSchedule)
class BusinessScheduleAdmin(admin.ModelAdmin):
    form = BusinessScheduleForm
    list_display = ["name", "time_zone", "queue_count"]
    search_fields = ["name"]
    inlines = [WorkingHoursInline, HolidayInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[BusinessSchedule]:
        return super().get_queryset(request).annotate(queue_count=Count("queues"))

    @admin.display(description=_("Queues"), ordering="queue_count")
    def queue_count(self, schedule: BusinessSchedule) -> int:
        return schedule.queue_count  # type: ignore[attr-defined]
