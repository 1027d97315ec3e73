"""A guide page speaks its guide's language throughout: its messages, and its dates in that
language's own order (issue 13, "Language polish")."""

from __future__ import annotations

import datetime

from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format

from guides.models import Attempt, Guide
from tests.factories import GuideFactory, StepFactory

WHEN = datetime.datetime(2026, 11, 30, 4, 23, tzinfo=datetime.UTC)


def url(name: str, guide: Guide, **extra) -> str:
    kwargs = {"company": guide.company.slug, "language": guide.language, "slug": guide.slug}
    return reverse(f"guides:{name}", kwargs={**kwargs, **extra})


def english_reader() -> Client:
    client = Client()
    client.cookies["django_language"] = "en"
    return client


def arabic_guide() -> Guide:
    guide = GuideFactory(language="ar", title="لا أستطيع تغيير البطاقة", status="published")
    StepFactory(guide=guide, position=1, title="حدّث البطاقة")
    return guide


def test_arabic_dates_with_times_read_day_month_year():
    with translation.override("ar"):
        assert date_format(WHEN, "DATETIME_FORMAT") == "30 نوفمبر، 2026، 4:23 ص"
        assert date_format(WHEN, "SHORT_DATETIME_FORMAT") == "30\u200f/11\u200f/2026، 4:23 ص"
    with translation.override("en"):  # English keeps Django's
        assert date_format(WHEN, "DATETIME_FORMAT") == "Nov. 30, 2026, 4:23 a.m."


def test_the_thanks_for_an_answer_is_in_the_guides_language(db):
    guide = arabic_guide()
    reader = english_reader()
    page = reader.post(url("feedback", guide), {"helpful": "yes"}, follow=True).content.decode()
    assert '<li class="message-success">شكرًا لك على ملاحظاتك.</li>' in page


def test_a_refused_mark_is_explained_in_the_guides_language(db):
    guide = arabic_guide()
    step = guide.steps.get()
    page = (
        english_reader()
        .post(url("step-outcome", guide, step_id=step.pk), {"outcome": "nonsense"}, follow=True)
        .content.decode()
    )
    with translation.override("ar"):
        arabic = translation.gettext("Choose what happened at this step.")
    assert arabic != "Choose what happened at this step."
    assert f'<li class="message-error">{arabic}</li>' in page


def page_after_escalating(reader: Client, guide: Guide) -> str:
    """The guide's page for a reader who marked a step and then asked a person, at WHEN."""
    reader.post(url("step-outcome", guide, step_id=guide.steps.get().pk), {"outcome": "skipped"})
    Attempt.objects.filter(guide=guide).update(
        status="escalated", description="Still refused", escalation_requested_at=WHEN,
        finished_at=WHEN,
    )  # fmt: skip
    return reader.get(url("guide-detail", guide)).content.decode()


def test_the_escalation_banner_dates_the_request_in_the_pages_language(db):
    reader = english_reader()
    page = page_after_escalating(reader, arabic_guide())
    assert "30 نوفمبر، 2026، 4:23 ص" in page
    assert "نوفمبر 30" not in page

    english = GuideFactory(language="en", status="published")
    StepFactory(guide=english, position=1)
    page = page_after_escalating(reader, english)
    assert "You asked a person for help on Nov. 30, 2026, 4:23 a.m.: they will see" in page
    assert "a.m.." not in page
