"""The demo set-up routes the demo guides' escalations the way the README promises: Arabic
payment trouble to Karim in Billing (Arabic), English to Emma, anything else to General."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.core.management import call_command

from guides import services as guide_services
from guides.models import Guide
from tickets import services
from tickets.business_hours import working_time_between
from tickets.models import AgentProfile, Priority, Queue, RoutingRule, SLAPolicy, Ticket


@pytest.fixture
def demo(db, settings):
    settings.DEBUG = True  # load_demo refuses to run otherwise (its passwords are public)
    call_command("load_demo", verbosity=0)


def escalate(company: str, language: str, slug: str, description: str) -> Ticket:
    """A customer walks the demo guide, the first step fails, and they ask for a person."""
    guide = Guide.objects.get(company__slug=company, language=language, slug=slug)
    attempt, _ = guide_services.attempt_start(guide=guide)
    first_step = guide.steps.order_by("position").first()
    guide_services.step_outcome_record(
        attempt=attempt, step_id=first_step.pk, outcome="did_not_work", note=description
    )
    guide_services.attempt_contact_submit(
        attempt=attempt, description=description, name="Customer", email="customer@example.com"
    )
    ticket = services.ticket_create_from_attempt(attempt_id=attempt.pk)
    assert ticket is not None
    return ticket


def test_it_sends_arabic_payment_trouble_to_billing_arabic(demo):
    ticket = escalate("spotify", "ar", "cant-change-payment-card", "البطاقة مرفوضة")

    assert ticket.queue.slug == "billing-ar"
    assert ticket.assignee.user.username == "agent.ar"
    assert ticket.priority == Priority.HIGH
    assert ticket.routing_rule.name == "Payments in Arabic"
    assert "Payments in Arabic" in ticket.routing_reason
    # The Arabic desk works Sunday–Thursday 09:00–17:00 in Riyadh: the targets are working time.
    calendar = ticket.queue.schedule.calendar()
    assert calendar.time_zone.key == "Asia/Riyadh"
    created, first_due = ticket.created_at, ticket.first_response_due_at
    assert working_time_between(calendar, created, first_due) == timedelta(minutes=30)
    assert working_time_between(calendar, created, ticket.resolution_due_at) == timedelta(hours=8)
    local = first_due.astimezone(calendar.time_zone)
    assert local.weekday() in (6, 0, 1, 2, 3) and time(9) < local.time() <= time(17)
    assert AgentProfile.objects.get(user__username="agent.ar").open_tickets == 1


def test_it_sends_english_payment_trouble_to_billing_english(demo):
    ticket = escalate("spotify", "en", "cant-change-payment-card", "The card is refused")

    assert ticket.queue.slug == "billing-en"
    assert ticket.assignee.user.username == "agent.en"
    assert ticket.priority == Priority.HIGH
    assert "Payments in English" in ticket.routing_reason
    assert ticket.first_response_due_at is not None
    assert ticket.resolution_due_at is not None


@pytest.mark.parametrize(
    ("company", "language", "slug", "agent", "other"),
    [
        ("netflix", "en", "password-reset-email-not-arriving", "agent.en", "agent.ar"),
        ("whatsapp", "ar", "verification-code-not-arriving", "agent.ar", "agent.en"),
    ],
)
def test_it_sends_a_guide_no_rule_matches_to_general_where_it_waits_to_be_claimed(
    demo, company, language, slug, agent, other
):
    ticket = escalate(company, language, slug, "Nothing arrives")

    assert ticket.queue.slug == "general"
    assert ticket.queue.is_fallback
    assert ticket.routing_rule is None
    assert ticket.routing_reason == "no rule matched → General"
    assert ticket.priority == Priority.NORMAL
    assert ticket.resolution_due_at == ticket.created_at + timedelta(hours=24)
    # General does not assign by itself: the member who speaks the language claims it.
    assert ticket.assignee is None
    assert services.tickets_assign_waiting() == 0
    profiles = {p.user.username: p for p in AgentProfile.objects.select_related("user")}
    assert services.ticket_claim_next(agent=profiles[other]) is None
    assert services.ticket_claim_next(agent=profiles[agent]) == ticket


def test_it_sets_up_the_demo_routing_once_however_often_it_runs(demo):
    escalate("spotify", "ar", "cant-change-payment-card", "البطاقة مرفوضة")

    call_command("load_demo", verbosity=0)

    assert sorted(Queue.objects.values_list("slug", flat=True)) == [
        "billing-ar",
        "billing-en",
        "general",
    ]
    assert list(RoutingRule.objects.values_list("position", flat=True)) == [10, 20, 30, 40, 50, 60]
    assert SLAPolicy.objects.count() == 3 * 4
    assert AgentProfile.objects.count() == 2
    # The assignment services own the counters: a reload must not forget Karim's ticket.
    assert AgentProfile.objects.get(user__username="agent.ar").open_tickets == 1
    supervised = Queue.objects.filter(supervisors__username="supervisor")
    assert supervised.count() == 3


def test_the_demo_canned_replies_fill_in_for_an_arabic_ticket_and_reload_keeps_their_counts(
    demo,
):
    from tickets.models import CannedReply
    from tickets.selectors import canned_replies_for

    ticket = escalate("spotify", "ar", "cant-change-payment-card", "البطاقة مرفوضة")
    offered = list(canned_replies_for(ticket=ticket))
    assert offered and {reply.language for reply in offered} == {"ar"}
    for rendered in services.canned_replies_render(
        canned_replies=offered, ticket=ticket, actor=None
    ):
        assert rendered.error == "" and ticket.reference in rendered.body
    CannedReply.objects.filter(pk=offered[0].pk).update(usage_count=5)

    call_command("load_demo", verbosity=0)

    assert CannedReply.objects.filter(language="en").count() == len(offered)
    assert CannedReply.objects.get(pk=offered[0].pk).usage_count == 5
