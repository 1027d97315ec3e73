"""The supervisor's admin: a ticket list whose cost does not grow with the page, a read-only
ticket page with the customer's tried steps, and the routing set-up pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from guides import services as guide_services
from guides.models import Guide
from tests.factories import CompanyFactory, GuideFactory, StepFactory, UserFactory
from tickets import services
from tickets.models import AgentProfile, Priority, Queue, RoutingRule, SLAPolicy, Ticket


def escalated_ticket(guide: Guide, *, outcomes=(), email="sam@example.com") -> Ticket:
    """A ticket made the way customers make them: attempt, outcomes, contact form, worker."""
    attempt, _ = guide_services.attempt_start(guide=guide)
    for step, outcome, note in outcomes:
        guide_services.step_outcome_record(
            attempt=attempt, step_id=step.pk, outcome=outcome, note=note
        )
    guide_services.attempt_contact_submit(
        attempt=attempt, description="Still stuck, please help.", name="Sam", email=email
    )
    ticket = services.ticket_create_from_attempt(attempt_id=attempt.pk)
    assert ticket is not None
    return ticket


def agent(username: str, first_name: str, languages: list[str]) -> AgentProfile:
    user = UserFactory(username=username, first_name=first_name, last_name="Agent")
    return AgentProfile.objects.create(user=user, languages=languages, capacity=10)


@pytest.fixture
def desk(db) -> Queue:
    """One queue every escalation is routed to, staffed by Karim (Arabic), Emma (English)
    and Noor (any language)."""
    queue = Queue.objects.create(name="Billing", slug="billing")
    queue.members.add(
        agent("karim", "Karim", ["ar"]), agent("emma", "Emma", ["en"]), agent("noor", "Noor", [])
    )
    for priority in Priority.values:
        SLAPolicy.objects.create(
            queue=queue, priority=priority, first_response_minutes=30, resolution_minutes=480
        )
    RoutingRule.objects.create(position=10, name="Everything to billing", queue=queue)
    return queue


def tickets_escalated(count: int) -> list[Ticket]:
    """Tickets from different companies, in both languages, spread over the agents."""
    tickets = []
    for number in range(count):
        guide = GuideFactory(company=CompanyFactory(), language=("ar", "en")[number % 2])
        StepFactory(guide=guide, position=1)
        tickets.append(escalated_ticket(guide, email=f"customer{number}@example.com"))
    return tickets


def test_it_lists_tickets_in_the_same_number_of_queries_at_2_and_20(
    admin_client, desk, django_assert_num_queries
):
    url = reverse("admin:tickets_ticket_changelist")
    tickets_escalated(2)
    with CaptureQueriesContext(connection) as at_2:
        assert admin_client.get(url).status_code == 200
    tickets_escalated(18)

    with django_assert_num_queries(len(at_2)):
        response = admin_client.get(url)

    assert response.status_code == 200
    listed = response.context["cl"].result_list
    assert len(listed) == 20
    assert {t.assignee.user.first_name for t in listed} == {"Karim", "Emma", "Noor"}
    # Session, user, the queue and assignee filter choices, the count, and the page with
    # company, queue, assignee and the assignee's user joined in.
    assert len(at_2) == 6, [q["sql"] for q in at_2.captured_queries]


def test_it_shows_each_tickets_sla_state_as_the_clocks_run(admin_client, desk):
    ticket, solved = tickets_escalated(2)
    services.ticket_solve(ticket=solved)
    url = reverse("admin:tickets_ticket_changelist")

    def sla_column() -> dict[str, str]:
        response = admin_client.get(url)
        admin = response.context["cl"].model_admin
        return {t.reference: admin.sla(t) for t in response.context["cl"].result_list}

    due = sla_column()
    services.tickets_sla_check(now=ticket.created_at + timedelta(minutes=23))  # over 75%
    at_risk = sla_column()
    services.tickets_sla_check(now=ticket.created_at + timedelta(minutes=31))
    breached = sla_column()

    assert due[ticket.reference].startswith("First response due<br><time datetime=")
    assert at_risk[ticket.reference].startswith("First response due <strong>at risk</strong>")
    assert breached[ticket.reference] == "Breached: first response"
    assert due[solved.reference] == breached[solved.reference] == "Met"


def test_it_finds_a_ticket_by_reference_or_requester_email(admin_client, desk):
    first, second = tickets_escalated(2)
    url = reverse("admin:tickets_ticket_changelist")

    def found(query: str) -> set[str]:
        response = admin_client.get(url, {"q": query})
        return {t.reference for t in response.context["cl"].result_list}

    assert found(first.reference.lower()) == {first.reference}
    assert found("customer1@example") == {second.reference}
    assert found("nobody@example.com") == set()


def test_it_shows_the_tried_steps_in_order_with_their_notes(admin_client, desk, guide_with_steps):
    first, second, third, _ = guide_with_steps.steps.order_by("position")
    ticket = escalated_ticket(
        guide_with_steps,
        outcomes=[
            (first, "did_not_work", "The page says E-42"),
            (second, "could_not_do", "لا أجد زر التعديل"),
            (third, "did_not_work", "<script>alert(1)</script>"),
        ],
    )

    response = admin_client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk]))

    assert response.status_code == 200
    body = response.content.decode()
    timeline = body[body.index('<ol class="tried-steps">') : body.index("</ol>")]
    positions = [timeline.index(step.title) for step in (first, second, third)]
    assert positions == sorted(positions)
    assert '<p class="tried-step-note" dir="auto">The page says E-42</p>' in timeline
    assert '<p class="tried-step-note" dir="auto">لا أجد زر التعديل</p>' in timeline
    assert "Didn&#x27;t work" in timeline and "Couldn&#x27;t do this" in timeline
    # The customer's words are shown, never run.
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in timeline
    assert "rule “Everything to billing”" in body  # the routing reason
    assert "Escalated from self-help after 3 step outcomes." in body  # the events thread


def test_it_reads_a_ticket_in_the_same_number_of_queries_however_long_its_thread(
    admin_client, desk, guide_with_steps, django_assert_num_queries
):
    ticket = escalated_ticket(guide_with_steps)
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    # The first change page in a process also reads its content type, cached from then on.
    admin_client.get(url)
    with CaptureQueriesContext(connection) as short_thread:
        assert admin_client.get(url).status_code == 200
    for number in range(10):
        services.ticket_reply(ticket=ticket, author=ticket.assignee.user, body=f"Reply {number}")

    with django_assert_num_queries(len(short_thread)):
        body = admin_client.get(url).content.decode()

    assert "Reply 9" in body


def test_it_never_offers_to_add_edit_or_delete_a_ticket(admin_client, desk, guide_with_steps):
    ticket = escalated_ticket(guide_with_steps)
    change_url = reverse("admin:tickets_ticket_change", args=[ticket.pk])

    listing = admin_client.get(reverse("admin:tickets_ticket_changelist")).content.decode()
    page = admin_client.get(change_url).content.decode()

    assert reverse("admin:tickets_ticket_add") not in listing
    assert admin_client.get(reverse("admin:tickets_ticket_add")).status_code == 403
    assert 'name="tried_steps"' not in page
    assert 'name="_save"' not in page
    assert admin_client.post(change_url, {"priority": Priority.URGENT}).status_code == 403
    delete_url = reverse("admin:tickets_ticket_delete", args=[ticket.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    ticket.refresh_from_db()
    assert ticket.priority == Priority.NORMAL


@pytest.mark.parametrize("model", ["queue", "agentprofile", "routingrule"])
def test_it_loads_the_routing_setup_pages(admin_client, desk, model):
    obj = {
        "queue": desk,
        "agentprofile": AgentProfile.objects.first(),
        "routingrule": RoutingRule.objects.first(),
    }[model]

    for url in [
        reverse(f"admin:tickets_{model}_changelist"),
        reverse(f"admin:tickets_{model}_add"),
        reverse(f"admin:tickets_{model}_change", args=[obj.pk]),
    ]:
        assert admin_client.get(url).status_code == 200, url


def test_it_shows_each_agents_open_tickets_against_capacity(admin_client, desk):
    tickets_escalated(3)  # two Arabic, one English

    body = admin_client.get(reverse("admin:tickets_agentprofile_changelist")).content.decode()

    loads = {a.user.first_name: a.open_tickets for a in AgentProfile.objects.select_related("user")}
    assert sum(loads.values()) == 3
    for open_tickets in loads.values():
        assert f"{open_tickets} / 10" in body


def test_it_reorders_and_pauses_rules_from_the_list(admin_client, desk):
    first = RoutingRule.objects.get()
    second = RoutingRule.objects.create(position=20, name="Arabic", language="ar", queue=desk)

    response = admin_client.post(
        reverse("admin:tickets_routingrule_changelist"),
        {
            "form-TOTAL_FORMS": 2, "form-INITIAL_FORMS": 2,
            "form-0-id": first.pk, "form-0-position": 30, "form-0-is_active": "on",
            "form-1-id": second.pk, "form-1-position": 20,
            "_save": "Save",
        },
    )  # fmt: skip

    assert response.status_code == 302
    assert list(RoutingRule.objects.values_list("name", "position", "is_active")) == [
        ("Arabic", 20, False),
        ("Everything to billing", 30, True),
    ]


def test_it_saves_queue_languages_as_ticked_codes(admin_client, desk):
    response = admin_client.post(
        reverse("admin:tickets_queue_add"),
        {
            "name": "Billing (Arabic)", "slug": "billing-ar", "languages": ["ar"],
            "members": [a.pk for a in AgentProfile.objects.filter(user__username="karim")],
            "sla_policies-TOTAL_FORMS": 1, "sla_policies-INITIAL_FORMS": 0,
            "sla_policies-0-priority": Priority.HIGH,
            "sla_policies-0-first_response_minutes": 30,
            "sla_policies-0-resolution_minutes": 480,
        },
    )  # fmt: skip

    assert response.status_code == 302, response.content.decode()[:3000]
    queue = Queue.objects.get(slug="billing-ar")
    assert queue.languages == ["ar"]
    assert [m.user.username for m in queue.members.all()] == ["karim"]
    assert queue.sla_policies.get().priority == Priority.HIGH


def test_it_refuses_a_second_fallback_queue_by_name(admin_client, desk):
    Queue.objects.create(name="General", slug="general", is_fallback=True)

    response = admin_client.post(
        reverse("admin:tickets_queue_add"),
        {
            "name": "Other", "slug": "other", "is_fallback": "on",
            "sla_policies-TOTAL_FORMS": 0, "sla_policies-INITIAL_FORMS": 0,
        },
    )  # fmt: skip

    assert response.status_code == 200
    assert "“General” is the fallback queue" in response.content.decode()
    assert not Queue.objects.filter(slug="other").exists()
