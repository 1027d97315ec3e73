"""Attachments: what is accepted (by content, not name), how they are stored, and the signed
links that serve them.

Personas: Sam (customer) sends screenshots; Alice (agent, Billing) replies and notes.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import PurePosixPath

import pytest
from django.core import signing
from django.urls import reverse

from tests.helpers import png_bytes, ticket_escalated
from tickets import services
from tickets.models import Attachment, Ticket, TicketEvent

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 32
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 48
HTML = b"  <!DOCTYPE html><html><script>alert(document.cookie)</script></html>"


@pytest.fixture
def sams_message(alice) -> TicketEvent:
    ticket = ticket_escalated()
    ticket.queue.members.add(alice)
    return services.ticket_customer_reply(ticket=ticket, body="Here is the error.")


def download(client, attachment: Attachment):
    token = services.attachment_link_token(attachment)
    return client.get(reverse("tickets:attachment", kwargs={"token": token}))


def test_it_stores_a_screenshot_with_its_facts_under_a_random_name(sams_message):
    content = png_bytes()

    (stored,) = services.attachments_add(
        event=sams_message, files=[("C:\\Users\\sam\\Desktop\\Error shot.png", content)]
    )

    stored.refresh_from_db()
    assert stored.ticket_id == sams_message.ticket_id
    assert (stored.name, stored.content_type, stored.size) == (
        "Error shot.png", "image/png", len(content),
    )  # fmt: skip
    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    path = PurePosixPath(stored.file.name)
    # Nothing of the uploaded name or the ticket in the storage name; 192 random bits.
    assert "Error" not in stored.file.name and "sam" not in stored.file.name
    assert sams_message.ticket.reference not in stored.file.name
    assert path.suffix == ".png" and len(path.stem) == 32
    with stored.file.open("rb") as kept:
        assert kept.read() == content


def test_two_uploads_of_the_same_name_get_different_storage_names(sams_message):
    first, second = services.attachments_add(
        event=sams_message, files=[("shot.png", png_bytes()), ("shot.png", png_bytes())]
    )

    assert first.file.name != second.file.name
    assert first.name == second.name == "shot.png"


@pytest.mark.parametrize(
    ("filename", "content", "shown"),
    [
        ("photo.png", JPEG, "photo.jpg"),  # the name lied: the extension follows the content
        ("report", PDF, "report.pdf"),
        ("../../etc/passwd.txt", b"root:x:0:0\n", "passwd.txt"),
        ("notes.log", b"line one\nline two\n", "notes.log"),
        ("\u202egnp.exe", png_bytes(), "gnp.exe.png"),  # no right-to-left override trick
    ],
)
def test_it_names_a_file_by_what_it_is(sams_message, filename, content, shown):
    (stored,) = services.attachments_add(event=sams_message, files=[(filename, content)])

    assert stored.name == shown


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (WINDOWS_EXE, "not a kind of file we accept"),
        (HTML, "not a kind of file we accept"),
        (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "not a kind"),
        (b"", "is empty"),
    ],
)
def test_it_refuses_a_png_name_on_other_content(sams_message, content, why):
    with pytest.raises(services.AttachmentRefused) as refused:
        services.attachments_add(event=sams_message, files=[("screenshot.png", content)])

    assert refused.value.messages == [refused.value.messages[0]]
    assert "“screenshot.png”" in refused.value.messages[0]
    assert why in refused.value.messages[0]
    assert not Attachment.objects.exists()


def test_it_names_each_refused_file_and_stores_none(sams_message, settings):
    settings.ATTACHMENT_MAX_SIZE = 1000

    with pytest.raises(services.AttachmentRefused) as refused:
        services.attachments_add(
            event=sams_message,
            files=[("ok.png", png_bytes()), ("big.pdf", PDF + b" " * 1000), ("x.png", HTML)],
        )

    assert refused.value.field == "attachments" and refused.value.status == 400
    assert refused.value.messages == [
        "“big.pdf” is larger than 1000\xa0bytes.",
        "“x.png” is not a kind of file we accept (accepted: .png, .jpg, .gif, .webp, .pdf, .txt).",
    ]
    assert not Attachment.objects.exists()


def test_it_refuses_more_files_than_allowed(sams_message, settings):
    settings.ATTACHMENT_MAX_COUNT = 2

    with pytest.raises(services.AttachmentRefused) as refused:
        services.attachments_add(event=sams_message, files=[("a.png", png_bytes())] * 3)

    assert refused.value.messages == ["Attach at most 2 files."]


def test_a_type_left_out_of_the_setting_is_refused(sams_message, settings):
    settings.ATTACHMENT_TYPES = ["image/png"]

    with pytest.raises(services.AttachmentRefused):
        services.attachments_add(event=sams_message, files=[("doc.pdf", PDF)])


# --- the signed link -----------------------------------------------------------------------------


def test_the_link_downloads_the_file_as_an_attachment_with_safe_headers(client, sams_message):
    (stored,) = services.attachments_add(event=sams_message, files=[("Écran 1.png", png_bytes())])

    response = download(client, stored)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == png_bytes()
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''%C3%89cran%201.png"  # RFC 5987
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert {"private", "no-store"} <= set(response["Cache-Control"].split(", "))
    assert "sandbox" in response["Content-Security-Policy"]


def test_text_is_served_as_text_and_never_as_markup(client, sams_message):
    (stored,) = services.attachments_add(
        event=sams_message, files=[("log.txt", b"error: <b>not markup</b>\n")]
    )

    response = download(client, stored)

    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="log.txt"'


def test_an_expired_link_is_a_clear_410(client, sams_message, settings):
    (stored,) = services.attachments_add(event=sams_message, files=[("a.png", png_bytes())])

    class Earlier(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time()) - settings.ATTACHMENT_LINK_MAX_AGE - 5)

    token = Earlier(salt="tickets.attachment-link").sign_object(stored.pk)
    response = client.get(reverse("tickets:attachment", kwargs={"token": token}))

    assert response.status_code == 410
    assert "This download link has expired" in response.content.decode()
    assert "Content-Disposition" not in response


@pytest.mark.parametrize(
    "token",
    [
        "nothing-signed",
        signing.dumps(1, salt="another.purpose"),  # signed, but for something else
        signing.dumps("1", salt="tickets.attachment-link"),
    ],
    # Named, not shown: a signed value holds the time it was signed, and xdist's workers must
    # collect the same test ids.
    ids=["nothing-signed", "other-purpose", "not-an-id"],
)
def test_a_forged_link_is_a_clear_404(client, sams_message, token):
    services.attachments_add(event=sams_message, files=[("a.png", png_bytes())])

    response = client.get(reverse("tickets:attachment", kwargs={"token": token}))

    assert response.status_code == 404
    assert "This file is not available" in response.content.decode()


def test_a_link_to_a_file_gone_from_storage_is_a_404_not_a_500(client, sams_message):
    (stored,) = services.attachments_add(event=sams_message, files=[("a.png", png_bytes())])
    stored.file.storage.delete(stored.file.name)

    assert download(client, stored).status_code == 404


def test_files_are_not_under_a_public_url(settings, sams_message):
    (stored,) = services.attachments_add(event=sams_message, files=[("a.png", png_bytes())])

    with pytest.raises(ValueError):
        stored.file.url  # noqa: B018 — no base URL: the storage serves nothing itself


# --- files sent with a request for a person -----------------------------------------------


def test_files_held_by_a_request_go_with_the_tickets_first_message(alice):
    from guides import services as guide_services
    from tests.factories import GuideFactory

    attempt, _token = guide_services.attempt_start(guide=GuideFactory())
    guide_services.attempt_contact_submit(
        attempt=attempt, description="It fails, see the screenshot", name="Sam",
        email="sam@customer.example",
    )  # fmt: skip
    (held,) = services.attachments_hold(attempt=attempt, files=[("shot.png", png_bytes())])
    assert held.ticket_id is None and held.event_id is None

    ticket = services.ticket_create_from_attempt(attempt_id=attempt.pk)

    assert isinstance(ticket, Ticket)
    held.refresh_from_db()
    first = ticket.events.get(kind=TicketEvent.Kind.CUSTOMER_MESSAGE)
    assert (held.ticket_id, held.event_id) == (ticket.pk, first.pk)
    assert first.body == "It fails, see the screenshot"
