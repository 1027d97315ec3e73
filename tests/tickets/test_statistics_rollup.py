"""The statistics rollup: the day tallies hold exactly what the attempts, outcomes and tickets
say (worked out by hand on the constructed story of tests.helpers), however often it runs and
wherever a run dies."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from guides import rollups
from guides.models import (
    SECONDS_BUCKETS,
    Attempt,
    GuideDayTally,
    RollupWatermark,
    StepDayTally,
    seconds_histogram_empty,
)
from tests.factories import StepOutcomeFactory
from tests.helpers import STORY_DAY_1, STORY_DAY_2, at, statistics_story
from tickets import services, tasks
from tickets.services import insights


def histogram(*seconds: float) -> list[int]:
    counts = seconds_histogram_empty()
    for value in seconds:
        counts[rollups.seconds_bucket(value)] += 1
    return counts


def step_rows() -> dict[tuple, dict]:
    return {
        (row["day"], row["step_key"]): row
        for row in StepDayTally.objects.values(
            "day", "step_key", "language", "shown", "worked", "did_not_work", "could_not_do",
            "skipped", "abandoned_here", "seconds_spent",
        )
    }  # fmt: skip


def guide_rows() -> dict[datetime.date, dict]:
    return {
        row["day"]: row
        for row in GuideDayTally.objects.values(
            "day", "views", "attempts", "resolved", "abandoned", "escalated", "tickets_solved",
            "tickets_reopened", "solve_seconds", "company_id", "guide_id", "version_id",
        )
    }  # fmt: skip


def tallies() -> tuple:
    """Everything the rollup wrote, without the row ids."""
    return step_rows(), guide_rows()


def test_seconds_buckets_have_inclusive_upper_bounds():
    assert rollups.seconds_bucket(0) == 0
    assert rollups.seconds_bucket(5) == 0
    assert rollups.seconds_bucket(5.01) == 1
    assert rollups.seconds_bucket(7200) == 14
    assert rollups.seconds_bucket(86_400.5) == len(SECONDS_BUCKETS)


def test_it_tallies_the_story_exactly(db):
    story = statistics_story()
    s1, s2, s3, s4 = (step.pk for step in story.steps)

    result = services.statistics_rollup()

    assert result is not None
    assert result.days == 2
    empty = seconds_histogram_empty()
    expected = {
        # A1, A2, A3 (the version's steps), A4 were shown every step; A5 has no version.
        (STORY_DAY_1, s1): dict(shown=4, worked=0, did_not_work=3, could_not_do=0, skipped=1,
                                abandoned_here=1, seconds_spent=histogram(30, 20, 8, 400)),
        # A2's "could not do" is history: its current outcome at S2 is "worked", 60 s after.
        (STORY_DAY_1, s2): dict(shown=4, worked=1, did_not_work=1, could_not_do=0, skipped=0,
                                abandoned_here=0, seconds_spent=histogram(60, 600)),
        (STORY_DAY_1, s3): dict(shown=4, worked=1, did_not_work=0, could_not_do=0, skipped=0,
                                abandoned_here=0, seconds_spent=histogram(60)),
        (STORY_DAY_1, s4): dict(shown=4, worked=0, did_not_work=0, could_not_do=0, skipped=0,
                                abandoned_here=0, seconds_spent=empty),
        (STORY_DAY_2, s1): dict(shown=2, worked=1, did_not_work=0, could_not_do=0, skipped=0,
                                abandoned_here=0, seconds_spent=histogram(15)),
        (STORY_DAY_2, s2): dict(shown=2, worked=0, did_not_work=0, could_not_do=0, skipped=0,
                                abandoned_here=0, seconds_spent=empty),
        (STORY_DAY_2, s3): dict(shown=2, worked=0, did_not_work=0, could_not_do=0, skipped=0,
                                abandoned_here=0, seconds_spent=empty),
        (STORY_DAY_2, s4): dict(shown=2, worked=0, did_not_work=0, could_not_do=0, skipped=0,
                                abandoned_here=0, seconds_spent=empty),
    }  # fmt: skip
    rows = step_rows()
    assert set(rows) == set(expected)
    for key, figures in expected.items():
        row = rows[key]
        assert row["language"] == "en"
        assert {name: row[name] for name in figures} == figures, (key, str(row["seconds_spent"]))

    guides = guide_rows()
    assert set(guides) == {STORY_DAY_1, STORY_DAY_2}
    day_1, day_2 = guides[STORY_DAY_1], guides[STORY_DAY_2]
    assert (day_1["guide_id"], day_1["version_id"]) == (story.guide.pk, story.version.pk)
    assert day_1["company_id"] == story.guide.company_id
    assert {k: day_1[k] for k in ("attempts", "resolved", "abandoned", "escalated")} == {
        "attempts": 4, "resolved": 2, "abandoned": 1, "escalated": 1,
    }  # fmt: skip
    assert (day_1["tickets_solved"], day_1["tickets_reopened"]) == (1, 1)
    assert day_1["solve_seconds"] == histogram(7200)  # from the escalation to the solving
    assert {k: day_2[k] for k in ("attempts", "resolved", "abandoned", "escalated")} == {
        "attempts": 2, "resolved": 1, "abandoned": 0, "escalated": 0,
    }  # fmt: skip
    assert (day_2["tickets_solved"], day_2["solve_seconds"]) == (0, empty)
    assert RollupWatermark.objects.get(name=insights.WATERMARK_NAME).until == result.until


def test_running_twice_writes_the_same_tallies(db):
    statistics_story()
    services.statistics_rollup()
    first = tallies()
    services.statistics_rollup(full=True)
    assert tallies() == first
    services.statistics_rollup()
    assert tallies() == first


def test_an_incremental_run_recomputes_only_the_days_that_changed(db, django_assert_num_queries):
    story = statistics_story()
    services.statistics_rollup()
    # Nothing changed since (the lag reaches back before the story's updates? They are in
    # 2026, the watermark is now): no day to redo.
    quiet = services.statistics_rollup()
    assert quiet is not None and quiet.days == 0

    # A7, of day 2, records an outcome now: only day 2 is recomputed.
    a7 = story.attempts["A7"]
    StepOutcomeFactory(attempt=a7, step=story.steps[0], outcome="did_not_work",
                       recorded_at=at(STORY_DAY_2, 9, 30 * 60 + 45))  # fmt: skip
    Attempt.objects.filter(pk=a7.pk).update(updated_at=timezone.now())
    again = services.statistics_rollup()
    assert again is not None and again.days == 1
    rows = step_rows()
    assert rows[(STORY_DAY_2, story.steps[0].pk)]["did_not_work"] == 1
    assert rows[(STORY_DAY_2, story.steps[0].pk)]["seconds_spent"] == histogram(15, 45)


def test_a_ticket_solved_later_reaches_its_attempts_day(db):
    from tickets.models import Ticket

    story = statistics_story()
    Ticket.objects.filter(pk=story.ticket.pk).update(solved_at=None, status="open")
    services.statistics_rollup()
    assert guide_rows()[STORY_DAY_1]["tickets_solved"] == 0

    solved_at = at(STORY_DAY_1, 13, 1100 + 600)
    Ticket.objects.filter(pk=story.ticket.pk).update(
        solved_at=solved_at, status="solved", updated_at=timezone.now()
    )
    result = services.statistics_rollup()
    assert result is not None and result.days == 1
    day_1 = guide_rows()[STORY_DAY_1]
    assert (day_1["tickets_solved"], day_1["solve_seconds"]) == (1, histogram(600))


def test_late_commits_within_the_lag_are_still_seen(db, settings):
    """A change stamped before the last run started but committed after it: the next run looks
    back STATISTICS_ROLLUP_LAG seconds before its watermark."""
    story = statistics_story()
    services.statistics_rollup()
    watermark = RollupWatermark.objects.get(name=insights.WATERMARK_NAME).until
    a7 = story.attempts["A7"]
    StepOutcomeFactory(attempt=a7, step=story.steps[1], outcome="skipped",
                       recorded_at=at(STORY_DAY_2, 9, 30 * 60 + 5))  # fmt: skip
    Attempt.objects.filter(pk=a7.pk).update(updated_at=watermark - datetime.timedelta(seconds=30))

    settings.STATISTICS_ROLLUP_LAG = 60
    services.statistics_rollup()
    assert step_rows()[(STORY_DAY_2, story.steps[1].pk)]["skipped"] == 1


def test_a_run_killed_midway_leaves_everything_as_it_was(db, monkeypatch):
    story = statistics_story()
    # A third day, so the full run has more than one chunk of days.
    monkeypatch.setattr(insights, "DAYS_PER_CHUNK", 1)
    services.statistics_rollup()
    before = tallies()
    watermark = RollupWatermark.objects.get(name=insights.WATERMARK_NAME).until

    a7 = story.attempts["A7"]
    StepOutcomeFactory(attempt=a7, step=story.steps[0], outcome="worked",
                       recorded_at=at(STORY_DAY_2, 9, 30 * 60 + 20))  # fmt: skip
    Attempt.objects.filter(pk=a7.pk).update(
        status="resolved", finished_at=timezone.now(), updated_at=timezone.now()
    )
    real = rollups.guide_tallies_rebuild
    calls = []

    def dies_on_the_second_chunk(*, days):
        calls.append(days)
        if len(calls) == 2:
            raise SystemExit("killed")  # not an Exception: nothing may catch it on the way
        return real(days=days)

    monkeypatch.setattr(rollups, "guide_tallies_rebuild", dies_on_the_second_chunk)
    with pytest.raises(SystemExit):
        services.statistics_rollup(full=True)
    assert len(calls) == 2  # day 1 was rewritten, then the run died on day 2
    assert tallies() == before
    assert RollupWatermark.objects.get(name=insights.WATERMARK_NAME).until == watermark

    monkeypatch.setattr(rollups, "guide_tallies_rebuild", real)
    services.statistics_rollup()
    after_recovery = tallies()
    assert after_recovery[1][STORY_DAY_2]["resolved"] == 2
    # The same as a clean full run from nothing.
    StepDayTally.objects.all().delete()
    GuideDayTally.objects.all().delete()
    services.statistics_rollup(full=True)
    assert tallies() == after_recovery


def test_attempts_without_a_version_are_not_counted(db):
    story = statistics_story()
    Attempt.objects.filter(guide=story.guide).update(guide_version=None)
    result = services.statistics_rollup()
    assert result is not None and result.days == 0
    assert not StepDayTally.objects.exists()
    assert not GuideDayTally.objects.exists()


def test_a_full_run_clears_the_tallies_of_attempts_gone(db):
    story = statistics_story()
    services.statistics_rollup()
    # Version 1's attempts of day 2 are moved out of the counted set.
    Attempt.objects.filter(started_at__date=STORY_DAY_2).update(guide_version=None)
    services.statistics_rollup(full=True)
    assert STORY_DAY_2 not in guide_rows()
    assert not StepDayTally.objects.filter(day=STORY_DAY_2).exists()
    assert guide_rows()[STORY_DAY_1]["attempts"] == 4
    assert story.guide.pk == guide_rows()[STORY_DAY_1]["guide_id"]


def test_the_views_a_rollup_finds_stay(db):
    statistics_story()
    services.statistics_rollup()
    GuideDayTally.objects.filter(day=STORY_DAY_1).update(views=17)
    services.statistics_rollup(full=True)
    assert guide_rows()[STORY_DAY_1]["views"] == 17
    assert guide_rows()[STORY_DAY_1]["attempts"] == 4


def test_the_command_and_the_task_run_it(db):
    statistics_story()
    out = StringIO()
    call_command("rollup_stats", "--full", stdout=out)
    assert "Rolled up 2 days" in out.getvalue()
    assert tasks.rollup_statistics() == 0  # nothing changed since
    assert GuideDayTally.objects.count() == 2


def test_beat_sends_the_rollup_to_the_maintenance_queue(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["rollup-statistics"]
    assert entry["task"] == tasks.rollup_statistics.name
    assert entry["schedule"] == settings.STATISTICS_ROLLUP_INTERVAL
    assert settings.CELERY_TASK_ROUTES[tasks.rollup_statistics.name] == {"queue": "maintenance"}


def test_a_rollup_reorders_the_alternatives_by_what_customers_said(db):
    """The loop the issue asks for, through the real services: customers mark steps, the
    rollup counts them, and the next customers see the alternative that works first."""
    from guides import services as guide_services
    from guides.models import AlternativesOrderChange, Step
    from tests.factories import GuideFactory, StepFactory

    guide = GuideFactory(status="published")
    card = StepFactory(guide=guide, position=1, kind=Step.Kind.PROCEDURE, title="Change card")
    paypal = StepFactory(guide=guide, position=2, kind=Step.Kind.ALTERNATIVE, title="PayPal")
    wifi = StepFactory(guide=guide, position=3, kind=Step.Kind.ALTERNATIVE, title="Wi-Fi")
    for _ in range(31):  # past the minimum sample of both alternatives
        attempt, _token = guide_services.attempt_start(guide=guide)
        for step, outcome in ((card, "did_not_work"), (paypal, "did_not_work"), (wifi, "worked")):
            guide_services.step_outcome_record(attempt=attempt, step_id=step.pk, outcome=outcome)

    services.statistics_rollup()

    latest = AlternativesOrderChange.objects.filter(guide=guide).order_by("-pk").first()
    assert latest is not None and latest.order == [wifi.pk, paypal.pk]
