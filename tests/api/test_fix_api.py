"""The fix of a solved ticket, proposed as a step of its guide through the API.

Personas: Alice is an agent of Billing, Bob an agent of Returns (he must never see Billing's
tickets), Ann an author (guides only, no tickets).
"""

from __future__ import annotations

import pytest

from guides.models import Step, StepProposal
from tests.factories import GuideFactory, StepFactory, TicketFactory
from tests.helpers import client_for
from tickets import services
from tickets.models import Ticket, TicketEvent


@pytest.fixture
def guide(db):
    guide = GuideFactory(title="I can't pay with my card")
    StepFactory(guide=guide, position=1, kind=Step.Kind.PROCEDURE)
    return guide


def solved_ticket(
    guide, queue, agent, reply: str = "Hi Sam,\nTurn off the VPN\nThen pay."
) -> Ticket:
    ticket = TicketFactory(attempt__guide=guide, queue=queue, assignee=agent)
    services.ticket_reply(ticket=ticket, actor=agent.user, body=reply, status_after="solved")
    return ticket


def url(ticket: Ticket) -> str:
    return f"/api/v1/tickets/{ticket.reference}/fix/"


def test_it_drafts_the_fix_from_the_solving_reply_and_lists_the_open_proposals(
    guide, alice, billing
):
    earlier = solved_ticket(guide, billing, alice)
    services.ticket_fix_propose(ticket=earlier, actor=alice.user, title="Turn off the VPN", body="")
    ticket = solved_ticket(
        guide, billing, alice, reply="Clear the app's cache\n**Settings** → Apps"
    )

    response = client_for(alice.user).get(url(ticket))

    assert response.status_code == 200
    body = response.json()
    assert body["proposal"] is None
    assert body["draft"] == {"title": "Clear the app's cache", "body": "**Settings** → Apps"}
    [proposal] = body["open_proposals"]
    assert proposal["title"] == "Turn off the VPN"
    assert (proposal["status"], proposal["tickets_solved"], proposal["guide"]) == (
        "proposed", 1, guide.pk,
    )  # fmt: skip


def test_it_proposes_the_fix_and_counts_the_same_fix_once_per_ticket(guide, alice, billing):
    client = client_for(alice.user)
    first, second, third = (solved_ticket(guide, billing, alice) for _ in range(3))

    response = client.post(url(first), {"title": "Turn off the VPN", "body": "Then pay."})
    assert response.status_code == 201, response.json()
    created = response.json()["proposal"]
    assert (created["title"], created["tickets_solved"], created["language"]) == (
        "Turn off the VPN", 1, "en",
    )  # fmt: skip
    response = client.post(
        url(second), {"title": "Switch the VPN off", "body": "", "same_as": created["id"]}
    )
    assert response.json()["proposal"]["tickets_solved"] == 2
    # The body left out is the text of the agent's latest reply.
    response = client.post(url(third), {"title": "turn off the vpn"}, format="json")
    assert response.json()["proposal"]["tickets_solved"] == 3

    proposal = StepProposal.objects.get()
    assert [s.body for s in proposal.sources.all()] == [
        "Then pay.", "", "Hi Sam,\nTurn off the VPN\nThen pay.",
    ]  # fmt: skip
    assert third.events.filter(kind=TicketEvent.Kind.FIX_PROPOSED).count() == 1
    # A ticket carries one fix.
    again = client.post(url(third), {"title": "Something else"})
    assert again.status_code == 409
    assert again.json()["code"] == "fix_already_proposed"


def test_it_refuses_what_cannot_be_a_fix(guide, alice, billing):
    client = client_for(alice.user)
    open_ticket = TicketFactory(attempt__guide=guide, queue=billing)
    contact_form = TicketFactory(
        attempt__guide=None, attempt__company=None, attempt__language="en", guide=None,
        company=None, queue=billing, status=Ticket.Status.SOLVED,
    )  # fmt: skip
    solved = solved_ticket(guide, billing, alice)

    response = client.post(url(open_ticket), {"title": "Wait"})
    assert (response.status_code, response.json()["code"]) == (409, "ticket_not_solved")
    response = client.post(url(contact_form), {"title": "Wait"})
    assert response.status_code == 400
    response = client.post(url(solved), {"title": "Wait", "same_as": 123456})
    assert response.status_code == 400 and "same_as" in response.json()["errors"]
    for data in ({}, {"title": ""}, {"title": "x" * 301}, {"title": "a", "same_as": "x"}):
        response = client.post(url(solved), data, format="json")
        assert response.status_code == 400, data
    assert not StepProposal.objects.exists()


def test_only_agents_of_the_tickets_queue_propose(guide, alice, bob, ann, billing):
    ticket = solved_ticket(guide, billing, alice)

    assert client_for(bob.user).get(url(ticket)).status_code == 404
    assert client_for(bob.user).post(url(ticket), {"title": "Wait"}).status_code == 404
    assert client_for(ann).post(url(ticket), {"title": "Wait"}).status_code == 403
    assert not StepProposal.objects.exists()
