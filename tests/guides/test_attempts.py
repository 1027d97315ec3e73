"""Attempts and step outcomes through the services: the history must be exact."""

from __future__ import annotations

from functools import partial

import pytest

from guides import selectors, services
from guides.models import Attempt, Feedback, Guide, StepOutcome, attempt_token_hash
from tests.factories import GuideFactory, StepFactory
from tests.helpers import at_once, skip_unless_row_locks


@pytest.fixture
def attempt_and_token(guide_with_steps):
    return services.attempt_start(guide=guide_with_steps, user_agent="Mozilla/5.0 test")


def steps_of(guide: Guide):
    return list(guide.steps.order_by("position"))


def test_it_starts_an_attempt_with_a_secret_that_only_its_hash_is_stored(attempt_and_token):
    attempt, token = attempt_and_token
    assert len(token) >= 43  # 256 bits in URL-safe base64
    assert attempt.token_hash == attempt_token_hash(token)
    assert token not in attempt.token_hash
    assert selectors.attempt_by_token(token) == attempt
    assert selectors.attempt_by_token(token + "x") is None
    assert attempt.status == Attempt.Status.IN_PROGRESS
    assert attempt.language == attempt.guide.language
    assert attempt.user_agent == "Mozilla/5.0 test"


def test_it_refuses_to_start_on_a_draft(db):
    draft = GuideFactory(status=Guide.Status.DRAFT)
    with pytest.raises(services.SelfHelpError) as excinfo:
        services.attempt_start(guide=draft)
    assert excinfo.value.field == "guide"


def test_the_history_keeps_every_outcome_and_the_latest_is_current(attempt_and_token):
    attempt, _ = attempt_and_token
    first, second, *_ = steps_of(attempt.guide)

    services.step_outcome_record(
        attempt=attempt, step_id=first.pk, outcome="did_not_work", note="Error E-42"
    )
    services.step_outcome_record(attempt=attempt, step_id=second.pk, outcome="could_not_do")
    services.step_outcome_record(attempt=attempt, step_id=first.pk, outcome="skipped")

    history = selectors.attempt_outcome_history(attempt=attempt)
    assert [(o.step_id, o.outcome, o.note) for o in history] == [
        (first.pk, "did_not_work", "Error E-42"),
        (second.pk, "could_not_do", ""),
        (first.pk, "skipped", ""),
    ]
    current = selectors.current_outcomes(history)
    assert current[first.pk].outcome == "skipped"
    assert current[second.pk].outcome == "could_not_do"
    assert history[0].step_title == first.title
    assert history[0].step_kind == first.kind


def test_worked_resolves_and_a_later_failure_reopens(attempt_and_token):
    attempt, _ = attempt_and_token
    first, second, *_ = steps_of(attempt.guide)

    services.step_outcome_record(attempt=attempt, step_id=second.pk, outcome="worked")
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.RESOLVED
    assert attempt.finished_at is not None

    services.step_outcome_record(attempt=attempt, step_id=second.pk, outcome="did_not_work")
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.IN_PROGRESS
    assert attempt.finished_at is None


def test_it_rejects_a_step_of_another_guide(attempt_and_token):
    attempt, _ = attempt_and_token
    foreign = StepFactory(guide=GuideFactory(), position=1)
    with pytest.raises(services.SelfHelpError) as excinfo:
        services.step_outcome_record(attempt=attempt, step_id=foreign.pk, outcome="worked")
    assert excinfo.value.field == "step"
    assert not StepOutcome.objects.exists()


def test_it_rejects_an_unknown_outcome(attempt_and_token):
    attempt, _ = attempt_and_token
    step = steps_of(attempt.guide)[0]
    with pytest.raises(services.SelfHelpError) as excinfo:
        services.step_outcome_record(attempt=attempt, step_id=step.pk, outcome="meh")
    assert excinfo.value.field == "outcome"


@pytest.mark.parametrize("close", ["escalate", "abandon"])
def test_a_closed_attempt_takes_no_more_outcomes(attempt_and_token, close):
    attempt, _ = attempt_and_token
    if close == "escalate":
        services.attempt_contact_submit(attempt=attempt, description="Still broken", email="a@b.co")
    else:
        services.attempt_abandon(attempt=attempt)
    step = steps_of(attempt.guide)[0]
    with pytest.raises(services.AttemptClosedError):
        services.step_outcome_record(attempt=attempt, step_id=step.pk, outcome="worked")
    assert not StepOutcome.objects.exists()


def test_talk_to_a_person_keeps_the_details_and_escalates(attempt_and_token):
    attempt, _ = attempt_and_token
    services.attempt_contact_submit(
        attempt=attempt, description="  The card is refused  ", name="Layla", email="l@x.example"
    )
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.ESCALATED
    assert attempt.description == "The card is refused"
    assert (attempt.contact_name, attempt.contact_email) == ("Layla", "l@x.example")
    assert attempt.escalation_requested_at is not None
    with pytest.raises(services.AttemptClosedError):
        services.attempt_contact_submit(attempt=attempt, description="again")


def test_talk_to_a_person_needs_a_description(attempt_and_token):
    attempt, _ = attempt_and_token
    with pytest.raises(services.SelfHelpError) as excinfo:
        services.attempt_contact_submit(attempt=attempt, description="   ")
    assert excinfo.value.field == "description"
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.IN_PROGRESS


def test_feedback_moves_the_counters_and_an_attempt_can_change_its_answer(attempt_and_token):
    attempt, _ = attempt_and_token
    guide = attempt.guide
    services.feedback_give(guide=guide, visitor_id="a-passing-reader-0123456", helpful=True)
    services.feedback_give(guide=guide, attempt=attempt, helpful=True)
    guide.refresh_from_db()
    assert (guide.helpful_count, guide.needs_work_count) == (2, 0)

    services.feedback_give(guide=guide, attempt=attempt, helpful=False, comment="Step 2 is wrong")
    guide.refresh_from_db()
    assert (guide.helpful_count, guide.needs_work_count) == (1, 1)
    assert Feedback.objects.filter(attempt=attempt).get().comment == "Step 2 is wrong"

    services.feedback_give(guide=guide, attempt=attempt, helpful=False)  # same answer again
    guide.refresh_from_db()
    assert (guide.helpful_count, guide.needs_work_count) == (1, 1)


def test_feedback_of_an_attempt_must_be_for_its_guide(attempt_and_token):
    attempt, _ = attempt_and_token
    with pytest.raises(services.SelfHelpError):
        services.feedback_give(guide=GuideFactory(), attempt=attempt, helpful=True)


def test_the_history_survives_a_guide_edit(attempt_and_token):
    attempt, _ = attempt_and_token
    step = steps_of(attempt.guide)[0]
    services.step_outcome_record(attempt=attempt, step_id=step.pk, outcome="did_not_work")
    title = step.title
    step.delete()

    outcome = StepOutcome.objects.get()
    assert outcome.step_id is None
    assert outcome.step_title == title


def test_a_contact_form_request_has_no_guide_to_rate(db):
    attempt, _ = services.attempt_start_without_guide(language="en")
    with pytest.raises(services.SelfHelpError, match="no guide to rate"):
        services.feedback_give(guide=attempt.guide, attempt=attempt, helpful=True)
    assert not Feedback.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_first_answers_at_once_leave_one_answer_and_exact_counters(guide_with_steps):
    skip_unless_row_locks()
    rounds = 10
    attempts = [services.attempt_start(guide=guide_with_steps)[0] for _ in range(rounds)]
    errors: list[BaseException] = []
    for attempt in attempts:
        errors += at_once(
            *(
                partial(
                    services.feedback_give, guide=guide_with_steps, attempt=attempt, helpful=helpful
                )
                for helpful in (True, False)
            )
        )

    assert not errors, errors
    assert Feedback.objects.count() == rounds
    guide_with_steps.refresh_from_db()
    helpful = Feedback.objects.filter(helpful=True).count()
    # Each attempt counts once, on the side of whichever answer came last.
    assert (guide_with_steps.helpful_count, guide_with_steps.needs_work_count) == (
        helpful,
        rounds - helpful,
    )
