"""'Was this helpful?': one answer per visitor and per attempt, replaced when given again, and
throttled per address; the guide's tallies always match the answers kept."""

from __future__ import annotations

from functools import partial

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from guides import services
from guides.api.attempts import _AnonymousWriteThrottle
from guides.models import Feedback, Guide, feedback_voter_hash
from guides.visitors import VISITOR_COOKIE
from tests.helpers import at_once, skip_unless_row_locks, throttle_forget, visitor_of_client

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


def feedback_url(guide: Guide) -> str:
    kwargs = {"company": guide.company.slug, "language": guide.language, "slug": guide.slug}
    return reverse("guides:feedback", kwargs=kwargs)


def answer_on_the_page(client: Client, guide: Guide, helpful: bool, comment: str = ""):
    return client.post(
        feedback_url(guide), {"helpful": "yes" if helpful else "no", "comment": comment}
    )


def answer_through_the_api(client: Client, guide: Guide, helpful: bool):
    url = f"/api/v1/guides/{guide.pk}/feedback/"
    if isinstance(client, APIClient):
        return client.post(url, {"helpful": helpful}, format="json")
    return client.post(url, {"helpful": helpful}, content_type="application/json")


def tallies(guide: Guide) -> tuple[int, int]:
    guide.refresh_from_db()
    return guide.helpful_count, guide.needs_work_count


@pytest.fixture
def guide(guide_with_steps):
    return guide_with_steps


def test_it_keeps_one_answer_from_a_visitor_who_posts_25_times_on_the_page(guide):
    layla = Client(HTTP_USER_AGENT=BROWSER)
    for _ in range(25):
        assert answer_on_the_page(layla, guide, helpful=True).status_code == 302

    assert Feedback.objects.count() == 1
    assert tallies(guide) == (1, 0)
    # A hash of the guide and the visitor's id, not the id itself.
    visitor_id = visitor_of_client(layla).id
    assert Feedback.objects.get().voter == feedback_voter_hash(
        guide_id=guide.pk, visitor_id=visitor_id
    )
    assert visitor_id not in Feedback.objects.get().voter


def test_changing_the_answer_on_the_page_replaces_it(guide):
    layla = Client()
    answer_on_the_page(layla, guide, helpful=True)
    answer_on_the_page(layla, guide, helpful=False, comment="Step 2 is outdated")

    answer = Feedback.objects.get()
    assert (answer.helpful, answer.comment) == (False, "Step 2 is outdated")
    assert tallies(guide) == (0, 1)


def test_two_visitors_give_two_answers(guide):
    answer_on_the_page(Client(), guide, helpful=True)
    answer_on_the_page(Client(), guide, helpful=False)

    assert Feedback.objects.count() == 2
    assert tallies(guide) == (1, 1)


def test_starting_over_does_not_give_a_visitor_a_second_vote(guide):
    layla = Client()
    step = guide.steps.first()
    kwargs = {"company": guide.company.slug, "language": guide.language, "slug": guide.slug}
    layla.post(
        reverse("guides:step-outcome", kwargs={**kwargs, "step_id": step.pk}),
        {"outcome": "skipped"},
    )
    answer_on_the_page(layla, guide, helpful=False)
    layla.post(reverse("guides:attempt-restart", kwargs=kwargs))  # a new attempt
    layla.post(
        reverse("guides:step-outcome", kwargs={**kwargs, "step_id": step.pk}), {"outcome": "worked"}
    )

    answer_on_the_page(layla, guide, helpful=True)

    answer = Feedback.objects.get()
    assert answer.helpful
    assert answer.attempt.status == "resolved"  # the newest attempt's
    assert tallies(guide) == (1, 0)


def test_it_keeps_one_answer_from_a_visitor_who_posts_25_times_through_the_api(guide):
    client = APIClient()  # keeps the cookie the first answer set, as a browser would
    for _ in range(25):
        assert answer_through_the_api(client, guide, helpful=True).status_code == 201

    assert Feedback.objects.count() == 1
    assert tallies(guide) == (1, 0)

    assert answer_through_the_api(client, guide, helpful=False).status_code == 201
    assert Feedback.objects.get().helpful is False
    assert tallies(guide) == (0, 1)

    answer_through_the_api(APIClient(), guide, helpful=True)  # another visitor
    assert tallies(guide) == (1, 1)


def test_the_page_and_the_api_know_the_same_visitor(guide):
    layla = Client()  # a browser: the page's form, then the API from the page's script
    assert answer_on_the_page(layla, guide, helpful=True).status_code == 302
    assert answer_through_the_api(layla, guide, helpful=False).status_code == 201

    assert Feedback.objects.count() == 1
    assert tallies(guide) == (0, 1)


def test_an_attempt_answers_once_through_the_api(guide):
    client = APIClient()
    started = client.post(f"/api/v1/guides/{guide.pk}/attempts/")
    client.credentials(HTTP_X_ATTEMPT_TOKEN=started.json()["token"])
    for helpful in [True] * 24 + [False]:
        assert client.post("/api/v1/attempt/feedback/", {"helpful": helpful}).status_code == 200

    assert Feedback.objects.count() == 1
    assert tallies(guide) == (0, 1)


def test_a_forged_visitor_cookie_is_a_new_visitor(guide):
    layla = Client()
    answer_on_the_page(layla, guide, helpful=True)
    forger = Client()
    forger.cookies[VISITOR_COOKIE] = layla.cookies[VISITOR_COOKIE].value.split(":")[0] + ":forged"

    answer_on_the_page(forger, guide, helpful=False)

    assert Feedback.objects.count() == 2
    assert tallies(guide) == (1, 1)


ADDRESS = "203.0.113.41"


@pytest.fixture
def three_answers_a_minute(monkeypatch):
    rate = {"feedback": "3/minute"}
    monkeypatch.setattr("guides.visitors.FeedbackThrottle.THROTTLE_RATES", rate, raising=False)
    monkeypatch.setattr(
        _AnonymousWriteThrottle,
        "THROTTLE_RATES",
        {**rate, "anon_write": "1000/minute"},
        raising=False,
    )
    # This test's own address, its count cleared, so earlier requests do not count.
    throttle_forget(f"throttle_feedback_{ADDRESS}", rate["feedback"])


def test_answers_are_throttled_per_address_on_the_page_and_the_api_together(
    guide, three_answers_a_minute
):
    # Each post from a new visitor, as a script that drops its cookies would send them.
    answer_on_the_page(Client(REMOTE_ADDR=ADDRESS), guide, helpful=True)
    answer_on_the_page(Client(REMOTE_ADDR=ADDRESS), guide, helpful=True)
    assert answer_through_the_api(APIClient(REMOTE_ADDR=ADDRESS), guide, True).status_code == 201

    refused_api = answer_through_the_api(APIClient(REMOTE_ADDR=ADDRESS), guide, True)
    script = Client(REMOTE_ADDR=ADDRESS)
    refused_page = answer_on_the_page(script, guide, helpful=True)

    assert refused_api.status_code == 429
    assert int(refused_api["Retry-After"]) > 0
    assert refused_page.status_code == 302
    assert (
        "Too many answers came from your connection"
        in script.get(refused_page["Location"]).content.decode()
    )
    assert Feedback.objects.count() == 3
    assert tallies(guide) == (3, 0)
    answer_on_the_page(Client(REMOTE_ADDR="198.51.100.2"), guide, helpful=True)  # elsewhere
    assert Feedback.objects.count() == 4


def test_the_service_needs_an_attempt_or_a_visitor(guide):
    with pytest.raises(ValueError):
        services.feedback_give(guide=guide, helpful=True)
    assert not Feedback.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_first_answers_of_one_visitor_at_once_leave_one_answer(guide_with_steps):
    skip_unless_row_locks()
    rounds = 10
    errors: list[BaseException] = []
    for n in range(rounds):
        visitor_id = f"visitor-{n:02d}-0123456789abcdef"
        errors += at_once(
            *(
                partial(
                    services.feedback_give,
                    guide=guide_with_steps, visitor_id=visitor_id, helpful=helpful,
                )
                for helpful in (True, False)
            )
        )  # fmt: skip

    assert not errors, errors
    assert Feedback.objects.count() == rounds
    helpful = Feedback.objects.filter(helpful=True).count()
    assert tallies(guide_with_steps) == (helpful, rounds - helpful)
