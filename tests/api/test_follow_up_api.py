"""Follow-up questions over the API (guides/api/follow_ups.py): an anonymous customer asks,
gets the steps that answer and a token, and says with it whether they answered; bad input is a
400 on its field, another question's token a 404, and the anonymous write rate holds.

Personas: Mallory scripts requests from her connection."""

from __future__ import annotations

import secrets

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from guides.models import FollowUpQuestion, Step
from guides.search import guide_search_index_update
from helpdesk.api.throttling import CounterRateThrottle
from tests.factories import CompanyFactory, GuideFactory, StepFactory

ASK = "/api/v1/follow-ups/"
MALLORY = "203.0.113.82"


def verdict_url(follow_up_id: int) -> str:
    return f"/api/v1/follow-ups/{follow_up_id}/verdict/"


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def guide(db):
    company = CompanyFactory(slug="nile-telecom", name="Nile Telecom")
    guide = GuideFactory(
        company=company,
        slug="sim",
        language="ar",
        title="بيانات الهاتف لا تعمل بعد تركيب الشريحة الجديدة",
    )
    for position, (title, body) in enumerate(
        [
            ("فعِّل بيانات الجوال واضبط نقطة الوصول (APN)", "افتح الإعدادات ثم الشبكة."),
            ("شغّل وضع الطيران ثم أطفئه", "انتظر عشر ثوانٍ ثم أطفئ وضع الطيران."),
        ],
        start=1,
    ):
        StepFactory(
            guide=guide,
            position=position,
            kind=Step.Kind.PROCEDURE if position == 1 else Step.Kind.ALTERNATIVE,
            title=title,
            body=body,
        )
    guide_search_index_update(guide_id=guide.pk)
    return guide


def test_it_answers_a_question_asked_on_a_guide(api, guide):
    response = api.post(ASK, {"question": "هل أجرب وضع الطيّران؟", "guide": guide.pk})
    assert response.status_code == 201
    body = response.json()
    assert body["language"] == "ar" and body["answered"] is None
    first = body["answers"][0]
    assert first["step"] == guide.steps.get(position=2).pk and first["position"] == 2
    assert first["url"] == f"{guide.public_path()}#step-2"
    assert "<mark>الطيران</mark>" in first["snippet_html"] or "<mark>" in first["title_html"]
    assert 0.5 <= first["score"] <= 1
    assert body["person_url"].startswith(f"{guide.public_path()}contact/?description=")
    stored = FollowUpQuestion.objects.get(pk=body["id"])
    assert stored.source == "api" and stored.shown[0]["step"] == first["step"]


def test_it_answers_across_a_company_in_a_language(api, guide):
    response = api.post(
        ASK, {"question": "نقطة الوصول APN", "company": "nile-telecom", "language": "ar"}
    )
    assert response.status_code == 201
    assert response.json()["answers"][0]["position"] == 1
    english = api.post(ASK, {"question": "APN", "company": "nile-telecom", "language": "en"})
    assert english.json()["answers"] == []
    assert english.json()["person_url"] == "/tickets/new/?description=APN"


def test_the_customer_says_whether_it_answered_with_the_token(api, guide):
    asked = api.post(ASK, {"question": "نقطة الوصول", "guide": guide.pk}).json()
    response = api.post(verdict_url(asked["id"]), {"token": asked["token"], "answered": True})
    assert response.status_code == 200 and response.json()["answered"] is True
    again = api.post(verdict_url(asked["id"]), {"token": asked["token"], "answered": False})
    assert again.json()["answered"] is False
    assert FollowUpQuestion.objects.get().answered is False


def test_another_questions_token_or_a_bad_one_is_a_404(api, guide):
    first = api.post(ASK, {"question": "نقطة الوصول", "guide": guide.pk}).json()
    second = api.post(ASK, {"question": "وضع الطيران", "guide": guide.pk}).json()
    for follow_up_id, token in [(second["id"], first["token"]), (first["id"], "nope")]:
        response = api.post(verdict_url(follow_up_id), {"token": token, "answered": True})
        assert response.status_code == 404
    assert not FollowUpQuestion.objects.filter(answered__isnull=False).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "question"),
        ({"question": 5, "language": "en"}, "question"),
        ({"question": "  ", "language": "en"}, "question"),
        ({"question": "x" * 501, "language": "en"}, "question"),
        ({"question": "APN"}, "language"),
        ({"question": "APN", "language": "fr"}, "language"),
        ({"question": "APN", "guide": 999999}, "guide"),
        ({"question": "APN", "guide": "1"}, "guide"),
        ({"question": "APN", "language": "en", "company": "no-such"}, "company"),
        ({"question": "APN", "language": "en", "company": "not a slug"}, "company"),
    ],
)
def test_bad_input_is_a_400_on_its_field(api, guide, body, field):
    response = api.post(ASK, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not FollowUpQuestion.objects.exists()


def test_a_bad_verdict_is_a_400(api, guide):
    asked = api.post(ASK, {"question": "APN", "guide": guide.pk}).json()
    response = api.post(verdict_url(asked["id"]), {"token": asked["token"], "answered": "yes"})
    assert response.status_code == 400 and "answered" in response.json()["errors"]


def test_a_draft_guide_is_not_asked_on(api, guide):
    guide.status = "draft"
    guide.save()
    response = api.post(ASK, {"question": "APN", "guide": guide.pk})
    assert response.status_code == 400 and "guide" in response.json()["errors"]


def test_past_the_anonymous_write_rate_it_answers_429(api, guide, monkeypatch):
    hour = 3600 * (500_000 + secrets.randbelow(10_000_000))  # a window no earlier run counted
    monkeypatch.setattr(CounterRateThrottle, "timer", lambda _throttle: hour)
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "anon_write": "2/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    mallory = APIClient(REMOTE_ADDR=MALLORY)
    codes = [mallory.post(ASK, {"question": "APN", "guide": guide.pk}).status_code for _ in "abc"]
    assert codes == [201, 201, 429]
    assert FollowUpQuestion.objects.count() == 2


def test_the_endpoints_are_in_the_schema(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    assert "post" in schema["paths"]["/api/v1/follow-ups/"]
    assert "post" in schema["paths"]["/api/v1/follow-ups/{follow_up_id}/verdict/"]
