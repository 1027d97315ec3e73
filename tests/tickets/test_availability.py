"""An agent marks themselves away (a break, the end of a shift) and back, from the ticket list."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import TicketFactory
from tests.helpers import CHANGELIST
from tickets import services

SWITCH = reverse("admin:tickets_ticket_availability")


def switch(client, available: bool) -> list[str]:
    response = client.post(SWITCH, {"available": "1" if available else "0"}, follow=True)
    assert response.redirect_chain == [(CHANGELIST, 302)]
    return [str(message) for message in response.context["messages"]]


def test_an_agent_goes_away_and_gets_no_new_tickets_until_back(client, billing, alice):
    client.force_login(alice.user)

    assert switch(client, available=False) == [
        "You are away: no new tickets come to you until you are back."
    ]
    alice.refresh_from_db()
    assert alice.is_available is False
    assert "Away · I am back" in client.get(CHANGELIST).content.decode()
    waiting = TicketFactory(queue=billing)
    assert services.tickets_assign_waiting() == 0
    with pytest.raises(services.AgentUnavailable, match="away"):
        services.ticket_claim_next(agent=alice)

    assert switch(client, available=True) == ["You are available: new tickets can come to you."]
    alice.refresh_from_db()
    assert alice.is_available is True
    assert "Available · go away" in client.get(CHANGELIST).content.decode()
    assert services.tickets_assign_waiting() == 1
    waiting.refresh_from_db()
    assert waiting.assignee == alice


def test_only_a_supervisor_changes_someone_elses_availability(alice, bob, sue):

    with pytest.raises(services.TicketNotPermitted):
        services.agent_availability_set(agent=alice, available=False, actor=bob.user)
    services.agent_availability_set(agent=alice, available=False, actor=sue)
    alice.refresh_from_db()
    assert alice.is_available is False


def test_the_switch_takes_posts_from_agents_only(client, alice, sue):
    client.force_login(alice.user)
    assert client.get(SWITCH).status_code == 405

    client.force_login(sue)  # no agent profile
    assert client.post(SWITCH, {"available": "0"}).status_code == 403
    assert "availability-form" not in client.get(CHANGELIST).content.decode()
