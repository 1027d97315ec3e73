"""The follow-up's matching measured on labelled questions against the demo guides
(tests/guides/follow_up_questions.py): the threshold guides.follow_up.MIN_SCORE separates the
questions a step answers from those none does."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from guides.follow_up import MIN_SCORE, follow_up_match
from guides.models import Company
from tests.guides.follow_up_questions import ANSWERED, UNANSWERED


@pytest.fixture
def demo_guides(db):
    call_command("import_guides", str(Path("guides/demo_guides")), verbosity=0)


def _match(company: str, language: str, question: str):
    return follow_up_match(
        question=question, language=language, company=Company.objects.get(slug=company)
    )


def test_it_answers_each_labelled_question_with_its_step_first(demo_guides):
    wrong = []
    for company, language, question, (slug, position) in ANSWERED:
        match = _match(company, language, question)
        first = match.answers[0].step if match.answers else None
        if first is None or (first.guide.slug, first.position) != (slug, position):
            found = (first.guide.slug, first.position) if first else None
            wrong.append((question, found, round(match.best_score, 2)))
    assert wrong == []


def test_it_answers_nothing_to_questions_no_guide_answers(demo_guides):
    answered = []
    for company, language, question in UNANSWERED:
        match = _match(company, language, question)
        if match.answers:
            answered.append((question, match.answers[0].step.title, round(match.best_score, 2)))
    assert answered == []


def test_the_threshold_lies_between_the_two_sets(demo_guides, capsys):
    lowest_answered = min(
        _match(company, language, question).best_score
        for company, language, question, _step in ANSWERED
    )
    highest_unanswered = max(
        _match(company, language, question).best_score for company, language, question in UNANSWERED
    )
    with capsys.disabled():
        print(
            f"\nlowest answered {lowest_answered:.2f}, highest unanswered {highest_unanswered:.2f}"
        )
    assert highest_unanswered < MIN_SCORE <= lowest_answered
