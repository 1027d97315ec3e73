"""The expected wait the guide page shows next to "Talk to a person" (tickets.waits): the
median first response of the company's recent tickets in the language, else the SLA's
target, else nothing; kept in the cache a few minutes.

Persona: Nadia reads Spotify's guide in Arabic and wonders how long a person will take."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from tests.factories import AttemptFactory, GuideFactory, QueueFactory, TicketFactory
from tests.helpers import cache_empty
from tickets import waits
from tickets.models import Priority, SLAPolicy
from tickets.templatetags.ticket_waits import duration_text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache_empty()


def answered(guide, minutes: float | None, *, days_ago: float = 1, queue=None, language=None):
    """A ticket of the guide's company first answered ``minutes`` after it was made."""
    created = timezone.now() - timedelta(days=days_ago)
    attempt = AttemptFactory(guide=guide, language=language or guide.language)
    return TicketFactory(
        attempt=attempt,
        created_at=created,
        first_responded_at=None if minutes is None else created + timedelta(minutes=minutes),
        **({"queue": queue} if queue else {}),
    )


def test_the_median_first_response_of_recent_tickets_in_the_language():
    guide = GuideFactory(language="ar")
    for minutes in [10, 20, 30, 40, 500]:
        answered(guide, minutes)
    answered(guide, 1, days_ago=20)  # older than the window: left out
    answered(guide, None)  # still waiting: left out
    answered(guide, 1, language="en")  # another language's queue

    wait = waits.expected_wait_read(company_id=guide.company_id, language="ar")

    assert wait == waits.ExpectedWait(minutes=30, measured=True)


def test_too_few_answered_tickets_fall_back_to_the_sla_target():
    guide = GuideFactory(language="en")
    queue = QueueFactory()
    SLAPolicy.objects.create(
        queue=queue, priority=Priority.NORMAL, first_response_minutes=240, resolution_minutes=480
    )
    for minutes in range(1, waits.MIN_TICKETS):  # one short of MIN_TICKETS
        answered(guide, minutes, queue=queue)

    wait = waits.expected_wait_read(company_id=guide.company_id, language="en")

    assert wait == waits.ExpectedWait(minutes=240, measured=False)


def test_no_tickets_and_no_target_say_nothing():
    guide = GuideFactory()
    assert waits.expected_wait_read(company_id=guide.company_id, language="en") is None
    answered(guide, None)  # a queue without an SLA policy
    assert waits.expected_wait_read(company_id=guide.company_id, language="en") is None


def test_the_wait_is_kept_in_the_cache(django_assert_num_queries):
    guide = GuideFactory()
    for minutes in [5, 5, 5, 5, 5]:
        answered(guide, minutes)
    assert waits.expected_wait(company_id=guide.company_id, language="en").minutes == 5
    answered(guide, 600)
    with django_assert_num_queries(0):  # kept: no query, and not yet the new ticket
        assert waits.expected_wait(company_id=guide.company_id, language="en").minutes == 5
    cache_empty()
    assert waits.expected_wait(company_id=guide.company_id, language="en").minutes == 5
    # "No figure" is kept too.
    other = GuideFactory()
    assert waits.expected_wait(company_id=other.company_id, language="en") is None
    with django_assert_num_queries(0):
        assert waits.expected_wait(company_id=other.company_id, language="en") is None


@pytest.mark.parametrize(
    ("minutes", "english", "arabic"),
    [
        (1, "1 minute", "دقيقة واحدة"),
        (25, "25 minutes", "25 دقيقة"),
        (61, "2 hours", "ساعتين"),
        (47 * 60, "47 hours", "47 ساعة"),
        (3 * 24 * 60, "3 days", "3 أيام"),
    ],
)
def test_the_wait_reads_in_both_languages(minutes, english, arabic):
    assert duration_text(minutes) == english
    with translation.override("ar"):
        assert duration_text(minutes) == arabic


def test_the_template_tag_says_the_wait_in_the_pages_language():
    guide = GuideFactory(language="ar")
    for minutes in [90, 100, 120, 130, 140]:
        answered(guide, minutes)
    template = Template(
        "{% load ticket_waits %}{% expected_wait_text company language as wait %}{{ wait }}"
    )
    context = Context({"company": guide.company_id, "language": "ar"})
    assert template.render(context) == "A person usually answers within 2 hours."
    with translation.override("ar"):
        assert template.render(context) == "يردّ أحد موظفينا عادةً خلال ساعتين."
