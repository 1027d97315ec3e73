"""Canned replies and merge through the API: Alice (agent, Billing) lists the canned replies of
a ticket filled in for it, answers with one, and merges a duplicate; Bob (Returns) sees none of
Billing's tickets."""

from __future__ import annotations

import pytest

from tests.factories import AttemptFactory, GuideFactory, TicketFactory
from tests.helpers import client_for
from tickets.models import CannedReply, Ticket, TicketEvent


@pytest.fixture
def ticket(billing) -> Ticket:
    return TicketFactory(queue=billing, requester_name="Sam")


@pytest.fixture
def reply(billing) -> CannedReply:
    return CannedReply.objects.create(
        queue=billing, language="en", title="Need details", status_after="pending",
        body="Hello {customer_name}, which browser? ({reference})", internal_note="Asked.",
    )  # fmt: skip


def url(ticket: Ticket, action: str) -> str:
    return f"/api/v1/tickets/{ticket.reference}/{action}/"


def test_it_lists_the_tickets_canned_replies_filled_in(ticket, reply, alice):
    broken = CannedReply.objects.create(language="en", title="Broken", body="See {guide:999999}")

    response = client_for(alice).get(url(ticket, "canned-replies"))

    assert response.status_code == 200
    by_title = {item["title"]: item for item in response.json()}
    assert by_title["Need details"] == {
        "id": reply.pk, "title": "Need details", "language": "en", "direction": "ltr",
        "queue": reply.queue_id, "status_after": "pending", "usage_count": 0,
        "body": f"Hello Sam, which browser? ({ticket.reference})", "internal_note": "Asked.",
        "error": "",
    }  # fmt: skip
    assert by_title["Broken"]["body"] == "" and "999999" in by_title["Broken"]["error"]
    assert broken.pk == by_title["Broken"]["id"]


def test_alice_answers_with_a_canned_reply(ticket, reply, alice):
    response = client_for(alice).post(
        url(ticket, "canned-replies"), {"canned_reply": reply.pk}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["status"] == "pending"
    ticket.refresh_from_db()
    kinds = list(ticket.events.values_list("kind", flat=True))
    assert TicketEvent.Kind.AGENT_REPLY in kinds and TicketEvent.Kind.INTERNAL_NOTE in kinds
    reply.refresh_from_db()
    assert reply.usage_count == 1


def test_an_edited_body_and_another_status_are_sent_as_given(ticket, reply, alice):
    response = client_for(alice).post(
        url(ticket, "canned-replies"),
        {"canned_reply": reply.pk, "body": "Edited.", "status_after": ""},
        format="json",
    )

    assert response.status_code == 201
    ticket.refresh_from_db()
    assert ticket.status == "open"  # a first reply opens a new ticket; "" kept no other
    assert ticket.events.get(kind=TicketEvent.Kind.AGENT_REPLY).body == "Edited."


@pytest.mark.parametrize(
    "data",
    [{}, {"canned_reply": "1"}, {"canned_reply": 0}, {"canned_reply": 2**40},
     {"canned_reply": 1, "status_after": "nope"}, {"canned_reply": 1, "body": ""}],
)  # fmt: skip
def test_bad_input_is_a_400(ticket, alice, data):
    response = client_for(alice).post(url(ticket, "canned-replies"), data, format="json")
    assert response.status_code == 400


def test_a_reply_of_another_queue_is_a_400(ticket, alice, returns):
    other = CannedReply.objects.create(queue=returns, language="en", title="x", body="x")

    response = client_for(alice).post(
        url(ticket, "canned-replies"), {"canned_reply": other.pk}, format="json"
    )

    assert response.status_code == 400 and "canned_reply" in response.json()["errors"]


def test_a_refused_status_change_is_a_409_and_nothing_is_sent(ticket, reply, alice):
    Ticket.objects.filter(pk=ticket.pk).update(status="solved")

    response = client_for(alice).post(
        url(ticket, "canned-replies"), {"canned_reply": reply.pk}, format="json"
    )

    assert response.status_code == 409
    assert not ticket.events.filter(kind=TicketEvent.Kind.AGENT_REPLY).exists()


def test_bob_sees_no_billing_ticket(ticket, reply, bob):
    client = client_for(bob)
    assert client.get(url(ticket, "canned-replies")).status_code == 404
    assert (
        client.post(url(ticket, "merge"), {"into": ticket.reference}, format="json").status_code
        == 404
    )


# --- merge ---


def test_alice_merges_a_duplicate(billing, alice):
    guide = GuideFactory()
    first = TicketFactory(queue=billing, attempt=AttemptFactory(guide=guide))
    duplicate = TicketFactory(queue=billing, attempt=AttemptFactory(guide=guide))

    response = client_for(alice).post(
        url(duplicate, "merge"), {"into": first.reference.lower()}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["reference"] == first.reference
    detail = client_for(alice).get(f"/api/v1/tickets/{duplicate.reference}/").json()
    assert detail["status"] == "closed" and detail["merged_into"] == first.reference


def test_merge_refusals(billing, alice, ticket):
    client = client_for(alice)
    other_customer = TicketFactory(queue=billing, requester_email="lee@example.com")

    assert client.post(url(ticket, "merge"), {}, format="json").status_code == 400
    assert client.post(url(ticket, "merge"), {"into": 7}, format="json").status_code == 400
    nowhere = client.post(url(ticket, "merge"), {"into": "NOPE"}, format="json")
    assert nowhere.status_code == 400 and "into" in nowhere.json()["errors"]
    itself = client.post(url(ticket, "merge"), {"into": ticket.reference}, format="json")
    assert itself.status_code == 400 and "into" in itself.json()["errors"]
    assert (
        client.post(
            url(ticket, "merge"), {"into": other_customer.reference}, format="json"
        ).status_code
        == 409
    )


def test_the_schema_has_the_new_operations(client, db):
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()[
        "paths"
    ]
    assert set(paths["/api/v1/tickets/{reference}/canned-replies/"]) >= {"get", "post"}
    assert "post" in paths["/api/v1/tickets/{reference}/merge/"]
