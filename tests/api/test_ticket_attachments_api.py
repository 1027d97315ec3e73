"""Attachments through the API: Alice (agent, Billing) replies and notes with files as
multipart/form-data; the customer answers with a screenshot using the ticket's secret. Each
message lists its files with signed links; the customer never sees a note's.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tests.factories import TicketFactory
from tests.helpers import client_for, png_bytes
from tickets.models import Attachment, Ticket, TicketEvent

HTML = b"<!doctype html><script>alert(1)</script>"


@pytest.fixture
def ticket(billing) -> Ticket:
    return TicketFactory(queue=billing, subject="Card declined")


def customer(ticket: Ticket) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_TICKET_SECRET=ticket.status_token())
    return client


def png(name: str = "screen.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(), content_type="image/png")


def staff(ticket: Ticket, action: str) -> str:
    return f"/api/v1/tickets/{ticket.reference}/{action}/"


def customer_replies(ticket: Ticket) -> str:
    return f"/api/v1/customer/tickets/{ticket.reference}/replies/"


def test_alice_replies_with_a_file_and_the_answer_links_it(alice, ticket):
    response = client_for(alice).post(
        staff(ticket, "reply"),
        {"body": "Here is the form", "status_after": "pending", "attachments": [png("form.png")]},
        format="multipart",
    )

    assert response.status_code == 201, response.json()
    reply = next(m for m in response.json()["messages"] if m["kind"] == "agent_reply")
    (listed,) = reply["attachments"]
    assert (listed["name"], listed["content_type"], listed["size"]) == (
        "form.png", "image/png", len(png_bytes()),
    )  # fmt: skip
    assert listed["url"].startswith("http://testserver/tickets/files/")
    download = APIClient().get(listed["url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == png_bytes()
    assert response.json()["status"] == "pending"


def test_json_replies_still_work_without_files(alice, ticket):
    response = client_for(alice).post(staff(ticket, "reply"), {"body": "Hi"}, format="json")

    assert response.status_code == 201
    assert Attachment.objects.count() == 0


def test_the_customer_answers_with_a_screenshot_and_never_sees_notes_files(alice, ticket):
    client_for(alice).post(
        staff(ticket, "notes"),
        {"body": "Looks like fraud", "attachments": [SimpleUploadedFile("bank.txt", b"flag\n")]},
        format="multipart",
    )

    response = customer(ticket).post(
        customer_replies(ticket),
        {"body": "The error", "attachments": [png(), png("second.png")]},
        format="multipart",
    )

    assert response.status_code == 201, response.json()
    message = response.json()["messages"][-1]
    assert [a["name"] for a in message["attachments"]] == ["screen.png", "second.png"]
    shown = customer(ticket).get(f"/api/v1/customer/tickets/{ticket.reference}/").content
    assert b"bank.txt" not in shown and b"Looks like fraud" not in shown
    staff_view = client_for(alice).get(f"/api/v1/tickets/{ticket.reference}/").json()
    note = next(m for m in staff_view["messages"] if m["kind"] == "internal_note")
    assert [a["name"] for a in note["attachments"]] == ["bank.txt"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([SimpleUploadedFile("cat.png", HTML)], "“cat.png” is not a kind of file we accept"),
        ([png(f"{n}.png") for n in range(6)], "Attach at most 5 files."),
    ],
)
def test_refused_files_are_a_400_under_attachments_and_write_nothing(alice, ticket, files, message):
    before = TicketEvent.objects.filter(ticket=ticket).count()

    response = customer(ticket).post(
        customer_replies(ticket), {"body": "Look", "attachments": files}, format="multipart"
    )

    assert response.status_code == 400
    assert message in " ".join(response.json()["errors"]["attachments"])
    assert TicketEvent.objects.filter(ticket=ticket).count() == before
    assert not Attachment.objects.exists()


def test_an_oversize_file_is_a_400_naming_it(alice, ticket, settings):
    settings.ATTACHMENT_MAX_SIZE = 20

    response = client_for(alice).post(
        staff(ticket, "notes"), {"body": "Log", "attachments": [png("big.png")]},
        format="multipart",
    )  # fmt: skip

    assert response.status_code == 400
    assert response.json()["errors"]["attachments"] == ["“big.png” is larger than 20\xa0bytes."]


def test_a_text_field_where_a_file_belongs_is_a_400(alice, ticket):
    response = client_for(alice).post(
        staff(ticket, "reply"), {"body": "Hi", "attachments": "not a file"}, format="multipart"
    )

    assert response.status_code == 400
    assert "attachments" in response.json()["errors"]


def test_the_schema_documents_multipart_uploads(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]

    for path in (
        "/api/v1/tickets/{reference}/reply/",
        "/api/v1/tickets/{reference}/notes/",
        "/api/v1/customer/tickets/{reference}/replies/",
    ):
        content = paths[path]["post"]["requestBody"]["content"]
        assert set(content) == {"application/json", "multipart/form-data"}, path
