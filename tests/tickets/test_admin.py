"""The ticket list agents work from (the default work view, filters, search, SLA colours, a
query count that does not grow with the rows, paging without a full count), the API token
admin, and the supervisor's routing set-up pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from guides import services as guide_services
from guides.models import Guide
from tests.factories import (
    CompanyFactory,
    GuideFactory,
    StepFactory,
    TicketFactory,
    UserFactory,
    agent_in,
)
from tests.helpers import CHANGELIST, listed
from tests.personas import Desk
from tickets import services
from tickets.admin import EstimatedCountPaginator
from tickets.models import (
    AgentProfile,
    ApiToken,
    Priority,
    Queue,
    RoutingRule,
    SLAPolicy,
    Ticket,
    api_token_key_hash,
)


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


@pytest.fixture
def routed_billing(billing, karim, emma) -> Queue:
    """Billing as the queue every escalation is routed to, staffed by Karim (Arabic), Emma
    (English) and Noor (any language)."""
    agent_in(billing, username="noor", languages=[])
    for priority in Priority.values:
        SLAPolicy.objects.create(
            queue=billing, priority=priority, first_response_minutes=30, resolution_minutes=480
        )
    RoutingRule.objects.create(position=10, name="Everything to billing", queue=billing)
    return billing


def tickets_escalated(count: int) -> list[Ticket]:
    """Tickets from different companies, in both languages, spread over the agents."""
    tickets = []
    for number in range(count):
        guide = GuideFactory(company=CompanyFactory(), language=("ar", "en")[number % 2])
        StepFactory(guide=guide, position=1)
        tickets.append(escalated_ticket(guide, email=f"customer{number}@example.com"))
    return tickets


def test_it_opens_on_my_open_tickets_then_my_queues_unassigned_in_work_order(client, desk):
    now = timezone.now()
    carol = agent_in(desk.billing, username="carol")
    old_normal = TicketFactory(queue=desk.billing, created_at=now - timedelta(hours=5))
    new_urgent = TicketFactory(queue=desk.billing, priority=Priority.URGENT)
    breached_low = TicketFactory(queue=desk.billing, priority=Priority.LOW, sla_breached=True)
    mine = TicketFactory(
        queue=desk.billing, assignee=desk.alice, created_at=now - timedelta(hours=1)
    )
    mine_high = TicketFactory(queue=desk.billing, assignee=desk.alice, priority=Priority.HIGH)
    carols = TicketFactory(queue=desk.billing, assignee=carol)
    solved = TicketFactory(queue=desk.billing, assignee=desk.alice, status="solved")
    client.force_login(desk.alice.user)

    work = listed(client)
    everything = listed(client, view="all")

    assert work == [
        mine_high.reference, mine.reference,
        breached_low.reference, new_urgent.reference, old_normal.reference,
    ]  # fmt: skip
    assert set(everything) == set(work) | {carols.reference, solved.reference}
    assert everything[0] == breached_low.reference  # breached first, whoever holds it


def test_it_filters_by_assignee_me_or_nobody(client, desk):
    carol = agent_in(desk.billing, username="carol")
    mine = TicketFactory(queue=desk.billing, assignee=desk.alice)
    waiting = TicketFactory(queue=desk.billing)
    carols = TicketFactory(queue=desk.billing, assignee=carol)
    client.force_login(desk.alice.user)

    assert listed(client, assignee="me") == [mine.reference]
    assert listed(client, assignee="nobody") == [waiting.reference]
    assert listed(client, assignee=carol.pk) == [carols.reference]
    assert listed(client, assignee="someone") == []


def test_it_filters_by_sla_state(client, desk):
    now = timezone.now()
    on_track = TicketFactory(queue=desk.billing)
    at_risk = TicketFactory(queue=desk.billing, sla_at_risk_at=now)
    breached = TicketFactory(queue=desk.billing, sla_breached=True, sla_at_risk_at=now)
    solved_late = TicketFactory(queue=desk.billing, status="solved", sla_breached=True)
    # Flagged at risk while open, then solved in time: its clocks stopped, targets met.
    solved = TicketFactory(queue=desk.billing, status="solved", sla_at_risk_at=now)
    client.force_login(desk.alice.user)

    assert set(listed(client, sla="breached")) == {breached.reference, solved_late.reference}
    assert listed(client, sla="at_risk") == [at_risk.reference]
    assert listed(client, sla="on_track") == [on_track.reference]
    assert listed(client, sla="met") == [solved.reference]
    assert listed(client, sla="late") == []


def test_it_filters_by_queue_status_priority_language_and_company(client, desk):
    urgent = TicketFactory(queue=desk.billing, priority=Priority.URGENT)
    arabic = TicketFactory(queue=desk.billing, language="ar", status="pending")
    shipping = TicketFactory(queue=desk.returns)
    client.force_login(desk.sue)

    assert listed(client, queue=desk.returns.pk) == [shipping.reference]
    assert listed(client, status__exact="pending") == [arabic.reference]
    assert listed(client, priority__exact=Priority.URGENT) == [urgent.reference]
    assert listed(client, language__exact="ar") == [arabic.reference]
    assert listed(client, company__id__exact=urgent.company_id) == [urgent.reference]


def test_it_finds_a_ticket_by_reference_email_or_subject_words(client, desk):
    card = TicketFactory(queue=desk.billing, subject="Card refused at checkout")
    parcel = TicketFactory(
        queue=desk.billing, subject="Parcel lost", requester_email="Layla@Example.com",
        status="closed",
    )  # fmt: skip
    client.force_login(desk.alice.user)

    # Found whatever the view: a closed ticket is still found by its reference.
    assert listed(client, q=parcel.reference.lower()) == [parcel.reference]
    assert listed(client, q="layla@example.COM") == [parcel.reference]
    assert listed(client, q="layla@example") == []  # an address matches whole, not in part
    assert listed(client, q="refused") == [card.reference]
    # A word shaped like a reference that is no ticket's reference is still a subject word.
    word = TicketFactory(queue=desk.billing, subject="Strawberry plan charged twice")
    assert listed(client, q="STRAWBERRY") == [word.reference]


def test_it_colours_the_sla_column_by_state(client, desk):
    now = timezone.now()
    due = timedelta(minutes=5)
    TicketFactory(queue=desk.billing, first_response_due_at=now + timedelta(minutes=90))
    TicketFactory(queue=desk.billing, first_response_due_at=now + due, sla_at_risk_at=now)
    TicketFactory(queue=desk.billing, first_response_due_at=now - due, sla_breached=True)
    # 55 of its 60 minutes gone and not yet marked by the beat check: at risk all the same.
    TicketFactory(
        queue=desk.billing, created_at=now - timedelta(minutes=55), first_response_due_at=now + due
    )
    client.force_login(desk.alice.user)

    body = client.get(CHANGELIST).content.decode()

    on_track = r'<span class="sla sla-ok" title="First response: [^"]+">1h 2\dm left</span>'
    assert re.search(on_track, body)
    at_risk = r'<span class="sla sla-at-risk" title="[^"]+">[45]m left</span>'
    assert len(re.findall(at_risk, body)) == 2
    assert '<span class="sla sla-breached">breached</span>' in body


def test_it_folds_the_company_and_the_language_under_the_subject(client, desk):
    # Six columns fit the 1366 px screen between the admin's sidebars; the company and the
    # language are read under the subject instead of in columns of their own.
    cedar = CompanyFactory(name="Cedar Bank")
    TicketFactory(queue=desk.billing, company=cedar, language="ar", subject="البطاقة مرفوضة")
    TicketFactory(queue=desk.billing, company=None, language="en", subject="Where is my parcel")
    client.force_login(desk.alice.user)

    response = client.get(CHANGELIST, HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()

    assert response.context["cl"].list_display == [
        "action_checkbox", "reference", "subject_display", "sla", "priority_display",
        "status_display", "assignee",
    ]  # fmt: skip
    assert (
        '<span class="ticket-subject" dir="auto">البطاقة مرفوضة</span>'
        '<span class="ticket-more"><span dir="auto">Cedar Bank</span> · Arabic</span>'
    ) in body
    assert (
        '<span class="ticket-subject" dir="auto">Where is my parcel</span>'
        '<span class="ticket-more">English</span>'
    ) in body


@pytest.mark.parametrize("persona", ["alice", "sue"])
def test_it_lists_tickets_in_the_same_number_of_queries_at_3_and_30(
    client, desk, persona, django_assert_num_queries
):
    user = desk.alice.user if persona == "alice" else desk.sue
    companies = [CompanyFactory() for _ in range(3)]

    def tickets(count: int) -> None:
        for number in range(count):
            TicketFactory(
                queue=desk.billing, company=companies[number % 3],
                assignee=desk.alice if number % 2 else None,
            )  # fmt: skip

    client.force_login(user)
    views = [{}, {"view": "all"}, {"assignee": "me", "sla": "on_track"}, {"q": "card"}]
    tickets(3)
    client.get(CHANGELIST)  # content types and the like, cached from then on
    at_3 = []
    for params in views:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(CHANGELIST, params).status_code == 200
        at_3.append([q["sql"] for q in queries.captured_queries])
    tickets(27)

    for params, small in zip(views, at_3, strict=True):
        with django_assert_num_queries(len(small)):
            assert client.get(CHANGELIST, params).status_code == 200
    assert len(listed(client, view="all")) == 30
    # Session, user, its two permission reads, the user's own agent profile (for the away
    # switch), the queue, assignee and company choices, the count and the page (the work view
    # adds the agent's profile; an agent's other views read their queue ids first). On
    # PostgreSQL the supervisor's unfiltered list first asks for the row estimate (too small
    # here to use).
    estimate = connection.vendor == "postgresql" and persona == "sue"
    queue_ids = persona == "alice"
    assert len(at_3[1]) == 10 + estimate + queue_ids, at_3[1]
    assert not any("DISTINCT" in sql for small in at_3 for sql in small)


def test_it_pages_the_list_with_working_page_links(client, desk):
    TicketFactory.create_batch(55, queue=desk.billing)
    client.force_login(desk.sue)

    first = client.get(CHANGELIST, {"view": "all"})
    second = client.get(CHANGELIST, {"view": "all", "p": 2})

    assert len(first.context["cl"].result_list) == 50
    assert len(second.context["cl"].result_list) == 5
    assert 'href="?p=2&amp;view=all"' in first.content.decode()
    assert set(first.context["cl"].result_list).isdisjoint(second.context["cl"].result_list)


def test_it_counts_exactly_off_postgresql_or_with_a_filter(desk):
    TicketFactory.create_batch(3, queue=desk.billing)
    paginator = EstimatedCountPaginator(Ticket.objects.all(), 50)
    paginator.estimate_from = 1

    if connection.vendor != "postgresql":
        assert paginator.count == 3
    filtered = EstimatedCountPaginator(Ticket.objects.filter(queue=desk.billing), 50)
    filtered.estimate_from = 1
    assert filtered.count == 3


@pytest.mark.django_db(transaction=True)
def test_it_takes_the_row_estimate_on_postgresql_for_the_whole_table(team_on_commit):
    if connection.vendor != "postgresql":
        pytest.skip("the row estimate is PostgreSQL's")
    TicketFactory.create_batch(12, queue=team_on_commit.billing)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Ticket._meta.db_table}")
    paginator = EstimatedCountPaginator(Ticket.objects.all(), 5)
    paginator.estimate_from = 10

    with CaptureQueriesContext(connection) as queries:
        assert paginator.count == 12
    assert "pg_class" in queries.captured_queries[0]["sql"]
    assert not any("COUNT(" in q["sql"] for q in queries.captured_queries)
    # A page past the estimate's end is empty, not an error page.
    assert len(paginator.page(3).object_list) == 2
    assert list(paginator.page(4).object_list) == []


@pytest.fixture
def team_on_commit(transactional_db, desk) -> Desk:
    return desk


def test_it_lists_nothing_as_assigned_to_a_supervisor_without_a_profile(client, desk):
    TicketFactory(queue=desk.billing, assignee=desk.alice)
    TicketFactory(queue=desk.billing)
    client.force_login(desk.sue)

    with CaptureQueriesContext(connection) as queries:
        assert listed(client, assignee="me") == []
    # Nothing to count or page: the filter is empty before a ticket query is written.
    assert not any('FROM "tickets_ticket"' in q["sql"] for q in queries.captured_queries)


def test_it_filters_assigned_to_me_by_the_agents_profile_id(client, desk):
    carol = agent_in(desk.billing, username="carol")
    mine = TicketFactory(queue=desk.billing, assignee=desk.alice)
    TicketFactory(queue=desk.billing, assignee=carol)
    client.force_login(desk.alice.user)

    with CaptureQueriesContext(connection) as queries:
        assert listed(client, assignee="me") == [mine.reference]
    page = [q["sql"] for q in queries.captured_queries if "ORDER BY" in q["sql"]][-1]
    # The column the assignee indexes hold, not a join or subquery through the user.
    assert f'"tickets_ticket"."assignee_id" = {desk.alice.pk}' in page


@pytest.fixture
def capped_at_3(monkeypatch):
    """A cap and pages small enough for a handful of tickets: 2 per page, counted up to 3."""
    from tickets.admin import TicketAdmin

    monkeypatch.setattr(EstimatedCountPaginator, "count_cap", 3)
    monkeypatch.setattr(TicketAdmin, "list_per_page", 2)


def test_it_counts_a_filtered_list_up_to_the_cap_and_says_so(client, desk, capped_at_3):
    made = TicketFactory.create_batch(5, queue=desk.billing)
    client.force_login(desk.sue)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(CHANGELIST, {"status__exact": "new"})
    body = response.content.decode()

    if connection.vendor != "postgresql":
        # SQLite (small desks) counts exactly.
        assert response.context["cl"].result_count_text == "5"
        assert "5 tickets" in body
        return
    assert response.context["cl"].result_count_text == "3+"
    assert "3+ tickets" in body
    assert "3+ results" in body  # the search box's count says the same
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"]]
    assert len(counts) == 1 and "LIMIT 4" in counts[0] and "ORDER BY" not in counts[0]
    # Paging goes on past the counted rows: the third page holds the fifth ticket.
    pages = [listed(client, status__exact="new", p=number) for number in (1, 2, 3)]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert sorted(sum(pages, [])) == sorted(ticket.reference for ticket in made)


def test_it_counts_exactly_below_the_cap(client, desk, capped_at_3):
    TicketFactory.create_batch(3, queue=desk.billing)
    client.force_login(desk.sue)

    response = client.get(CHANGELIST, {"status__exact": "new"})

    assert response.context["cl"].result_count_text == "3"
    assert "3 tickets" in response.content.decode()


# --- API tokens ------------------------------------------------------------------------------


def test_it_shows_a_new_tokens_key_once_and_keeps_only_its_hash(client, desk):
    client.force_login(desk.sue)

    response = client.post(
        reverse("admin:tickets_apitoken_add"),
        {"user": desk.alice.user.pk, "name": "CRM sync"},
        follow=True,
    )

    token = ApiToken.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    key = re.search(r'<code class="api-token-key">(hd_[\w-]+)</code>', shown[0]).group(1)
    assert token.key_hash == api_token_key_hash(key)
    assert token.prefix == key[:8]
    assert (token.user, token.created_by) == (desk.alice.user, desk.sue)
    assert key not in str(ApiToken.objects.values().get())
    page = client.get(reverse("admin:tickets_apitoken_change", args=[token.pk])).content.decode()
    assert key not in page and token.key_hash not in page
    assert key not in client.get(reverse("admin:tickets_apitoken_changelist")).content.decode()


def test_it_revokes_tokens_and_never_deletes_them(client, desk):
    client.force_login(desk.sue)
    client.post(reverse("admin:tickets_apitoken_add"), {"user": desk.alice.user.pk, "name": "a"})
    token = ApiToken.objects.get()

    client.post(
        reverse("admin:tickets_apitoken_changelist"),
        {"action": "revoke", ACTION_CHECKBOX_NAME: [token.pk], "index": 0},
    )
    delete = client.post(reverse("admin:tickets_apitoken_delete", args=[token.pk]), {"post": "yes"})

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert delete.status_code == 403
    assert ApiToken.objects.count() == 1


def test_it_does_not_let_a_supervisor_mint_a_superusers_token(client, desk):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(desk.sue)

    response = client.post(reverse("admin:tickets_apitoken_add"), {"user": root.pk, "name": "x"})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_it_keeps_api_tokens_from_agents(client, desk):
    client.force_login(desk.alice.user)

    assert client.get(reverse("admin:tickets_apitoken_changelist")).status_code == 403


# --- the escalation path's ticket, seen by a superuser -----------------------------------------


def test_it_never_offers_to_add_edit_or_delete_a_ticket(
    admin_client, routed_billing, guide_with_steps
):
    ticket = escalated_ticket(guide_with_steps)
    change_url = reverse("admin:tickets_ticket_change", args=[ticket.pk])

    listing = admin_client.get(reverse("admin:tickets_ticket_changelist")).content.decode()
    page = admin_client.get(change_url).content.decode()

    assert reverse("admin:tickets_ticket_add") not in listing
    assert admin_client.get(reverse("admin:tickets_ticket_add")).status_code == 403
    assert 'name="tried_steps"' not in page
    assert 'name="_save"' not in page
    assert admin_client.post(change_url, {"priority": Priority.URGENT}).status_code == 405
    delete_url = reverse("admin:tickets_ticket_delete", args=[ticket.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    ticket.refresh_from_db()
    assert ticket.priority == Priority.NORMAL


def test_it_shows_the_tried_steps_in_order_with_their_notes(
    admin_client, routed_billing, guide_with_steps
):
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


@pytest.mark.parametrize("model", ["queue", "agentprofile", "routingrule"])
def test_it_loads_the_routing_setup_pages(admin_client, routed_billing, model):
    obj = {
        "queue": routed_billing,
        "agentprofile": AgentProfile.objects.first(),
        "routingrule": RoutingRule.objects.first(),
    }[model]

    for url in [
        reverse(f"admin:tickets_{model}_changelist"),
        reverse(f"admin:tickets_{model}_add"),
        reverse(f"admin:tickets_{model}_change", args=[obj.pk]),
    ]:
        assert admin_client.get(url).status_code == 200, url


def test_it_shows_each_agents_open_tickets_against_capacity(admin_client, routed_billing):
    tickets_escalated(3)  # two Arabic, one English

    body = admin_client.get(reverse("admin:tickets_agentprofile_changelist")).content.decode()

    loads = {a.user.first_name: a.open_tickets for a in AgentProfile.objects.select_related("user")}
    assert sum(loads.values()) == 3
    for open_tickets in loads.values():
        assert f"{open_tickets} / 10" in body


def test_it_reorders_and_pauses_rules_from_the_list(admin_client, routed_billing):
    first = RoutingRule.objects.get()
    second = RoutingRule.objects.create(
        position=20, name="Arabic", language="ar", queue=routed_billing
    )

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


def test_it_saves_queue_languages_as_ticked_codes(admin_client, routed_billing):
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


def test_it_refuses_a_second_fallback_queue_by_name(admin_client, routed_billing):
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
