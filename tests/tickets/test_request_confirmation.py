"""A request you can't lose: both ways of asking for a person answer 303 onto a confirmation
with the reference and the status link; a reload shows it again and writes nothing; the
status link answers at once, before a worker makes the ticket, without weakening the guess
limit; ``?description=`` fills the forms in.

Personas: Sam asks from the end of an English guide, Nour through the contact form, Layla
from an Arabic guide; Mallory guesses links.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from guides.models import Attempt
from helpdesk import limits
from tests.factories import GuideFactory, StepFactory
from tests.helpers import guide_url
from tickets import services
from tickets.models import Ticket, status_token_of

CONTACT = "/tickets/new/"
SAM = {"description": "My card is still refused", "name": "Sam", "email": "sam@customer.example"}
MALLORY = "203.0.113.66"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_guesses_yet() -> None:
    """Wrong links counted from zero (the cache outlives a test)."""
    for address in ("127.0.0.1", MALLORY):
        limits.ticket_link_guesses().reset(address)


def status_path(reference: str, token: str | None = None) -> str:
    return reverse(
        "tickets:status",
        kwargs={"reference": reference, "token": token or status_token_of(reference)},
    )


def test_the_guide_form_answers_303_and_the_confirmation_survives_a_reload(
    client, guide_with_steps
):
    contact = guide_url("contact", guide_with_steps)

    sent = client.post(contact, SAM)

    assert sent.status_code == 303
    assert sent["Location"] == contact
    attempt = Attempt.objects.get()
    reference = attempt.ticket_reference
    first = client.get(contact).content.decode()
    again = client.get(contact).content.decode()  # the reload
    for page in (first, again):
        assert reference in page
        assert status_path(reference) in page
        assert "Save this link." in page
        assert "What happens next" in page
        assert "sam@customer.example" in page
        assert 'data-copy="status-link"' in page and "tickets/request.js" in page
    assert Attempt.objects.count() == 1
    assert Attempt.objects.get().escalation_requested_at == attempt.escalation_requested_at


def test_a_second_post_of_the_guide_form_writes_nothing(client, guide_with_steps):
    contact = guide_url("contact", guide_with_steps)
    client.post(contact, SAM)
    before = Attempt.objects.values_list("pk", "ticket_reference", "description").get()

    resent = client.post(contact, {**SAM, "description": "Sent twice by the back button"})

    assert resent.status_code == 303
    assert Attempt.objects.values_list("pk", "ticket_reference", "description").get() == before


def test_an_arabic_guide_confirms_in_arabic(client):
    guide = GuideFactory(language="ar", title="لا أستطيع تغيير البطاقة")
    StepFactory(guide=guide, position=1)
    contact = guide_url("contact", guide)

    client.post(contact, {"description": "البطاقة مرفوضة", "email": "layla@customer.example"})
    page = client.get(contact).content.decode()

    assert 'lang="ar" dir="rtl"' in page
    assert "احفظ هذا الرابط." in page
    assert Attempt.objects.get().ticket_reference in page


def test_the_contact_form_redirects_onto_the_status_page_which_confirms(client, db):
    sent = client.post(CONTACT, {**SAM, "action": "send"})

    assert sent.status_code == 303
    attempt = Attempt.objects.get()
    assert sent["Location"] == f"{status_path(attempt.ticket_reference)}?new=1"
    for _reload in range(2):
        page = client.get(sent["Location"])
        assert page.status_code == 200
        body = page.content.decode()
        assert "Your request is sent" in body
        assert attempt.ticket_reference in body
        assert "We are passing your request to a person" in body
    assert Attempt.objects.count() == 1
    assert not Ticket.objects.exists()


def test_the_status_page_of_a_made_ticket_confirms_too_with_the_new_flag(client, db):
    sent = client.post(CONTACT, {**SAM, "action": "send"})
    ticket = services.ticket_create_from_attempt(attempt_id=Attempt.objects.get().pk)

    body = client.get(sent["Location"]).content.decode()

    assert ticket.reference in body
    assert "Your request is sent" in body
    assert "It&#x27;s solved" in body or "It's solved" in body
    # Without the flag, the status page alone.
    assert "Your request is sent" not in client.get(status_path(ticket.reference)).content.decode()


def test_the_pending_page_tells_its_script_when_the_ticket_exists(client, guide_with_steps):
    client.post(guide_url("contact", guide_with_steps), SAM)
    attempt = Attempt.objects.get()
    state = reverse(
        "tickets:status-state",
        kwargs={
            "reference": attempt.ticket_reference,
            "token": status_token_of(attempt.ticket_reference),
        },
    )
    page = client.get(status_path(attempt.ticket_reference)).content.decode()
    assert f'data-poll="{state}"' in page

    assert client.get(state).json() == {"ready": False}
    services.ticket_create_from_attempt(attempt_id=attempt.pk)
    assert client.get(state).json() == {"ready": True}


def test_a_post_to_a_pending_status_page_writes_nothing(client, guide_with_steps):
    client.post(guide_url("contact", guide_with_steps), SAM)
    reference = Attempt.objects.get().ticket_reference

    response = client.post(status_path(reference), {"action": "solved"})

    assert response.status_code == 303
    assert not Ticket.objects.exists()


def test_a_wrong_secret_for_a_reserved_reference_counts_as_a_guess(
    client, guide_with_steps, settings
):
    settings.STATUS_PAGE_GUESS_LIMIT = 2
    client.post(guide_url("contact", guide_with_steps), SAM)
    reference = Attempt.objects.get().ticket_reference
    wrong = status_path(reference, "0" * 40)

    answers = [client.get(wrong, REMOTE_ADDR=MALLORY).status_code for _ in range(2)]
    # Over the limit: even the right link is refused to her, so a lucky hit tells her nothing.
    right = client.get(status_path(reference), REMOTE_ADDR=MALLORY)
    state = client.get(
        reverse("tickets:status-state", kwargs={"reference": reference, "token": "0" * 40}),
        REMOTE_ADDR=MALLORY,
    )

    assert answers == [404, 404]
    assert right.status_code == 429 and state.status_code == 429
    assert client.get(status_path(reference)).status_code == 200  # Sam, elsewhere


def test_description_in_the_address_fills_both_forms_in(client, guide_with_steps):
    question = "How do I pay with PayPal?"

    guide_form = client.get(guide_url("contact", guide_with_steps), {"description": question})
    contact_form = client.get(CONTACT, {"description": question})

    for response in (guide_form, contact_form):
        assert response.status_code == 200
        assert f"{question}</textarea>" in response.content.decode()
    assert not Attempt.objects.exists()
