"""What the admin, the status page, the e-mails and the API all show of a ticket, from one
place: a ticket's SLA rules (Ticket methods) and tickets.presentation. Pure functions of one
row, so no database here; the pages that render them are tested in their own modules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import translation

from tickets import presentation
from tickets.models import Ticket

CREATED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def ticket(**fields) -> Ticket:
    return Ticket(created_at=CREATED, **fields)


def test_the_sla_state_reads_the_flags_the_sla_check_keeps():
    assert ticket(status="new").sla_state() == "on_track"
    assert ticket(status="open", sla_at_risk_at=CREATED).sla_state() == "at_risk"
    assert ticket(status="pending", sla_breached=True).sla_state() == "breached"
    # Solved late stays breached; solved or closed in time has met its targets.
    assert ticket(status="solved", sla_breached=True).sla_state() == "breached"
    assert ticket(status="closed", sla_at_risk_at=CREATED).sla_state() == "met"


def test_a_target_is_at_risk_past_three_quarters_of_its_time():
    due = CREATED + timedelta(hours=4)
    waiting = ticket(
        status="open", first_response_due_at=due, resolution_due_at=due + timedelta(hours=20)
    )

    assert not waiting.sla_at_risk(CREATED + timedelta(hours=2, minutes=59))
    assert waiting.sla_at_risk(CREATED + timedelta(hours=3))  # the first response's 75%
    answered = ticket(
        status="open", first_response_due_at=due, first_responded_at=CREATED,
        resolution_due_at=CREATED + timedelta(hours=24),
    )  # fmt: skip
    assert not answered.sla_at_risk(CREATED + timedelta(hours=3))  # only resolution runs
    assert answered.sla_at_risk(CREATED + timedelta(hours=18))
    paused = ticket(
        status="pending", first_responded_at=CREATED, sla_paused_at=CREATED,
        resolution_due_at=CREATED + timedelta(hours=24),
    )  # fmt: skip
    assert not paused.sla_at_risk(CREATED + timedelta(hours=23))  # a paused clock stands still


def test_the_tried_steps_are_history_and_keep_what_is_unknown_today():
    snapshot = ticket(
        tried_steps=[
            {"position": 1, "title": "Update the card", "kind": "procedure",
             "outcome": "did_not_work", "note": "E-42", "recorded_at": "2026-11-01T10:00:00+00:00"},
            {"position": "2", "kind": "retired_kind", "outcome": "retired_outcome"},
            "not a step",
        ]
    )  # fmt: skip

    first, second = presentation.tried_steps(snapshot)

    with translation.override("en"):
        assert (first.position, first.title, first.note) == (1, "Update the card", "E-42")
        assert (str(first.kind_label), str(first.outcome_label)) == ("Procedure", "Didn't work")
        assert first.recorded_at == "2026-11-01T10:00:00+00:00"  # as recorded, for the API
    with translation.override("ar"):
        assert str(first.outcome_label) == "لم ينجح"  # translated where it is rendered
    # Every key is there, whatever wrote the snapshot; a retired code shows as stored.
    assert (second.position, second.title, second.note, second.recorded_at) == (None, "", "", None)
    assert (second.kind_label, second.outcome_label) == ("retired_kind", "retired_outcome")
    assert second.recorded_at_text == ""


def test_durations_read_in_the_unit_an_agent_thinks_in():
    with translation.override("en"):
        assert presentation.duration(timedelta(days=2, hours=4, minutes=5)) == "2d 4h"
        assert presentation.duration(timedelta(hours=3, minutes=5)) == "3h 05m"
        assert presentation.duration(timedelta(minutes=12, seconds=59)) == "12m"
        assert presentation.duration(timedelta(minutes=-5)) == "0m"
