"""A screenshot sent with "talk to a person" waits on the request until a real worker process
makes the ticket, then belongs to the ticket's first message: Sam sends it from the end of a
guide; the worker (on this run's broker) makes the ticket; Alice's work page lists the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from guides.models import Attempt
from tests.factories import QueueFactory
from tests.helpers import guide_url, png_bytes
from tests.processes import (
    configured_broker_env,
    process_env,
    running,
    test_database_url,
    wait_for,
    worker_args,
)
from tickets.models import Attachment, Ticket, TicketEvent

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_screenshot_sent_from_a_guide_reaches_the_ticket_the_worker_makes(
    client, guide_with_steps, alice, tmp_path: Path
):
    QueueFactory(slug="general", is_fallback=True).members.add(alice)
    env = process_env(
        tmp_path, DATABASE_URL=test_database_url(), EMAIL_URL="console://",
        **configured_broker_env(),
    )  # fmt: skip
    log = tmp_path / "worker.log"

    with running(worker_args(), env, log):
        sent = client.post(
            guide_url("contact", guide_with_steps),
            {"description": "Still refused, see the screenshot", "email": "sam@example.com",
             "attachments": SimpleUploadedFile("refused.png", png_bytes(), "image/png")},
        )  # fmt: skip
        assert sent.status_code == 303
        ticket = wait_for(
            lambda: Ticket.objects.filter(attempt__guide=guide_with_steps).first(),
            timeout=60, what="the ticket", log=log,
        )  # fmt: skip

    (attachment,) = Attachment.objects.all()
    assert attachment.attempt == Attempt.objects.get()
    first = ticket.events.get(kind=TicketEvent.Kind.CUSTOMER_MESSAGE)
    assert (attachment.ticket_id, attachment.event_id) == (ticket.pk, first.pk)
    client.force_login(alice.user)
    page = client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).content.decode()
    assert "refused.png" in page
