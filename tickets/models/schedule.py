"""Business schedules: the working hours and holidays a queue's SLA clocks count
(tickets.business_hours does the arithmetic). Several queues may share one schedule; a queue
without one runs its clocks around the clock."""

from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from helpdesk.text import OneLineCharField
from tickets.business_hours import WorkCalendar


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            _("“%(value)s” is not a time zone name such as Asia/Riyadh or Europe/London."),
            code="time_zone_unknown",
            params={"value": value},
        ) from None


class Weekday(models.IntegerChoices):
    # As Python's date.weekday(): Monday is 0.
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class BusinessSchedule(models.Model):
    name = OneLineCharField(_("name"), max_length=100, unique=True)
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        validators=[validate_time_zone],
        help_text=_("An IANA name such as Asia/Riyadh or Europe/London; hours are local time."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("business schedule")
        verbose_name_plural = _("business schedules")

    def __str__(self) -> str:
        return self.name

    def calendar(self) -> WorkCalendar | None:
        """Reads the hours and holidays (two queries, none when prefetched). A schedule left
        with no hours (validation refuses one; the database may still hold it) counts around
        the clock rather than never: None."""
        intervals = [(h.weekday, h.starts_at, h.ends_at) for h in self.working_hours.all()]
        if not intervals:
            return None
        return WorkCalendar.build(
            time_zone=self.time_zone,
            intervals=intervals,
            holidays=[holiday.date for holiday in self.holidays.all()],
        )


class WorkingHours(models.Model):
    schedule = models.ForeignKey(
        BusinessSchedule,
        on_delete=models.CASCADE,
        related_name="working_hours",
        verbose_name=_("schedule"),
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    starts_at = models.TimeField(_("from"))
    ends_at = models.TimeField(_("until"))

    class Meta:
        ordering = ["schedule", "weekday", "starts_at"]
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="working_hours_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6), name="working_hours_weekday_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.starts_at:%H:%M}–{self.ends_at:%H:%M}"

    def clean(self) -> None:
        if None not in (self.starts_at, self.ends_at) and self.ends_at <= self.starts_at:
            raise ValidationError(
                {
                    "ends_at": _(
                        "The end must be after the start. A shift past midnight is two "
                        "rows, one on each day."
                    )
                },
                code="working_hours_end_before_start",
            )


class Holiday(models.Model):
    schedule = models.ForeignKey(
        BusinessSchedule,
        on_delete=models.CASCADE,
        related_name="holidays",
        verbose_name=_("schedule"),
    )
    date = models.DateField(_("date"), help_text=_("A local date with no working time."))
    name = OneLineCharField(_("name"), max_length=100, blank=True)

    class Meta:
        ordering = ["schedule", "date"]
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        constraints = [
            models.UniqueConstraint(fields=["schedule", "date"], name="holiday_one_per_date"),
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}".strip()
