"""generate_attempts: the statistics benchmark's data set is data the application could have
written (constraints hold, escalated attempts have their ticket), shaped as described (skewed
to popular guides, per-language success), and the rollup adds it up to the raw counts."""

from __future__ import annotations

from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Sum

from guides.models import Attempt, GuideDayTally, StepDayTally, StepOutcome
from tickets import services
from tickets.models import Ticket


def generate(count: int, **options) -> str:
    out = StringIO()
    call_command("generate_attempts", attempts=count, force=True, stdout=out, guides=12, **options)
    return out.getvalue()


@pytest.fixture
def generated(db):
    output = generate(600, batch=250, days=20, seed=3)
    return output


def test_it_refuses_with_debug_off_unless_forced(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("generate_attempts", attempts=10)
    assert not Attempt.objects.exists()


def test_it_writes_valid_attempts_outcomes_and_tickets(generated):
    assert "Generated 600 attempts" in generated
    attempts = list(Attempt.objects.all())
    assert len(attempts) == 600
    for attempt in attempts[:50]:
        attempt.full_clean()
        assert attempt.guide_version is not None
        assert attempt.guide_version.guide_id == attempt.guide_id
        assert attempt.step_order, "every attempt records the order it was shown"
    outcomes = StepOutcome.objects.count()
    assert 2.5 * 600 < outcomes < 6 * 600  # about four per attempt
    escalated = Attempt.objects.filter(status="escalated").count()
    assert escalated == Ticket.objects.count() > 0
    for ticket in Ticket.objects.select_related("attempt")[:20]:
        ticket.full_clean()
        assert ticket.attempt.status == "escalated"


def test_a_few_guides_get_most_attempts(generated):
    per_guide = sorted(
        Attempt.objects.values("guide").annotate(n=Count("pk")).values_list("n", flat=True),
        reverse=True,
    )
    assert per_guide[0] > 3 * per_guide[len(per_guide) // 2]


def test_the_rollup_adds_up_to_the_raw_counts(generated):
    services.statistics_rollup()
    totals = GuideDayTally.objects.aggregate(
        attempts=Sum("attempts"), resolved=Sum("resolved"), escalated=Sum("escalated")
    )
    statuses = Counter(Attempt.objects.values_list("status", flat=True))
    assert totals == {
        "attempts": 600,
        "resolved": statuses["resolved"],
        "escalated": statuses["escalated"],
    }
    worked = StepDayTally.objects.aggregate(worked=Sum("worked"))["worked"]
    assert worked == statuses["resolved"]  # one current "worked" per resolved attempt


def test_it_generates_for_guides_whose_version_is_newer_than_the_period(db):
    # Imported guides get their first version when imported: after every generated day.
    call_command("import_guides", "guides/demo_guides", verbosity=0)
    out = StringIO()
    call_command("generate_attempts", attempts=200, days=10, guides=0, force=True, stdout=out)
    versions = Attempt.objects.values_list("guide_version__guide_id", "guide_id")
    assert versions.count() == 200
    assert all(version_guide == guide for version_guide, guide in versions)
