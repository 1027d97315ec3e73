"""Attachments through the web pages: Sam attaches a screenshot on his status page and on the
contact form; Alice (agent, Billing) answers with files and notes one for her colleagues, which
Sam never sees. Refused files come back as form errors, with nothing sent.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from guides.models import Attempt
from helpdesk import limits
from tests.helpers import png_bytes, ticket_escalated
from tickets import services
from tickets.models import Attachment, Ticket, TicketEvent

HTML = b"<html><body><script>alert(1)</script></body></html>"


def status_path(ticket: Ticket) -> str:
    return reverse(
        "tickets:status", kwargs={"reference": ticket.reference, "token": ticket.status_token()}
    )


def work_path(ticket: Ticket, action: str) -> str:
    return reverse("admin:tickets_ticket_work", args=[ticket.pk, action])


def png(name: str = "screenshot.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(), content_type="image/png")


def links(page: str) -> dict[str, str]:
    """The attachments a page lists: name → its signed link."""
    found = re.findall(r'<a href="([^"]+)" download data-attachment="\d+"><bdi>([^<]+)</bdi>', page)
    return {name: href for href, name in found}


@pytest.fixture
def sams_ticket(alice) -> Ticket:
    ticket = ticket_escalated()
    ticket.queue.members.add(alice)
    return ticket


def test_sam_attaches_a_screenshot_to_his_answer(client, sams_ticket):
    response = client.post(
        status_path(sams_ticket), {"action": "reply", "body": "See the error", "attachments": png()}
    )

    assert response.status_code == 303
    message = sams_ticket.events.filter(kind=TicketEvent.Kind.CUSTOMER_MESSAGE).last()
    (attachment,) = message.attachments.all()
    assert (attachment.name, attachment.ticket_id) == ("screenshot.png", sams_ticket.pk)
    page = client.get(status_path(sams_ticket)).content.decode()
    link = links(page)["screenshot.png"]
    download = client.get(link)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == png_bytes()


def test_the_reply_form_is_multipart_and_says_the_limits(client, sams_ticket):
    page = client.get(status_path(sams_ticket)).content.decode()

    form = page[page.index('class="reply-form"') - 60 :]
    assert 'enctype="multipart/form-data"' in form[:200]
    assert 'type="file" name="attachments"' in page and " multiple" in page
    assert "Up to 5 files of 10.0\xa0MB each: .png, .jpg, .gif, .webp, .pdf, .txt." in page


@pytest.mark.parametrize(
    ("files", "error"),
    [
        ([SimpleUploadedFile("cat.png", HTML, "image/png")], "“cat.png” is not a kind of file"),
        ([png(f"{n}.png") for n in range(6)], "Attach at most 5 files."),
    ],
)
def test_a_refused_file_is_a_form_error_and_sends_nothing(client, sams_ticket, files, error):
    before = sams_ticket.events.count()

    response = client.post(
        status_path(sams_ticket), {"action": "reply", "body": "Look", "attachments": files}
    )

    assert response.status_code == 200
    assert error in response.content.decode()
    assert sams_ticket.events.count() == before
    assert not Attachment.objects.exists()


def test_an_oversize_file_is_refused_by_name(client, sams_ticket, settings):
    settings.ATTACHMENT_MAX_SIZE = 20

    response = client.post(
        status_path(sams_ticket), {"action": "reply", "body": "Big", "attachments": png("big.png")}
    )

    assert "“big.png” is larger than 20\xa0bytes." in response.content.decode()
    assert not Attachment.objects.exists()


def test_uploads_count_against_the_status_page_write_budget(client, sams_ticket, settings):
    settings.STATUS_PAGE_REPLY_LIMIT = 1
    sam = {"REMOTE_ADDR": "203.0.113.41"}  # an address of his own: earlier tests count too
    limits.status_page_replies().reset(sam["REMOTE_ADDR"])  # and the cache outlives a run
    client.post(
        status_path(sams_ticket), {"action": "reply", "body": "1", "attachments": png()}, **sam
    )

    response = client.post(
        status_path(sams_ticket), {"action": "reply", "body": "2", "attachments": png()}, **sam
    )

    assert response.status_code == 429
    assert Attachment.objects.count() == 1


def test_alice_answers_with_a_file_and_notes_one_sam_never_sees(client, sams_ticket, alice):
    client.force_login(alice.user)
    pdf = SimpleUploadedFile("steps.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")
    client.post(work_path(sams_ticket, "reply"), {"body": "Follow these steps", "attachments": pdf})
    log = SimpleUploadedFile("fraud-check.txt", b"card flagged by the bank\n", "text/plain")
    client.post(work_path(sams_ticket, "note"), {"body": "Bank says fraud", "attachments": log})

    reply = sams_ticket.events.get(kind=TicketEvent.Kind.AGENT_REPLY)
    note = sams_ticket.events.get(kind=TicketEvent.Kind.INTERNAL_NOTE)
    assert [a.name for a in reply.attachments.all()] == ["steps.pdf"]
    assert [a.name for a in note.attachments.all()] == ["fraud-check.txt"]
    work_page = client.get(reverse("admin:tickets_ticket_change", args=[sams_ticket.pk]))
    assert set(links(work_page.content.decode())) == {"steps.pdf", "fraud-check.txt"}
    client.logout()
    status_page = client.get(status_path(sams_ticket)).content.decode()
    assert set(links(status_page)) == {"steps.pdf"}
    assert "fraud-check" not in status_page


def test_alice_sees_sams_screenshot_on_the_work_page_and_downloads_it(client, sams_ticket, alice):
    client.post(status_path(sams_ticket), {"action": "reply", "body": "Here", "attachments": png()})
    client.force_login(alice.user)

    page = client.get(reverse("admin:tickets_ticket_change", args=[sams_ticket.pk]))

    download = client.get(links(page.content.decode())["screenshot.png"])
    assert download["Content-Disposition"] == 'attachment; filename="screenshot.png"'
    assert b"".join(download.streaming_content) == png_bytes()


def test_a_refused_file_on_the_work_page_keeps_the_draft_and_sends_nothing(
    client, sams_ticket, alice
):
    client.force_login(alice.user)
    exe = SimpleUploadedFile("setup.png", b"MZ\x90\x00" + b"\x00" * 60, "image/png")

    response = client.post(
        work_path(sams_ticket, "reply"), {"body": "Run this", "attachments": exe}, follow=True
    )

    text = " ".join(str(m) for m in response.context["messages"])
    assert "“setup.png” is not a kind of file we accept" in text
    assert not sams_ticket.events.filter(kind=TicketEvent.Kind.AGENT_REPLY).exists()
    assert "Run this" in response.content.decode()  # the draft is back in the form


# --- the contact form: files wait on the request until its ticket exists ----------------------


@pytest.fixture
def demo(db):
    call_command("import_guides", str(Path("guides/demo_guides")), verbosity=0)


def test_a_screenshot_sent_with_the_contact_form_lands_on_the_tickets_first_message(client, demo):
    first = client.post("/tickets/new/", {"description": "Card refused", "action": "suggest",
                                          "email": "nour@example.com"})  # fmt: skip
    assert 'type="file" name="attachments"' in first.content.decode()  # with the send button

    response = client.post(
        "/tickets/new/",
        {"description": "Card refused", "email": "nour@example.com", "action": "send",
         "attachments": png("error.png")},
    )  # fmt: skip

    assert response.status_code == 303
    attempt = Attempt.objects.get()
    (held,) = attempt.attachments.all()
    ticket = services.ticket_create_from_attempt(attempt_id=attempt.pk)
    assert ticket is not None
    held.refresh_from_db()
    assert held.event == ticket.events.get(kind=TicketEvent.Kind.CUSTOMER_MESSAGE)
    assert "error.png" in links(client.get(status_path(ticket)).content.decode())


def test_the_contact_form_asks_for_files_only_with_the_send_button(client, demo):
    page = client.get("/tickets/new/").content.decode()

    assert 'name="attachments"' not in page


def test_a_refused_file_on_the_contact_form_sends_no_request(client, demo):
    response = client.post(
        "/tickets/new/",
        {"description": "Card refused", "email": "nour@example.com", "action": "send",
         "attachments": SimpleUploadedFile("x.png", HTML, "image/png")},
    )  # fmt: skip

    assert response.status_code == 200
    assert "“x.png” is not a kind of file we accept" in response.content.decode()
    assert not Attempt.objects.filter(status=Attempt.Status.ESCALATED).exists()
    assert not Attachment.objects.exists()
