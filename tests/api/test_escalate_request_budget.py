"""The escalate request (POST /api/v1/attempt/contact/) is the hot write of the customer API:
its SQL statements and cache round trips are pinned here (docs/performance.md, "The escalate
request").

Persona: Sam walks a guide and asks for a person.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from guides import services
from helpdesk import limits
from tests.helpers import redis_round_trips, skip_unless_redis_cache

CONTACT = "/api/v1/attempt/contact/"
SAM = {"description": "The card is still refused", "email": "sam@example.com"}


def sam_client(guide) -> APIClient:
    attempt, token = services.attempt_start(guide=guide)
    step = guide.steps.first()
    services.step_outcome_record(attempt=attempt, step_id=step.pk, outcome="did_not_work")
    api = APIClient()
    api.credentials(HTTP_X_ATTEMPT_TOKEN=token)
    return api


@pytest.fixture(autouse=True)
def fresh_budgets() -> None:
    """Sam's escalation budgets counted from zero (the cache outlives a run). Not cache.clear():
    on Redis it empties the database under the other test processes' keys too."""
    limits.escalations_per_address().reset("127.0.0.1")
    limits.escalations_per_recipient().reset(limits.recipient_key(SAM["email"]))


def test_it_runs_a_fixed_number_of_statements(guide_with_steps, django_assert_num_queries):
    api = sam_client(guide_with_steps)
    with django_assert_num_queries(2):
        response = api.post(CONTACT, SAM)
    assert response.status_code == 202


def test_it_makes_one_redis_round_trip(guide_with_steps):
    """Its three throttles and both escalation budgets, counted in one round trip (a Lua script)."""
    skip_unless_redis_cache()
    # A first request from the same client and for the same recipient: the counters exist.
    assert sam_client(guide_with_steps).post(CONTACT, SAM).status_code == 202
    api = sam_client(guide_with_steps)
    with redis_round_trips() as taken:
        response = api.post(CONTACT, SAM)
    assert response.status_code == 202
    assert len(taken) == 1, "\n".join(taken)


def test_a_refused_request_makes_one_redis_round_trip_too(guide_with_steps, settings):
    skip_unless_redis_cache()
    settings.ESCALATION_ADDRESS_LIMIT = 1
    assert sam_client(guide_with_steps).post(CONTACT, SAM).status_code == 202
    api = sam_client(guide_with_steps)
    with redis_round_trips() as taken:
        wrong = api.post(CONTACT, {"description": ""})  # the throttles alone count it
        over_budget = api.post(CONTACT, SAM)
    assert (wrong.status_code, over_budget.status_code) == (400, 429)
    assert len(taken) == 2, "\n".join(taken)
