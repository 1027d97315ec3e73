"""A customer walks a guide on the web pages, without JavaScript: forms, redirects, cookies."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from guides.models import Attempt, Feedback, Guide, StepOutcome
from tests.factories import GuideFactory, StepFactory
from tests.helpers import cache_empty


def url(name: str, guide: Guide, **extra) -> str:
    kwargs = {"company": guide.company.slug, "language": guide.language, "slug": guide.slug}
    return reverse(f"guides:{name}", kwargs={**kwargs, **extra})


def mark(client: Client, guide: Guide, step, outcome: str, note: str = ""):
    return client.post(
        url("step-outcome", guide, step_id=step.pk), {"outcome": outcome, "note": note}
    )


def test_marking_a_step_starts_an_attempt_kept_in_a_cookie(client, guide_with_steps):
    guide = guide_with_steps
    first, second, *_ = guide.steps.order_by("position")

    response = mark(client, guide, first, "did_not_work", "Error E-42")

    assert response.status_code == 302
    # On to the next step in this attempt's order (a tenth of attempts explore another order
    # of the alternatives: guides.ordering), not back to the step just answered.
    shown = Attempt.objects.get().step_order
    following = guide.steps.get(pk=shown[shown.index(first.pk) + 1])
    assert response["Location"].endswith(f"#step-{following.position}")
    cookie = response.cookies[f"attempt-{guide.pk}"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    mark(client, guide, second, "could_not_do")
    attempt = Attempt.objects.get()  # the second click used the same attempt
    assert [(o.step_position, o.outcome, o.note) for o in attempt.outcomes.all()] == [
        (1, "did_not_work", "Error E-42"),
        (2, "could_not_do", ""),
    ]


def test_the_page_shows_each_steps_state_after_a_reload(client, guide_with_steps):
    guide = guide_with_steps
    first = guide.steps.order_by("position").first()
    mark(client, guide, first, "did_not_work", "Card refused")

    body = client.get(url("guide-detail", guide)).content.decode()

    assert 'data-outcome="did_not_work"' in body
    assert "Card refused" in body


def test_fixed_it_shows_the_guide_resolved(client, guide_with_steps):
    guide = guide_with_steps
    second = guide.steps.order_by("position")[1]
    response = mark(client, guide, second, "worked")
    assert response["Location"].endswith("#feedback")
    body = client.get(url("guide-detail", guide)).content.decode()
    assert "Glad that fixed it" in body
    # The helpful vote comes right under the success, before the steps.
    assert body.index('id="feedback"') < body.index("Glad that fixed it") < body.index('"step-1"')
    assert body.count('id="feedback"') == 1
    assert Attempt.objects.get().status == "resolved"


def test_the_page_leads_to_the_first_step_not_yet_answered(client, guide_with_steps):
    guide = guide_with_steps
    # The authors' order for every attempt: none draws another order of the alternatives to
    # explore (guides.ordering), so the steps are numbered and met in their positions.
    guide.alternatives_pinned = True
    guide.save()
    steps = list(guide.steps.order_by("position"))
    body = client.get(url("guide-detail", guide)).content.decode()
    assert 'class="step step-procedure step-current" open id="step-1"' in body
    assert "Step 1 of 4" in body

    response = mark(client, guide, steps[1], "skipped")  # answered out of order
    assert response["Location"].endswith("#step-1")
    mark(client, guide, steps[0], "did_not_work", "no luck")
    body = client.get(url("guide-detail", guide)).content.decode()
    # The answered steps are collapsed to their title and outcome; the next one is open.
    assert re.search(
        r'<details class="step step-procedure answered outcome-did_not_work" id="step-1">', body
    )
    assert re.search(r'class="step-outcome-label" data-outcome="did_not_work">Didn.*t work<', body)
    assert body.count(" open id=") == 1
    current = body.index("step-current")
    assert body.index('id="step-3"') == current + body[current:].index('id="step-3"')
    assert "Step 3 of 4" in body

    mark(client, guide, steps[2], "did_not_work")
    response = mark(client, guide, steps[3], "could_not_do")
    assert response["Location"].endswith("#person")  # nothing left: the way to a person
    assert "step-current" not in client.get(url("guide-detail", guide)).content.decode()


def test_attempts_on_two_guides_live_side_by_side(client, guide_with_steps):
    other = GuideFactory()
    other_step = StepFactory(guide=other, position=1)
    mark(client, guide_with_steps, guide_with_steps.steps.first(), "skipped")
    mark(client, other, other_step, "did_not_work")
    mark(client, guide_with_steps, guide_with_steps.steps.last(), "did_not_work")

    assert Attempt.objects.count() == 2
    assert {a.guide_id: a.outcomes.count() for a in Attempt.objects.all()} == {
        guide_with_steps.pk: 2,
        other.pk: 1,
    }


def test_a_step_of_another_guide_is_404(client, guide_with_steps):
    foreign = StepFactory(guide=GuideFactory(), position=1)
    response = mark(client, guide_with_steps, foreign, "worked")
    assert response.status_code == 404
    assert not StepOutcome.objects.exists()


def test_a_bad_outcome_is_a_message_not_a_crash(client, guide_with_steps):
    response = mark(client, guide_with_steps, guide_with_steps.steps.first(), "sort-of")
    assert response.status_code == 302
    assert not StepOutcome.objects.exists()
    page = client.get(response["Location"]).content.decode()
    assert "Choose what happened at this step." in page


def test_talk_to_a_person_stores_the_request_and_says_where_we_will_answer(
    client, guide_with_steps
):
    guide = guide_with_steps
    mark(client, guide, guide.steps.first(), "did_not_work")
    form = client.get(url("contact", guide)).content.decode()
    assert guide.steps.first().title in form  # what was tried is shown before asking

    response = client.post(
        url("contact", guide),
        {"description": "The card is refused", "name": "Layla", "email": "layla@example.com"},
        follow=True,
    )

    assert response.redirect_chain == [(url("contact", guide), 303)]  # post/redirect/get
    assert "layla@example.com" in response.content.decode()
    attempt = Attempt.objects.get()
    assert attempt.status == "escalated"
    assert attempt.description == "The card is refused"
    later = client.get(url("guide-detail", guide)).content.decode()
    assert "You asked a person for help" in later
    assert 'class="step-outcome"' not in later  # no more outcome buttons on a closed attempt
    # Instead of the button: what they did, and the way to their request.
    assert "You asked for a person." in later
    # The reference reserved when they asked, before any ticket exists.
    assert attempt.ticket_reference
    assert f'<bdi class="reference">{attempt.ticket_reference}</bdi>' in later
    assert f'href="{url("contact", guide)}">See your request<' in later
    assert "button-person" not in later


def test_the_talk_to_a_person_entry_shows_the_wait_and_the_channels(client, guide_with_steps):
    guide = guide_with_steps
    company = guide.company
    company.support_phone = "+20 2 1234 5678"
    company.support_email = "help@company.example"
    company.support_hours = "Sun–Thu 9:00–17:00"
    company.save()
    body = Client().get(url("guide-detail", guide)).content.decode()
    assert 'class="button button-person"' in body
    assert 'href="tel:+20 2 1234 5678"' in body
    assert "mailto:help@company.example" in body
    assert "Sun–Thu 9:00–17:00" in body


def test_the_contact_form_reports_field_errors(client, guide_with_steps):
    response = client.post(url("contact", guide_with_steps), {"description": "", "email": "x"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "This field is required." in body
    assert "Enter a valid email address." in body
    assert not Attempt.objects.exists()


def test_start_over_after_escalating(client, guide_with_steps):
    guide = guide_with_steps
    client.post(url("contact", guide), {"description": "help", "email": "a@example.com"})
    client.post(url("attempt-restart", guide))
    mark(client, guide, guide.steps.first(), "skipped")
    assert list(Attempt.objects.order_by("started_at").values_list("status", flat=True)) == [
        "escalated",
        "in_progress",
    ]


def test_feedback_from_the_page(client, guide_with_steps):
    guide = guide_with_steps
    mark(client, guide, guide.steps.first(), "did_not_work")
    client.post(url("feedback", guide), {"helpful": "no", "comment": "Step 1 is outdated"})
    feedback = Feedback.objects.get()
    assert feedback.attempt == Attempt.objects.get()
    assert (feedback.helpful, feedback.comment) == (False, "Step 1 is outdated")
    guide.refresh_from_db()
    assert guide.needs_work_count == 1


def test_forms_need_the_csrf_token(guide_with_steps):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        url("step-outcome", guide_with_steps, step_id=guide_with_steps.steps.first().pk),
        {"outcome": "worked"},
    )
    assert response.status_code == 403
    assert not Attempt.objects.exists()


@pytest.mark.parametrize("steps", [3, 30])
def test_the_guide_page_query_count_does_not_grow_with_steps_or_outcomes(
    db, client, django_assert_num_queries, steps
):
    guide = GuideFactory(tags=["a", "b"])
    made = [StepFactory(guide=guide, position=n) for n in range(1, steps + 1)]
    for step in made:
        mark(client, guide, step, "did_not_work", "no luck")
    client.post(url("feedback", guide), {"helpful": "no"})
    cache_empty()  # the expected wait is read too (a company without tickets: two queries)
    # guide+company, tags, steps, attempt, its outcomes, its feedback, translations, related
    # guides, the company's answered tickets and its latest ticket's queue (tickets.waits)
    with django_assert_num_queries(10):
        assert client.get(url("guide-detail", guide)).status_code == 200
