"""Customers walk a guide through the API, authenticated by their attempt's token."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from guides import services
from guides.api.attempts import _AnonymousWriteThrottle
from guides.models import Attempt, Guide, StepOutcome
from tests.factories import GuideFactory, StepFactory
from tests.helpers import throttle_forget


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def started(api, guide_with_steps):
    response = api.post(f"/api/v1/guides/{guide_with_steps.pk}/attempts/")
    assert response.status_code == 201
    api.credentials(HTTP_X_ATTEMPT_TOKEN=response.json()["token"])
    return response.json()


def steps(guide: Guide):
    return list(guide.steps.order_by("position"))


def test_it_starts_an_attempt_and_returns_the_token_once(api, guide_with_steps, started):
    assert len(started["token"]) >= 43
    assert started["status"] == "in_progress"
    assert started["guide"] == guide_with_steps.pk
    assert "id" not in started  # no sequential id anywhere
    state = api.get("/api/v1/attempt/").json()
    assert "token" not in state
    assert state["status"] == "in_progress"


def test_a_draft_or_missing_guide_cannot_be_attempted(api, db):
    draft = GuideFactory(status=Guide.Status.DRAFT)
    assert api.post(f"/api/v1/guides/{draft.pk}/attempts/").status_code == 404
    assert api.post("/api/v1/guides/999999/attempts/").status_code == 404


@pytest.mark.parametrize("token", ["not-a-token", "x" * 500, "a" * 43])
def test_a_wrong_token_is_404_and_says_nothing_more(api, started, token):
    api.credentials(HTTP_X_ATTEMPT_TOKEN=token)
    response = api.get("/api/v1/attempt/")
    assert response.status_code == 404
    assert response.json() == {"status": 404, "code": "not_found", "detail": "Not found."}


@pytest.mark.parametrize("token", [None, "", "   "])
def test_a_missing_token_is_400_naming_the_header(api, started, token):
    api.credentials() if token is None else api.credentials(HTTP_X_ATTEMPT_TOKEN=token)
    response = api.post("/api/v1/attempt/abandon/")
    assert response.status_code == 400
    assert response.json()["errors"] == {"X-Attempt-Token": ["This header is required."]}
    assert Attempt.objects.get().status == "in_progress"


def test_it_records_outcomes_and_returns_the_history(api, guide_with_steps, started):
    first, second, *_ = steps(guide_with_steps)
    api.post(
        "/api/v1/attempt/outcomes/",
        {"step": first.pk, "outcome": "did_not_work", "note": "Card declined (E-42)"},
        format="json",
    )
    response = api.post(
        "/api/v1/attempt/outcomes/", {"step": second.pk, "outcome": "worked"}, format="json"
    )

    assert response.status_code == 201
    state = response.json()
    assert state["status"] == "resolved"
    assert [(o["step"], o["outcome"]) for o in state["history"]] == [
        (first.pk, "did_not_work"),
        (second.pk, "worked"),
    ]
    assert state["history"][0]["note"] == "Card declined (E-42)"
    assert [o["step_position"] for o in state["current_outcomes"]] == [1, 2]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "worked"}, "step"),
        ({"step": "one", "outcome": "worked"}, "step"),
        ({"step": 1, "outcome": "maybe"}, "outcome"),
        ({"step": 1, "outcome": "worked", "note": "x" * 2001}, "note"),
    ],
)
def test_bad_outcome_input_is_400_with_field_messages(api, started, body, field):
    response = api.post("/api/v1/attempt/outcomes/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not StepOutcome.objects.exists()


def test_a_step_of_another_guide_is_400_on_the_step_field(api, started):
    foreign = StepFactory(guide=GuideFactory(), position=1)
    response = api.post(
        "/api/v1/attempt/outcomes/", {"step": foreign.pk, "outcome": "worked"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"step": ["This step is not part of the attempt's guide."]}


def test_talk_to_a_person_then_no_more_outcomes(api, guide_with_steps, started):
    response = api.post(
        "/api/v1/attempt/contact/",
        {"description": "Nothing worked", "name": "Sam", "email": "sam@example.com"},
        format="json",
    )
    assert response.status_code == 202
    assert response["Location"] == "/api/v1/attempt/"
    attempt = Attempt.objects.get()
    # What to poll, not the whole state: that stays on the GET the Location names.
    assert response.json() == {
        "status": "escalated",
        "escalation_requested_at": attempt.escalation_requested_at.isoformat().replace(
            "+00:00", "Z"
        ),
    }
    polled = api.get(response["Location"])
    assert polled.json()["status"] == "escalated"
    assert polled.json()["ticket"] is None  # a worker creates it
    assert attempt.contact_email == "sam@example.com"

    step = steps(guide_with_steps)[0]
    late = api.post("/api/v1/attempt/outcomes/", {"step": step.pk, "outcome": "worked"})
    assert late.status_code == 409
    assert late.json()["code"] == "attempt_closed"


def test_contact_input_is_validated(api, started):
    response = api.post(
        "/api/v1/attempt/contact/", {"description": "", "email": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"description", "email"}
    assert Attempt.objects.get().status == "in_progress"


def test_feedback_with_and_without_an_attempt(api, guide_with_steps, started):
    response = api.post("/api/v1/attempt/feedback/", {"helpful": False, "comment": "Step 3?"})
    assert response.status_code == 200
    assert response.json()["feedback"] == "needs_work"
    anonymous = APIClient().post(
        f"/api/v1/guides/{guide_with_steps.pk}/feedback/", {"helpful": True}
    )
    assert anonymous.status_code == 201
    guide_with_steps.refresh_from_db()
    assert (guide_with_steps.helpful_count, guide_with_steps.needs_work_count) == (1, 1)


def test_abandon(api, started):
    assert api.post("/api/v1/attempt/abandon/").json()["status"] == "abandoned"
    assert api.post("/api/v1/attempt/abandon/").status_code == 409


def test_anonymous_writes_are_throttled_with_retry_after(api, guide_with_steps, monkeypatch):
    monkeypatch.setattr(
        _AnonymousWriteThrottle, "THROTTLE_RATES", {"anon_write": "3/minute"}, raising=False
    )
    # An address of this test's own, its count cleared, so earlier requests do not count.
    throttle_forget("throttle_anon_write_203.0.113.77", "3/minute")
    client = APIClient(REMOTE_ADDR="203.0.113.77")
    codes = [
        client.post(f"/api/v1/guides/{guide_with_steps.pk}/attempts/").status_code for _ in range(4)
    ]
    assert codes == [201, 201, 201, 429]
    response = client.post(f"/api/v1/guides/{guide_with_steps.pk}/attempts/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["code"] == "throttled"
    assert client.get("/api/v1/guides/").status_code == 200  # reads are not write-limited


def test_the_api_takes_json_only(api, started):
    # A form post without "helpful" would otherwise read as helpful=False.
    response = api.post("/api/v1/attempt/feedback/", {"comment": "x"}, format="multipart")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_nul_characters_are_a_field_error(api, started):
    response = api.post(
        "/api/v1/attempt/feedback/", {"helpful": True, "comment": "a\x00b"}, format="json"
    )
    assert response.status_code == 400
    assert "comment" in response.json()["errors"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/attempt/feedback/", {"helpful": "yes"}, "helpful"),
        ("/api/v1/attempt/feedback/", {"helpful": True, "comment": 0}, "comment"),
        ("/api/v1/attempt/outcomes/", {"step": "1", "outcome": "worked"}, "step"),
        ("/api/v1/attempt/outcomes/", {"step": 1, "outcome": 1}, "outcome"),
        ("/api/v1/attempt/contact/", {"description": "x", "name": 0}, "name"),
    ],
)
def test_values_of_the_wrong_json_type_are_refused(api, started, path, body, field):
    response = api.post(path, body)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_asking_twice_for_a_person_makes_one_request_and_one_ticket(api, started):
    from tickets.services import ticket_create_from_attempt

    body = {"description": "Still refused", "email": "sam@example.com"}
    first = api.post("/api/v1/attempt/contact/", body)
    again = api.post("/api/v1/attempt/contact/", body)  # a client retrying

    assert (first.status_code, again.status_code) == (202, 409)
    attempt = Attempt.objects.get()
    ticket = ticket_create_from_attempt(attempt_id=attempt.pk)
    assert ticket_create_from_attempt(attempt_id=attempt.pk) == ticket
    assert api.get("/api/v1/attempt/").json()["ticket"] == ticket.reference


def test_a_request_without_a_guide_has_nothing_to_rate(api, db):
    _attempt, token = services.attempt_start_without_guide(language="en")
    api.credentials(HTTP_X_ATTEMPT_TOKEN=token)
    response = api.post("/api/v1/attempt/feedback/", {"helpful": True}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"non_field_errors": ["This request has no guide to rate."]}
