"""The agent's availability and the supervisor's overview over the API."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import TicketFactory
from tests.helpers import client_for
from tickets import services

AVAILABILITY = "/api/v1/agents/me/availability/"
OVERVIEW = "/api/v1/queues/overview/"


def test_an_agent_reads_and_sets_their_availability(alice):
    api = client_for(alice.user)

    assert api.get(AVAILABILITY).json() == {"available": True}
    response = api.post(AVAILABILITY, {"available": False}, format="json")

    assert (response.status_code, response.json()) == (200, {"available": False})
    alice.refresh_from_db()
    assert alice.is_available is False
    claim = api.post("/api/v1/tickets/claim-next/")
    assert (claim.status_code, claim.json()["code"]) == (409, "agent_unavailable")
    assert api.post(AVAILABILITY, {"available": True}, format="json").json() == {"available": True}


@pytest.mark.parametrize("body", [{}, {"available": "no"}, {"available": 1}, {"available": None}])
def test_a_bad_availability_is_400_on_the_field(alice, body):
    response = client_for(alice.user).post(AVAILABILITY, body, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["available"]
    alice.refresh_from_db()
    assert alice.is_available is True


def test_availability_is_for_agents_only(sue, ann):
    # Sue supervises without an agent profile; Ann writes guides.
    assert client_for(sue).get(AVAILABILITY).status_code == 403
    assert (
        client_for(ann).post(AVAILABILITY, {"available": False}, format="json").status_code == 403
    )
    assert APIClient().get(AVAILABILITY).status_code == 401


def test_the_supervisor_reads_the_overview_and_an_agent_may_not(billing, returns, alice, sue):
    returns.auto_assign = False
    returns.save(update_fields=["auto_assign"])
    TicketFactory(queue=billing)
    TicketFactory(queue=billing, assignee=alice, sla_breached=True)
    services.agent_availability_set(agent=alice, available=False, actor=alice.user)

    response = client_for(sue).get(OVERVIEW)

    assert response.status_code == 200
    queues = {queue["slug"]: queue for queue in response.json()["queues"]}
    counted = ("open", "waiting", "breached", "auto_assign")
    assert {key: queues["billing"][key] for key in counted} == {
        "open": 2, "waiting": 1, "breached": 1, "auto_assign": True
    }  # fmt: skip
    assert queues["returns"]["open"] == 0 and queues["returns"]["auto_assign"] is False
    [agent] = response.json()["agents"]
    assert agent == {
        "id": alice.pk, "name": "Alice", "open_tickets": 0, "capacity": 10, "available": False,
        "languages": ["en"], "queues": ["billing"],
    }  # fmt: skip
    assert client_for(alice.user).get(OVERVIEW).status_code == 403
