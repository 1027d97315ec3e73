"""Who sees which tickets in the admin. Alice works Billing, Bob works Returns, Sue
supervises every queue, Ann writes guides and must see no ticket at all: not in the list,
not by opening a link, not through an action or the autocomplete."""

from __future__ import annotations

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.urls import reverse

from tests.factories import TicketFactory
from tests.helpers import CHANGELIST, listed
from tickets import roles
from tickets.models import Ticket


def test_it_lists_only_the_tickets_of_the_agents_queues(client, desk):
    mine = TicketFactory(queue=desk.billing)
    TicketFactory(queue=desk.returns)
    client.force_login(desk.alice.user)

    assert listed(client) == [mine.reference]
    assert listed(client, view="all") == [mine.reference]
    assert listed(client, queue=desk.returns.pk) == []


def test_it_does_not_open_a_ticket_of_another_queue(client, desk):
    foreign = TicketFactory(queue=desk.returns, subject="Parcel lost")
    client.force_login(desk.alice.user)

    response = client.get(reverse("admin:tickets_ticket_change", args=[foreign.pk]))
    history = client.get(reverse("admin:tickets_ticket_history", args=[foreign.pk]))

    assert response.status_code == 302  # the admin's "doesn't exist" redirect, like a typo
    assert "Parcel lost" not in client.get(response["Location"]).content.decode()
    assert history.status_code == 302


def test_it_refuses_every_work_button_on_a_ticket_of_another_queue(client, desk):
    foreign = TicketFactory(queue=desk.returns)
    client.force_login(desk.alice.user)

    for action, data in [
        ("reply", {"body": "Hello"}),
        ("note", {"body": "Psst"}),
        ("status", {"to_status": "open"}),
        ("priority", {"priority": 4}),
        ("assign", {"assignee": "me"}),
    ]:
        url = reverse("admin:tickets_ticket_work", args=[foreign.pk, action])
        assert client.post(url, data).status_code == 404, action

    foreign.refresh_from_db()
    assert (foreign.status, foreign.priority, foreign.assignee) == ("new", 2, None)
    assert not foreign.events.exists()


def test_it_refuses_bulk_actions_on_a_ticket_id_of_another_queue(client, desk):
    mine = TicketFactory(queue=desk.billing)
    foreign = TicketFactory(queue=desk.returns)
    client.force_login(desk.alice.user)

    response = client.post(
        CHANGELIST + "?view=all",
        {"action": "solve", ACTION_CHECKBOX_NAME: [mine.pk, foreign.pk], "index": 0},
        follow=True,
    )

    mine.refresh_from_db()
    foreign.refresh_from_db()
    assert mine.status == Ticket.Status.SOLVED
    assert foreign.status == Ticket.Status.NEW
    message = str(list(response.context["messages"])[0])
    assert message == "1 ticket done, 1 refused: not found among your tickets"


def test_it_keeps_the_autocomplete_to_the_agents_queues(client, desk):
    mine = TicketFactory(queue=desk.billing)
    foreign = TicketFactory(queue=desk.returns)
    client.force_login(desk.alice.user)
    url = reverse("admin:autocomplete")
    params = {"app_label": "tickets", "model_name": "ticketevent", "field_name": "ticket"}

    everything = client.get(url, params).json()
    by_reference = client.get(url, {**params, "term": foreign.reference}).json()

    assert [r["id"] for r in everything["results"]] == [str(mine.pk)]
    assert by_reference["results"] == []


def test_it_shows_the_supervisor_every_queue(client, desk):
    billing = TicketFactory(queue=desk.billing)
    shipping = TicketFactory(queue=desk.returns)
    client.force_login(desk.sue)

    assert set(listed(client, view="all")) == {billing.reference, shipping.reference}
    page = client.get(reverse("admin:tickets_ticket_change", args=[shipping.pk]))
    assert page.status_code == 200


def test_it_shows_an_author_no_ticket(client, desk):
    ticket = TicketFactory(queue=desk.billing)
    client.force_login(desk.ann)

    assert client.get(CHANGELIST).status_code == 403
    assert client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).status_code in (
        302,
        403,
    )
    work = reverse("admin:tickets_ticket_work", args=[ticket.pk, "note"])
    assert client.post(work, {"body": "hi"}).status_code == 404
    assert client.post(reverse("admin:tickets_ticket_claim_next")).status_code == 403
    autocomplete = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "tickets", "model_name": "ticketevent", "field_name": "ticket"},
    )
    assert autocomplete.status_code == 403
    assert not ticket.events.exists()


def test_it_offers_reassign_and_move_only_to_supervisors(client, desk):
    TicketFactory(queue=desk.billing)

    client.force_login(desk.alice.user)
    agent_actions = dict(client.get(CHANGELIST).context["action_form"].fields["action"].choices)
    client.force_login(desk.sue)
    supervisor_actions = dict(
        client.get(CHANGELIST).context["action_form"].fields["action"].choices
    )

    assert {"assign_to_me", "change_priority", "solve"} <= set(agent_actions)
    assert not {"assign_to_agent", "move_to_queue"} & set(agent_actions)
    assert {"assign_to_agent", "move_to_queue"} <= set(supervisor_actions)


def test_it_offers_an_agent_only_their_queues_and_colleagues_as_filters(client, desk):
    client.force_login(desk.alice.user)

    response = client.get(CHANGELIST)

    filters = response.context["cl"].filter_specs
    specs = {spec.parameter_name: spec for spec in filters if hasattr(spec, "parameter_name")}
    assert [name for _, name in specs["queue"].lookup_choices] == ["Billing"]
    assert [name for _, name in specs["assignee"].lookup_choices] == ["Me", "Unassigned", "Alice"]


def test_it_gives_the_demo_accounts_their_roles(client, db, settings):
    from django.core.management import call_command

    settings.DEBUG = True  # load_demo refuses to run otherwise (its passwords are public)
    call_command("load_demo", verbosity=0)
    users = {u.username: u for u in get_user_model().objects.prefetch_related("groups")}

    assert {u: [g.name for g in users[u].groups.all()] for u in users} == {
        "supervisor": [roles.SUPERVISOR],
        "agent.ar": [roles.AGENT],
        "agent.en": [roles.AGENT],
        "author": [roles.AUTHOR],
    }
    # A password sign-in as at the admin login: the lockout backend (django-axes) needs a request.
    assert client.login(
        request=RequestFactory().post("/admin/login/"),
        username="author",
        password="demo-author-2026",
    )
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(reverse("admin:guides_guide_changelist")).status_code == 200
