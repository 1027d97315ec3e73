"""Every customer-facing read runs a fixed number of SQL queries, whatever the data size."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from guides import services
from guides.search import guide_search_index_update, search_guides
from tests.factories import GuideFactory, StepFactory

SIZES = [2, 25]


def catalogue(size: int) -> list:
    guides = []
    for number in range(size):
        guide = GuideFactory(title=f"Card refused number {number}", tags=["card", f"t{number}"])
        for position in range(1, size + 1):
            StepFactory(guide=guide, position=position, title=f"Try card fix {position}")
        guide_search_index_update(guide_id=guide.pk)
        guides.append(guide)
    return guides


def walked_attempt(guide, outcomes: int):
    attempt, token = services.attempt_start(guide=guide)
    steps = list(guide.steps.all())
    for index in range(outcomes):
        step = steps[index % len(steps)]
        services.step_outcome_record(attempt=attempt, step_id=step.pk, outcome="did_not_work")
    return attempt, token


@pytest.mark.parametrize("size", SIZES)
def test_guide_list_and_search(db, django_assert_num_queries, size):
    catalogue(size)
    api = APIClient()
    with django_assert_num_queries(3):  # count, page with companies joined, tags
        assert api.get("/api/v1/guides/?page_size=100").status_code == 200
    search_guides(query="card")  # the spelling vocabulary, read once per process (guides.spelling)
    with django_assert_num_queries(5):  # + the search itself, + its row in the search log
        response = api.get("/api/v1/guides/?q=card&page_size=100")
    assert response.json()["count"] == size


@pytest.mark.parametrize("size", SIZES)
def test_guide_detail(db, django_assert_num_queries, size):
    guide = catalogue(size)[0]
    with django_assert_num_queries(4):  # guide+company, tags, steps, translations
        assert APIClient().get(f"/api/v1/guides/{guide.pk}/").status_code == 200


@pytest.mark.parametrize("size", SIZES)
def test_attempt_reads_and_writes(db, django_assert_num_queries, size):
    guide = catalogue(size)[0]
    attempt, token = walked_attempt(guide, outcomes=size * 2)
    api = APIClient()
    api.credentials(HTTP_X_ATTEMPT_TOKEN=token)
    with django_assert_num_queries(3):  # attempt, history, feedback
        assert api.get("/api/v1/attempt/").status_code == 200
    step = guide.steps.first()
    # attempt, lock, step, insert, update, re-read, history, feedback (+ transaction control)
    with django_assert_num_queries(10):
        response = api.post(
            "/api/v1/attempt/outcomes/", {"step": step.pk, "outcome": "skipped"}, format="json"
        )
    assert response.status_code == 201


@pytest.mark.parametrize("size", SIZES)
def test_search_page(db, client, django_assert_num_queries, size):
    catalogue(size)
    search_guides(query="card")  # the spelling vocabulary, read once per process (guides.spelling)
    with django_assert_num_queries(4):  # search, guides+companies, tags, steps (snippets)
        response = client.get("/search/?q=card")
    assert response.status_code == 200


def writes_query_counts(size: int) -> dict[str, int]:
    """Queries per write endpoint, for a catalogue and history of the given size."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    guide = catalogue(size)[0]
    walked_attempt(guide, outcomes=size)  # other customers' history must not matter
    api = APIClient()
    counts = {}

    def measure(name, call, expected_status):
        with CaptureQueriesContext(connection) as queries:
            response = call()
        assert response.status_code == expected_status, (name, response.content)
        counts[name] = len(queries)
        return response

    started = measure("start", lambda: api.post(f"/api/v1/guides/{guide.pk}/attempts/"), 201)
    api.credentials(HTTP_X_ATTEMPT_TOKEN=started.json()["token"])
    measure(
        "guide feedback",
        lambda: api.post(f"/api/v1/guides/{guide.pk}/feedback/", {"helpful": True}),
        201,
    )
    measure("feedback", lambda: api.post("/api/v1/attempt/feedback/", {"helpful": False}), 200)
    measure(
        "contact",
        lambda: api.post("/api/v1/attempt/contact/", {"description": "x", "email": "a@b.co"}),
        202,
    )
    measure("abandon (closed)", lambda: api.post("/api/v1/attempt/abandon/"), 409)
    measure("companies", lambda: api.get("/api/v1/companies/"), 200)
    return counts


def test_write_endpoints_run_the_same_queries_at_any_size(db):
    small, large = writes_query_counts(2), writes_query_counts(25)
    assert small == large
    assert max(small.values()) <= 12, small
