"""The database itself refuses rows that break the guides' invariants."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from guides.models import Guide, Step, Tag
from tests.factories import CompanyFactory, GuideFactory, StepFactory


def rejected(create) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_a_company_cannot_have_two_guides_with_one_slug_in_one_language(db):
    guide = GuideFactory(slug="payment", language="en")
    rejected(lambda: GuideFactory(company=guide.company, slug="payment", language="en"))
    GuideFactory(company=guide.company, slug="payment", language="ar")  # other language is fine


def test_a_translation_key_has_one_guide_per_language(db):
    guide = GuideFactory(translation_key="pay", language="en")
    rejected(
        lambda: GuideFactory(
            company=guide.company, slug="other", translation_key="pay", language="en"
        )
    )


def test_two_steps_cannot_share_a_position(db):
    step = StepFactory(position=1)
    rejected(lambda: StepFactory(guide=step.guide, position=1))


@pytest.mark.parametrize("position", [0, 1001])
def test_step_positions_are_bounded(db, position):
    guide = GuideFactory()
    rejected(lambda: Step.objects.create(guide=guide, position=position, title="x"))


@pytest.mark.parametrize(
    ("field", "value"),
    [("language", "fr"), ("status", "archived"), ("slug", ""), ("title", "")],
)
def test_guide_fields_are_checked(db, field, value):
    company = CompanyFactory()
    fields = {"company": company, "slug": "s", "language": "en", "translation_key": "k",
              "title": "t", field: value}  # fmt: skip
    rejected(lambda: Guide.objects.create(**fields))


def test_step_kinds_are_checked(db):
    guide = GuideFactory()
    rejected(lambda: Step.objects.create(guide=guide, position=1, kind="shortcut", title="x"))


def test_counters_cannot_go_negative(db):
    guide = GuideFactory()
    rejected(lambda: Guide.objects.filter(pk=guide.pk).update(helpful_count=-1))


def test_tags_are_lowercase(db):
    rejected(lambda: Tag.objects.create(slug="Payment"))
