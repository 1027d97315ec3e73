"""The API's rate throttles count requests in fixed windows of the rate's length, aligned to
the clock (helpdesk.api.throttling): past the rate a client gets 429 with Retry-After until
its window ends, every view counts against the same anonymous and user budgets, and the
escalate request counts its throttles and budgets together without a throttled request
writing anything.

The throttles' timer is this module's clock, moved by the tests; it starts at an hour of its
own, far from now, so no window counted by an earlier run (the cache outlives one) is seen.

Personas: Mallory scripts requests from her connection; Sam uses the API from his.
"""

from __future__ import annotations

import secrets

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from guides import services
from guides.models import Attempt
from helpdesk import limits
from helpdesk.api.throttling import CounterRateThrottle

MALLORY = "203.0.113.81"
SAM = "198.51.100.81"
CONTACT = "/api/v1/attempt/contact/"
HELP = {"description": "The card is still refused"}


class Clock:
    """The throttles' timer: seconds since the epoch, as time.time, but set by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    hour = 3600 * (500_000 + secrets.randbelow(10_000_000))  # some hour after the year 2027
    clock = Clock(hour)
    monkeypatch.setattr(CounterRateThrottle, "timer", clock)
    return clock


@pytest.fixture
def rates(monkeypatch):
    """Set some of the settings' rates (DRF reads them once, into the throttle classes)."""

    def set_rates(**overrides: str) -> None:
        every = {**SimpleRateThrottle.THROTTLE_RATES, **overrides}
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", every)

    return set_rates


def attempts_started(client: APIClient, guide, count: int) -> list[int]:
    return [client.post(f"/api/v1/guides/{guide.pk}/attempts/").status_code for _ in range(count)]


def test_past_the_rate_it_answers_429_until_the_window_ends(guide_with_steps, clock, rates):
    rates(anon_write="3/minute")
    clock.now += 15  # a quarter into a minute
    mallory = APIClient(REMOTE_ADDR=MALLORY)

    assert attempts_started(mallory, guide_with_steps, 4) == [201, 201, 201, 429]
    refused = mallory.post(f"/api/v1/guides/{guide_with_steps.pk}/attempts/")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "45"  # the minute's end
    assert refused.json()["code"] == "throttled"
    assert attempts_started(APIClient(REMOTE_ADDR=SAM), guide_with_steps, 1) == [201]

    clock.now += 44
    assert attempts_started(mallory, guide_with_steps, 1) == [429]
    clock.now += 1  # the next minute: counted from zero
    assert attempts_started(mallory, guide_with_steps, 4) == [201, 201, 201, 429]
    assert Attempt.objects.count() == 7


def test_a_fixed_window_lets_up_to_twice_the_rate_through_across_its_end(
    guide_with_steps, clock, rates
):
    # What docs/security.md says of the fixed window: the price of one round trip.
    rates(anon_write="3/minute")
    mallory = APIClient(REMOTE_ADDR=MALLORY)
    clock.now += 59
    assert attempts_started(mallory, guide_with_steps, 3) == [201, 201, 201]
    clock.now += 1
    assert attempts_started(mallory, guide_with_steps, 4) == [201, 201, 201, 429]


def test_every_view_counts_against_one_anonymous_budget_per_address(guide_with_steps, clock, rates):
    rates(anon="4/minute")
    mallory = APIClient(REMOTE_ADDR=MALLORY)
    guide = guide_with_steps

    assert mallory.get("/api/v1/guides/").status_code == 200
    assert mallory.get(f"/api/v1/guides/{guide.pk}/").status_code == 200
    assert mallory.get("/api/v1/companies/").status_code == 200
    assert attempts_started(mallory, guide, 1) == [201]

    # The budget is spent, on every view: guides, attempts, the customer ticket API.
    assert mallory.get("/api/v1/guides/").status_code == 429
    assert attempts_started(mallory, guide, 1) == [429]
    assert mallory.get("/api/v1/customer/tickets/HD-1/").status_code == 429
    assert mallory.post(CONTACT, HELP, HTTP_X_ATTEMPT_TOKEN="x").status_code == 429
    assert APIClient(REMOTE_ADDR=SAM).get("/api/v1/guides/").status_code == 200


def _api_views(patterns) -> list[type[APIView]]:
    views = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            views += _api_views(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "cls", None)
            if isinstance(view, type) and issubclass(view, APIView):
                views.append(view)
    return views


def test_every_rate_throttle_of_the_api_counts_in_windows():
    """The anonymous and user keys are shared by every view: a view keeping DRF's list of
    request times under them would read the others' counters as garbage (and they its list)."""
    views = set(_api_views(get_resolver().url_patterns))
    assert len(views) > 10
    for view in views:
        for throttle in view().get_throttles():
            if isinstance(throttle, SimpleRateThrottle):
                assert isinstance(throttle, CounterRateThrottle), (view, throttle)


@pytest.fixture
def mallorys_attempt(guide_with_steps) -> tuple[Attempt, APIClient]:
    for limit in (limits.escalations_per_address(), limits.escalations_per_recipient()):
        limit.reset(MALLORY)
    attempt, token = services.attempt_start(guide=guide_with_steps)
    step = guide_with_steps.steps.first()
    services.step_outcome_record(attempt=attempt, step_id=step.pk, outcome="did_not_work")
    api = APIClient(REMOTE_ADDR=MALLORY)
    api.credentials(HTTP_X_ATTEMPT_TOKEN=token)
    return attempt, api


def test_a_throttled_request_for_a_person_writes_nothing(mallorys_attempt, clock, rates):
    attempt, mallory = mallorys_attempt
    rates(anon_write="2/minute")

    assert mallory.post(CONTACT, {}).status_code == 400  # a wrong input counts...
    guessing = APIClient(REMOTE_ADDR=MALLORY)
    assert guessing.post(CONTACT, HELP, HTTP_X_ATTEMPT_TOKEN="wrong").status_code == 404  # too
    refused = mallory.post(CONTACT, HELP)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "60"
    attempt.refresh_from_db()
    assert attempt.status != Attempt.Status.ESCALATED
    assert attempt.escalation_requested_at is None
    # Past the rate the throttle answers, whatever is wrong with the request.
    assert mallory.post(CONTACT, {}).status_code == 429

    clock.now += 60
    assert mallory.post(CONTACT, HELP).status_code == 202
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.ESCALATED


def test_requests_refused_for_their_input_do_not_spend_the_escalation_budget(
    mallorys_attempt, clock, settings
):
    attempt, mallory = mallorys_attempt
    settings.ESCALATION_ADDRESS_LIMIT = 1
    for _ in range(3):
        assert mallory.post(CONTACT, {"description": ""}).status_code == 400
    assert mallory.post(CONTACT, HELP).status_code == 202
    assert mallory.post(CONTACT, HELP).status_code == 429  # the budget, spent by one request
