"""The follow-up's candidate guides come from the database's own search (FTS5 on SQLite,
tsvector and pg_trgm on PostgreSQL); the scoring after it is the same Python. On PostgreSQL:
the labelled questions answer as on SQLite, and the stored rows keep their constraints."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from guides.follow_up import MIN_SCORE, follow_up_ask, follow_up_match
from guides.models import Company, FollowUpQuestion
from tests.guides.follow_up_questions import ANSWERED, UNANSWERED

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the PostgreSQL search path: PostgreSQL only"
)


@pytest.fixture
def demo_guides(db):
    call_command("import_guides", str(Path("guides/demo_guides")), verbosity=0)


def test_the_labelled_questions_answer_as_on_sqlite(demo_guides):
    wrong = []
    for company, language, question, expected in ANSWERED:
        match = follow_up_match(
            question=question, language=language, company=Company.objects.get(slug=company)
        )
        first = match.answers[0].step if match.answers else None
        if first is None or (first.guide.slug, first.position) != expected:
            wrong.append(question)
    assert wrong == []
    for company, language, question in UNANSWERED:
        match = follow_up_match(
            question=question, language=language, company=Company.objects.get(slug=company)
        )
        assert match.best_score < MIN_SCORE, question


def test_a_stored_question_keeps_its_constraints(demo_guides):
    spotify = Company.objects.get(slug="spotify")
    asked = follow_up_ask(question="PayPal بدل البطاقة", language="ar", company=spotify)
    assert FollowUpQuestion.objects.get().shown == asked.question.shown
    with pytest.raises(IntegrityError), transaction.atomic():
        FollowUpQuestion.objects.filter(pk=asked.question.pk).update(answered=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        FollowUpQuestion.objects.filter(pk=asked.question.pk).update(best_score=1.5)
