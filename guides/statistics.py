"""The statistics of self-help, read from the day tallies (guides.rollups writes them).

Every read here is a fixed number of queries over the tallies, whatever the number of attempts
behind them: the pages and the API never count outcomes. The one exception is a step's failure
notes, a page of the outcomes themselves, served by an index of its own.

The formulas (docs/statistics.md):

- tried = worked + did not work + could not do (a skipped step was not tried);
  success rate = worked / tried, with its 95 % Wilson score interval.
- Medians of times come from histograms summed over days (SECONDS_BUCKETS), interpolated
  linearly inside the bucket that holds the middle observation.
- deflection rate = resolved / (resolved + escalated): of the customers whose attempt ended
  one way or the other, the share self-help resolved. Abandoned attempts count in neither:
  nobody knows whether they gave up or went away satisfied.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import TruncWeek

from guides.models import (
    FAILURE_OUTCOMES,
    SECONDS_BUCKETS,
    Guide,
    GuideDayTally,
    GuideVersion,
    StepDayTally,
    StepOutcome,
    seconds_histogram_empty,
)
from guides.ordering import wilson_interval
from guides.rollups import day_bounds

VIEW_ALL_PERMISSION = "guides.view_all_statistics"
VIEW_OWN_PERMISSION = "guides.view_statistics"


# --- who sees what -------------------------------------------------------------------------


def statistics_guides_for(user: Any) -> QuerySet[Guide]:
    """The guides whose statistics ``user`` may see: every guide with view_all_statistics
    (supervisors), the guides they write with view_statistics (authors), none otherwise."""
    if not (user and user.is_authenticated and user.is_active):
        return Guide.objects.none()
    if user.has_perm(VIEW_ALL_PERMISSION):
        return Guide.objects.all()
    if user.has_perm(VIEW_OWN_PERMISSION):
        return Guide.objects.filter(company__authors=user)
    return Guide.objects.none()


def statistics_allowed(user: Any) -> bool:
    """Whether ``user`` may see any statistics at all (the API's permission check)."""
    return bool(
        user
        and user.is_authenticated
        and user.is_active
        and (user.has_perm(VIEW_ALL_PERMISSION) or user.has_perm(VIEW_OWN_PERMISSION))
    )


# --- the arithmetic ------------------------------------------------------------------------


def histogram_add(total: list[int], histogram: Sequence[int] | None) -> list[int]:
    """Add a stored histogram to a running total (in place; also returns it). A histogram of
    another length (written with other buckets) is added bucket by bucket as far as it goes."""
    if histogram:
        for index, count in enumerate(histogram[: len(total)]):
            total[index] += int(count)
    return total


def histogram_median(histogram: Sequence[int]) -> float | None:
    """The median of the observations a SECONDS_BUCKETS histogram counts, interpolated linearly
    inside the bucket that holds the middle one (the bucket from the previous bound, or 0, to
    its own). In the last, open bucket the median is reported as its lower bound. None when
    the histogram is empty."""
    count = sum(histogram)
    if count == 0:
        return None
    middle = count / 2
    seen = 0
    for index, in_bucket in enumerate(histogram):
        if in_bucket and seen + in_bucket >= middle:
            lower = SECONDS_BUCKETS[index - 1] if index > 0 else 0
            if index >= len(SECONDS_BUCKETS):
                return float(lower)
            upper = SECONDS_BUCKETS[index]
            return lower + (middle - seen) / in_bucket * (upper - lower)
        seen += in_bucket
    return None  # not reached: the counts add up to count


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# --- per step ------------------------------------------------------------------------------


@dataclass
class StepFigures:
    """One step of one guide version, for the customers of one language."""

    version_id: int
    version: int  # its number
    step: int  # the step's id, its identity across versions
    language: str
    position: int | None  # from the version's snapshot; None if the snapshot lacks the step
    kind: str
    title: str
    shown: int = 0
    worked: int = 0
    did_not_work: int = 0
    could_not_do: int = 0
    skipped: int = 0
    abandoned_here: int = 0
    seconds_spent: list[int] = field(default_factory=seconds_histogram_empty)

    @property
    def tried(self) -> int:
        return self.worked + self.did_not_work + self.could_not_do

    @property
    def success_rate(self) -> float | None:
        return rate(self.worked, self.tried)

    @property
    def success_interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.worked, self.tried)

    @property
    def median_seconds(self) -> float | None:
        return histogram_median(self.seconds_spent)


@dataclass
class Funnel:
    """A guide's customers from the page to the ticket, over a range of days."""

    views: int = 0
    attempts: int = 0
    resolved: int = 0
    abandoned: int = 0
    escalated: int = 0
    tickets_solved: int = 0
    tickets_reopened: int = 0
    solve_seconds: list[int] = field(default_factory=seconds_histogram_empty)

    @property
    def in_progress(self) -> int:
        return self.attempts - self.resolved - self.abandoned - self.escalated

    @property
    def deflection_rate(self) -> float | None:
        return rate(self.resolved, self.resolved + self.escalated)

    @property
    def median_solve_seconds(self) -> float | None:
        return histogram_median(self.solve_seconds)


@dataclass
class ResolvedAt:
    """How many attempts a step resolved (its current "worked" outcomes), all versions."""

    step: int
    title: str
    worked: int


@dataclass
class GuideStatistics:
    guide: Guide
    funnel: Funnel
    steps: list[StepFigures]
    resolved_by_step: list[ResolvedAt]


def _day_range(queryset: QuerySet, date_from: date | None, date_to: date | None) -> QuerySet:
    if date_from is not None:
        queryset = queryset.filter(day__gte=date_from)
    if date_to is not None:
        queryset = queryset.filter(day__lte=date_to)
    return queryset


def guide_statistics(
    *,
    guide: Guide,
    language: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> GuideStatistics:
    """A guide's funnel and its per-step figures (per version and language) over the customers
    who started between ``date_from`` and ``date_to`` (their start days, UTC; views by the
    day they were counted). Three queries: the guide's day tallies, its step tallies, the
    snapshots of the versions they name."""
    days = _day_range(GuideDayTally.objects.filter(guide=guide), date_from, date_to)
    step_days = _day_range(StepDayTally.objects.filter(guide=guide), date_from, date_to)
    if language:
        days = days.filter(language=language)
        step_days = step_days.filter(language=language)

    funnel = Funnel()
    for row in days.values_list(
        "views", "attempts", "resolved", "abandoned", "escalated", "tickets_solved",
        "tickets_reopened", "solve_seconds",
    ):  # fmt: skip
        funnel.views += row[0]
        funnel.attempts += row[1]
        funnel.resolved += row[2]
        funnel.abandoned += row[3]
        funnel.escalated += row[4]
        funnel.tickets_solved += row[5]
        funnel.tickets_reopened += row[6]
        histogram_add(funnel.solve_seconds, row[7])

    totals: dict[tuple[int, int, str], dict[str, Any]] = {}
    for row in step_days.values(
        "version_id", "step_key", "language", "shown", "worked", "did_not_work",
        "could_not_do", "skipped", "abandoned_here", "seconds_spent",
    ):  # fmt: skip
        key = (row["version_id"], row["step_key"], row["language"])
        total = totals.setdefault(key, {"seconds_spent": seconds_histogram_empty()})
        for name in ("shown", "worked", "did_not_work", "could_not_do", "skipped"):
            total[name] = total.get(name, 0) + row[name]
        total["abandoned_here"] = total.get("abandoned_here", 0) + row["abandoned_here"]
        histogram_add(total["seconds_spent"], row["seconds_spent"])

    versions = {
        version.pk: version
        for version in GuideVersion.objects.filter(pk__in={key[0] for key in totals})
    }
    steps = []
    for (version_id, step_key, step_language), total in totals.items():
        version = versions[version_id]
        snapshot = (
            next((item for item in version.steps if _snapshot_step(item) == step_key), None) or {}
        )
        steps.append(
            StepFigures(
                version_id=version_id,
                version=version.number,
                step=step_key,
                language=step_language,
                position=snapshot.get("position"),
                kind=str(snapshot.get("kind", "")),
                title=str(snapshot.get("title", "")),
                **total,
            )
        )
    steps.sort(
        key=lambda s: (-s.version, s.language, s.position if s.position is not None else 1e9)
    )
    return GuideStatistics(
        guide=guide, funnel=funnel, steps=steps, resolved_by_step=_resolved_by_step(steps)
    )


def _snapshot_step(item: Any) -> int | None:
    try:
        return int(item.get("step"))
    except (AttributeError, TypeError, ValueError):
        return None


def _resolved_by_step(steps: Iterable[StepFigures]) -> list[ResolvedAt]:
    by_step: dict[int, ResolvedAt] = {}
    for figures in sorted(steps, key=lambda s: -s.version):  # the newest version's title
        entry = by_step.setdefault(figures.step, ResolvedAt(figures.step, figures.title, 0))
        entry.worked += figures.worked
    return sorted(
        (entry for entry in by_step.values() if entry.worked),
        key=lambda entry: (-entry.worked, entry.step),
    )


# --- deflection ----------------------------------------------------------------------------

# What a deflection series can be broken down by, besides the week.
DEFLECTION_BREAKDOWNS = {
    "company": ("company_id", "company__name"),
    "guide": ("guide_id", "guide__title"),
    "language": ("language", "language"),
}


@dataclass
class DeflectionPoint:
    week: str  # ISO week, e.g. "2026-W45"
    week_start: date  # its Monday
    key: str | int | None  # the company's or guide's id, or the language; None for all
    label: str
    resolved: int
    escalated: int

    @property
    def rate(self) -> float | None:
        return rate(self.resolved, self.resolved + self.escalated)


def deflection_series(
    *,
    guides: QuerySet[Guide] | None = None,
    company_id: int | None = None,
    guide_id: int | None = None,
    language: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    per: str | None = None,
) -> list[DeflectionPoint]:
    """Deflection per ISO week (of the attempts' start days), optionally per company, guide
    or language; over ``guides`` only (a user's scope) when given. One query."""
    days = _day_range(GuideDayTally.objects.all(), date_from, date_to)
    if guides is not None:
        days = days.filter(guide__in=guides.values("pk"))
    if company_id is not None:
        days = days.filter(company_id=company_id)
    if guide_id is not None:
        days = days.filter(guide_id=guide_id)
    if language:
        days = days.filter(language=language)
    dimension: tuple[str, ...] = DEFLECTION_BREAKDOWNS[per] if per else ()
    rows = (
        days.order_by()
        .annotate(week=TruncWeek("day"))
        .values("week", *dict.fromkeys(dimension))
        .annotate(resolved=Sum("resolved"), escalated=Sum("escalated"))
        .filter(Q(resolved__gt=0) | Q(escalated__gt=0))
        .order_by("week", *dimension[:1])
    )
    points = []
    for row in rows:
        week_start = row["week"]
        year, number, _weekday = week_start.isocalendar()
        points.append(
            DeflectionPoint(
                week=f"{year}-W{number:02d}",
                week_start=week_start,
                key=row[dimension[0]] if dimension else None,
                label=str(row[dimension[1]]) if dimension else "",
                resolved=row["resolved"],
                escalated=row["escalated"],
            )
        )
    return points


# --- failure notes -------------------------------------------------------------------------


def step_failure_notes(
    *,
    guide: Guide,
    step: int,
    language: str | None = None,
    search: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[StepOutcome]:
    """What customers wrote when a step did not work or could not be done, newest first
    (step_outcome_failure_note_idx walks them in this order, and counts them index-only).
    ``search`` matches a part of the note, in any case.

    The step is tied to the guide through the step's own row (one row, looked up by its key),
    not through each outcome's attempt: at a million attempts that join cost 400 ms for a
    popular step, the index-only count 10 ms. A guide's attempts are all in its language
    (guides.services.attempt_start), so the language filter needs no join either."""
    if language and language != guide.language:
        return StepOutcome.objects.none()
    notes = (
        StepOutcome.objects.filter(
            step_id=step, step__guide_id=guide.pk, outcome__in=FAILURE_OUTCOMES
        )
        .exclude(note="")
        .select_related("attempt")
        .only(
            "id",
            "step_id",
            "outcome",
            "note",
            "recorded_at",
            "attempt__language",
            "attempt__guide_version_id",
        )
        .order_by("-recorded_at", "-id")
    )
    if search:
        notes = notes.filter(note__icontains=search)
    if date_from is not None:
        notes = notes.filter(recorded_at__gte=day_bounds(date_from)[0])
    if date_to is not None and date_to < date.max:  # the last day has no next to end at
        notes = notes.filter(recorded_at__lt=day_bounds(date_to)[1])
    return notes


# --- the guides side by side ---------------------------------------------------------------


@dataclass
class GuideFunnel:
    guide_id: int
    title: str
    company: str
    language: str
    funnel: Funnel


def guide_funnels(
    *,
    guides: QuerySet[Guide],
    company_id: int | None = None,
    language: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    limit: int = 50,
) -> list[GuideFunnel]:
    """The funnels of ``guides`` (a user's scope) over a range of days, the guides with the
    most attempts first, at most ``limit`` of them. One query, whatever the number of days:
    the sums are the database's; the histograms stay out (each guide's page has its medians)."""
    days = _day_range(
        GuideDayTally.objects.filter(guide__in=guides.values("pk")), date_from, date_to
    )
    if company_id is not None:
        days = days.filter(company_id=company_id)
    if language:
        days = days.filter(language=language)
    rows = (
        days.order_by()
        .values("guide_id", "guide__title", "guide__company__name", "guide__language")
        .annotate(
            views=Sum("views"),
            attempts=Sum("attempts"),
            resolved=Sum("resolved"),
            abandoned=Sum("abandoned"),
            escalated=Sum("escalated"),
            tickets_solved=Sum("tickets_solved"),
            tickets_reopened=Sum("tickets_reopened"),
        )
        .order_by("-attempts", "-views", "guide_id")[:limit]
    )
    return [
        GuideFunnel(
            guide_id=row["guide_id"],
            title=row["guide__title"],
            company=row["guide__company__name"],
            language=row["guide__language"],
            funnel=Funnel(
                views=row["views"],
                attempts=row["attempts"],
                resolved=row["resolved"],
                abandoned=row["abandoned"],
                escalated=row["escalated"],
                tickets_solved=row["tickets_solved"],
                tickets_reopened=row["tickets_reopened"],
            ),
        )
        for row in rows
    ]
