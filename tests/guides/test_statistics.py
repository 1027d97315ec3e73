"""The statistics read from the day tallies: every figure of the constructed story (see
tests.helpers.statistics_story) worked out by hand, and the reads' query counts pinned."""

from __future__ import annotations

import datetime

import pytest

from guides import statistics
from guides.models import SECONDS_BUCKETS, seconds_histogram_empty
from tests.factories import CompanyFactory, GuideFactory, GuideVersionFactory
from tests.helpers import STORY_DAY_1, STORY_DAY_2, statistics_story
from tickets import services


@pytest.fixture
def story(db):
    made = statistics_story()
    services.statistics_rollup()
    return made


# --- the arithmetic ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        (1, 4, 0.0456, 0.6994),
        (1, 2, 0.0945, 0.9055),
        (1, 1, 0.2065, 1.0),
        (0, 10, 0.0, 0.2775),
        (71, 100, 0.6146, 0.7899),
    ],
)
def test_the_wilson_interval_matches_the_published_values(successes, trials, low, high):
    interval = statistics.wilson_interval(successes, trials)
    assert interval is not None
    assert interval[0] == pytest.approx(low, abs=5e-5)
    assert interval[1] == pytest.approx(high, abs=5e-5)


def test_no_trials_have_no_interval():
    assert statistics.wilson_interval(0, 0) is None


def test_the_median_is_interpolated_inside_its_bucket():
    histogram = seconds_histogram_empty()
    assert statistics.histogram_median(histogram) is None
    histogram[1] = 1  # (5, 10]
    histogram[2] = 2  # (10, 20]
    histogram[3] = 1
    histogram[10] = 1
    # Five values, the middle at 2.5: one before the (10, 20] bucket, 1.5 of its 2 into it.
    assert statistics.histogram_median(histogram) == pytest.approx(17.5)
    last = seconds_histogram_empty()
    last[-1] = 3  # all longer than the last bound: reported as that bound
    assert statistics.histogram_median(last) == SECONDS_BUCKETS[-1]


# --- a guide's statistics ------------------------------------------------------------------


def test_the_funnel_of_the_story(story):
    figures = statistics.guide_statistics(guide=story.guide)
    funnel = figures.funnel
    assert (funnel.views, funnel.attempts, funnel.resolved) == (0, 6, 3)
    assert (funnel.abandoned, funnel.escalated, funnel.in_progress) == (1, 1, 1)
    assert (funnel.tickets_solved, funnel.tickets_reopened) == (1, 1)
    # One ticket solved 7,200 s after its escalation: the (3600, 7200] bucket, half-way.
    assert funnel.median_solve_seconds == pytest.approx(5400)
    assert funnel.deflection_rate == pytest.approx(3 / 4)
    s1, s2, s3, _s4 = (step.pk for step in story.steps)
    assert [(r.step, r.worked) for r in figures.resolved_by_step] == [(s1, 1), (s2, 1), (s3, 1)]


def test_the_steps_of_the_story(story):
    figures = statistics.guide_statistics(guide=story.guide)
    by_step = {f.step: f for f in figures.steps}
    s1, s2, s3, s4 = story.steps
    assert [f.step for f in figures.steps] == [s1.pk, s2.pk, s3.pk, s4.pk]  # by position
    one = by_step[s1.pk]
    assert (one.version, one.language, one.title, one.kind) == (1, "en", s1.title, "procedure")
    assert (one.shown, one.worked, one.did_not_work, one.could_not_do) == (6, 1, 3, 0)
    assert (one.skipped, one.abandoned_here, one.tried) == (1, 1, 4)
    assert one.success_rate == pytest.approx(0.25)
    assert one.success_interval == pytest.approx((0.0456, 0.6994), abs=5e-5)
    # 8, 15, 20, 30, 400 s: the middle (2.5 of 5) is 1.5 of the 2 values in (10, 20].
    assert one.median_seconds == pytest.approx(17.5)

    two = by_step[s2.pk]
    assert (two.shown, two.worked, two.did_not_work, two.could_not_do, two.tried) == (
        6, 1, 1, 0, 2,
    )  # fmt: skip
    assert two.success_interval == pytest.approx((0.0945, 0.9055), abs=5e-5)
    assert two.median_seconds == pytest.approx(60)  # 60 and 600 s: all of (45, 60]

    three = by_step[s3.pk]
    assert (three.tried, three.success_rate) == (1, 1.0)
    assert three.median_seconds == pytest.approx(52.5)  # one 60 s value, half-way in (45, 60]

    four = by_step[s4.pk]
    assert (four.shown, four.tried, four.success_rate, four.success_interval) == (
        6, 0, None, None,
    )  # fmt: skip
    assert four.median_seconds is None


def test_a_date_range_and_a_language_filter_the_figures(story):
    day_2 = statistics.guide_statistics(guide=story.guide, date_from=STORY_DAY_2)
    assert (day_2.funnel.attempts, day_2.funnel.resolved, day_2.funnel.escalated) == (2, 1, 0)
    assert {f.step: f.shown for f in day_2.steps} == {s.pk: 2 for s in story.steps}
    day_1 = statistics.guide_statistics(
        guide=story.guide, date_from=STORY_DAY_1, date_to=STORY_DAY_1
    )
    assert day_1.funnel.attempts == 4
    arabic = statistics.guide_statistics(guide=story.guide, language="ar")
    assert (arabic.funnel.attempts, arabic.steps) == (0, [])


def test_each_version_has_its_own_figures(story):
    from guides.models import Attempt

    newer = GuideVersionFactory(guide=story.guide)
    Attempt.objects.filter(pk=story.attempts["A6"].pk).update(guide_version=newer)
    services.statistics_rollup(full=True)
    figures = statistics.guide_statistics(guide=story.guide)
    versions = {(f.version, f.step): f.shown for f in figures.steps}
    s1 = story.steps[0].pk
    assert (versions[(2, s1)], versions[(1, s1)]) == (1, 5)
    assert [f.version for f in figures.steps][:4] == [2, 2, 2, 2]  # the newest first
    # Resolved by step adds the versions up: S1 still resolved one attempt.
    assert (s1, 1) in [(r.step, r.worked) for r in figures.resolved_by_step]


@pytest.mark.parametrize("size", [1, 6])
def test_the_guide_statistics_take_three_queries_at_any_size(db, django_assert_num_queries, size):
    company = CompanyFactory()
    stories = [statistics_story(company=company) for _ in range(size)]
    services.statistics_rollup()
    with django_assert_num_queries(3):  # guide tallies, step tallies, versions
        figures = statistics.guide_statistics(guide=stories[0].guide)
    assert figures.funnel.attempts == 6
    with django_assert_num_queries(1):
        points = statistics.deflection_series(company_id=company.pk, per="guide")
    assert len(points) == size


# --- deflection ----------------------------------------------------------------------------


def test_the_deflection_series_by_week_and_company(story):
    other = statistics_story()  # another company, the same days
    # Full: the story's rows carry updated_at of their own days, long before the watermark.
    services.statistics_rollup(full=True)
    [week] = statistics.deflection_series()
    assert (week.week, week.week_start, week.key) == ("2026-W45", datetime.date(2026, 11, 2), None)
    assert (week.resolved, week.escalated, week.rate) == (6, 2, 0.75)

    per_company = statistics.deflection_series(per="company")
    assert sorted(p.key for p in per_company) == sorted(
        [story.guide.company_id, other.guide.company_id]
    )
    assert {p.label for p in per_company} == {story.guide.company.name, other.guide.company.name}
    assert all((p.resolved, p.escalated) == (3, 1) for p in per_company)

    only_other = statistics.deflection_series(company_id=other.guide.company_id)
    assert [(p.resolved, p.escalated) for p in only_other] == [(3, 1)]
    assert statistics.deflection_series(language="ar") == []
    assert statistics.deflection_series(date_from=STORY_DAY_2, per="language")[0].rate == 1.0


def test_an_authors_deflection_covers_their_guides_only(story):
    from tests.factories import staff_user
    from tickets import roles

    other = statistics_story()  # another company's guide: authors write for companies
    services.statistics_rollup(full=True)
    ann = staff_user("ann", roles.AUTHOR)
    other.guide.company.authors.add(ann)
    scope = statistics.statistics_guides_for(ann)
    assert list(scope) == [other.guide]
    [week] = statistics.deflection_series(guides=scope)
    assert (week.resolved, week.escalated) == (3, 1)


def test_a_week_with_neither_resolved_nor_escalated_is_left_out(db):
    guide = GuideFactory()
    GuideVersionFactory(guide=guide)
    from guides.models import GuideDayTally

    GuideDayTally.objects.create(
        day=STORY_DAY_1, guide=guide, version=guide.versions.get(), company=guide.company,
        language="en", views=10, attempts=2, abandoned=2,
    )  # fmt: skip
    assert statistics.deflection_series() == []


# --- failure notes -------------------------------------------------------------------------


def test_failure_notes_newest_first_and_searchable(story):
    s1, s2 = story.steps[0], story.steps[1]
    notes = statistics.step_failure_notes(guide=story.guide, step=s1.pk)
    assert [n.note for n in notes] == ["error 42 again", "Error 42 on the card page"]
    assert [n.attempt.language for n in notes] == ["en", "en"]
    found = statistics.step_failure_notes(guide=story.guide, step=s1.pk, search="ERROR 42 ON")
    assert [n.note for n in found] == ["Error 42 on the card page"]
    # "Could not do" counts as a failure too; an outcome that worked has no failure note.
    assert [n.note for n in statistics.step_failure_notes(guide=story.guide, step=s2.pk)] == [
        "No such button"
    ]
    assert not statistics.step_failure_notes(guide=story.guide, step=s1.pk, language="ar")
    assert not statistics.step_failure_notes(guide=story.guide, step=s1.pk, date_from=STORY_DAY_2)
    other_guide = GuideFactory()
    assert not statistics.step_failure_notes(guide=other_guide, step=s1.pk)
