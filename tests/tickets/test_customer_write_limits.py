"""No spam relay: every customer write on the web pages is limited per client, requests for a
person also per recipient e-mail address (on the web and the API), and confirmation e-mails
are capped per mailbox whatever gets through.

Personas: Mallory floods the forms from her connection, naming Victor's e-mail address; her
friends Trent and Eve post from other connections to get round a per-client limit. Sam and
Layla are ordinary customers on connections of their own.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from guides.models import Attempt, Feedback, StepOutcome
from helpdesk import limits
from tests.factories import GuideFactory, StepFactory
from tests.helpers import guide_url, ticket_escalated
from tickets import notifications
from tickets.models import Ticket

MALLORY = "203.0.113.66"
TRENT = "203.0.113.67"
EVE = "203.0.113.68"
SAM = "198.51.100.7"
LAYLA = "198.51.100.8"
ADDRESSES = (MALLORY, TRENT, EVE, SAM, LAYLA)
VICTOR = "victor@customer.example"
SAM_EMAIL = "sam@customer.example"
SPAM_TARGETS = tuple(f"target{n}@spam.example" for n in range(3))
RECIPIENTS = (VICTOR, SAM_EMAIL, "nour@customer.example", *SPAM_TARGETS)
CONTACT = "/tickets/new/"


@pytest.fixture(autouse=True)
def low_limits(settings):
    """Small bounds, and this module's addresses counted from zero: the cache outlives a test
    (and, on Redis, a test run)."""
    settings.WEB_WRITE_LIMIT, settings.WEB_WRITE_WINDOW = 3, 60
    settings.ESCALATION_ADDRESS_LIMIT, settings.ESCALATION_ADDRESS_WINDOW = 2, 3600
    settings.ESCALATION_RECIPIENT_LIMIT, settings.ESCALATION_RECIPIENT_WINDOW = 2, 3600
    settings.CONTACT_SEARCH_LIMIT, settings.CONTACT_SEARCH_WINDOW = 3, 60
    settings.CONFIRMATION_EMAIL_LIMIT, settings.CONFIRMATION_EMAIL_WINDOW = 2, 3600
    every_limit = [
        limits.guide_page_writes(),
        limits.escalations_per_address(),
        limits.escalations_per_recipient(),
        limits.contact_searches(),
        limits.ticket_link_guesses(),
    ]

    def reset() -> None:
        for limit in every_limit:
            for key in (*ADDRESSES, *RECIPIENTS):
                limit.reset(key)

    reset()
    yield
    reset()


def contact_form(email: str = VICTOR, **extra) -> dict:
    return {
        "description": "My card is refused",
        "email": email,
        "name": "Victor",
        "action": "send",
        **extra,
    }


def assert_refused_for(response, seconds: int) -> None:
    assert response.status_code == 429
    assert seconds - 10 <= int(response["Retry-After"]) <= seconds


# --- the guide page's writes -------------------------------------------------------------------


def test_it_limits_the_writes_on_a_guide_page_per_client(client, guide_with_steps):
    guide = guide_with_steps
    first = guide.steps.order_by("position").first()

    sent = [
        client.post(
            guide_url("step-outcome", guide, step_id=first.pk),
            {"outcome": "did_not_work"},
            REMOTE_ADDR=MALLORY,
        ),
        client.post(guide_url("attempt-restart", guide), REMOTE_ADDR=MALLORY),
        client.post(guide_url("feedback", guide), {"helpful": "yes"}, REMOTE_ADDR=MALLORY),
        client.post(guide_url("feedback", guide), {"helpful": "yes"}, REMOTE_ADDR=MALLORY),
        client.post(
            guide_url("step-outcome", guide, step_id=first.pk),
            {"outcome": "worked"},
            REMOTE_ADDR=MALLORY,
        ),
        client.post(guide_url("attempt-restart", guide), REMOTE_ADDR=MALLORY),
    ]

    assert [response.status_code for response in sent] == [302, 302, 302, 429, 429, 429]
    assert_refused_for(sent[3], 60)
    assert "sent many answers in a short time" in sent[3].content.decode()
    assert "try again in 1 minute." in sent[3].content.decode()
    # Nothing written past the limit: one outcome, two attempts, one vote.
    assert list(StepOutcome.objects.values_list("outcome", flat=True)) == ["did_not_work"]
    assert Attempt.objects.count() == 2
    assert Feedback.objects.count() == 1
    # Sam, on his own connection, is not held back by Mallory.
    assert (
        client.post(
            guide_url("step-outcome", guide, step_id=first.pk),
            {"outcome": "did_not_work"},
            REMOTE_ADDR=SAM,
        ).status_code
        == 302
    )


def test_the_refusal_page_speaks_the_guides_language(client, db):
    guide = GuideFactory(language="ar", title="لا أستطيع تغيير بطاقة الدفع")
    step = StepFactory(guide=guide, position=1)
    path = guide_url("step-outcome", guide, step_id=step.pk)

    for _ in range(3):
        client.post(path, {"outcome": "skipped"}, REMOTE_ADDR=LAYLA)
    refused = client.post(path, {"outcome": "skipped"}, REMOTE_ADDR=LAYLA)

    assert refused.status_code == 429
    body = refused.content.decode()
    assert '<html lang="ar" dir="rtl">' in body
    assert "أرسل اتصالك إجابات كثيرة في وقت قصير" in body


# --- requests for a person -----------------------------------------------------------------------


def test_the_guide_contact_form_is_limited_per_client_and_keeps_what_was_typed(
    client, guide_with_steps
):
    path = guide_url("contact", guide_with_steps)
    sent = []
    for n in range(3):
        client.cookies.clear()  # a fresh attempt each time, as a script would
        sent.append(client.post(path, contact_form(email=SPAM_TARGETS[n]), REMOTE_ADDR=MALLORY))

    assert [response.status_code for response in sent] == [303, 303, 429]
    assert_refused_for(sent[2], 3600)
    body = sent[2].content.decode()
    assert "Many requests were sent from your connection in a short time." in body
    assert "try again in 60 minutes" in body
    assert "target2@spam.example" in body  # the form is shown again as typed
    assert "My card is refused" in body
    # Nothing written for the refused request: no attempt, no escalation.
    assert Attempt.objects.filter(contact_email="target2@spam.example").exists() is False
    assert Attempt.objects.filter(status="escalated").count() == 2


def test_the_contact_page_is_limited_per_client(client, guide_with_steps):
    sent = [
        client.post(CONTACT, contact_form(email=SPAM_TARGETS[n]), REMOTE_ADDR=MALLORY)
        for n in range(3)
    ]

    assert [response.status_code for response in sent] == [303, 303, 429]
    assert_refused_for(sent[2], 3600)
    body = sent[2].content.decode()
    assert "Many requests were sent from your connection in a short time." in body
    assert "target2@spam.example" in body
    assert 'value="send"' in body  # ready to send again once the wait is over
    assert Attempt.objects.count() == 2
    assert client.post(CONTACT, contact_form(email=SAM_EMAIL), REMOTE_ADDR=SAM).status_code == 303


def test_one_recipient_is_limited_whatever_the_client_and_however_the_address_is_spelled(
    client, guide_with_steps
):
    first = client.post(CONTACT, contact_form(email=VICTOR), REMOTE_ADDR=MALLORY)
    client.cookies.clear()
    second = client.post(
        guide_url("contact", guide_with_steps),
        contact_form(email="Victor+helpdesk@Customer.Example"),
        REMOTE_ADDR=TRENT,
    )
    third = client.post(CONTACT, contact_form(email="victor+2@customer.example"), REMOTE_ADDR=EVE)

    assert [first.status_code, second.status_code, third.status_code] == [303, 303, 429]
    assert_refused_for(third, 3600)
    assert "Many requests were sent for this e-mail address" in third.content.decode()
    assert Attempt.objects.filter(status="escalated").count() == 2
    # Another mailbox, from the same connection as the refusal, is fine.
    other = client.post(CONTACT, contact_form(email="nour@customer.example"), REMOTE_ADDR=EVE)
    assert other.status_code == 303


def test_the_api_shares_the_recipients_budget_with_the_web_forms(client, guide_with_steps):
    client.post(CONTACT, contact_form(email=VICTOR), REMOTE_ADDR=MALLORY)
    client.post(CONTACT, contact_form(email="VICTOR@customer.example"), REMOTE_ADDR=TRENT)
    api = APIClient(REMOTE_ADDR=EVE)
    token = api.post(f"/api/v1/guides/{guide_with_steps.pk}/attempts/").json()["token"]
    api.credentials(HTTP_X_ATTEMPT_TOKEN=token)

    refused = api.post(
        "/api/v1/attempt/contact/",
        {"description": "Refused", "email": "victor+api@customer.example"},
        format="json",
    )

    assert_refused_for(refused, 3600)
    assert refused.json()["status"] == 429
    assert refused.json()["code"] == "throttled"
    assert "Many requests were sent for this e-mail address" in refused.json()["detail"]
    assert Attempt.objects.latest("pk").status == "in_progress"  # the API's, not escalated
    accepted = api.post(
        "/api/v1/attempt/contact/",
        {"description": "Refused", "email": "nour@customer.example"},
        format="json",
    )
    assert accepted.status_code == 202


def test_a_client_cannot_get_round_the_forms_limit_through_the_api(client, guide_with_steps):
    for n in range(2):
        client.post(CONTACT, contact_form(email=SPAM_TARGETS[n]), REMOTE_ADDR=MALLORY)
    api = APIClient(REMOTE_ADDR=MALLORY)
    token = api.post(f"/api/v1/guides/{guide_with_steps.pk}/attempts/").json()["token"]
    api.credentials(HTTP_X_ATTEMPT_TOKEN=token)

    refused = api.post(
        "/api/v1/attempt/contact/",
        {"description": "Refused", "email": SPAM_TARGETS[2]},
        format="json",
    )

    assert_refused_for(refused, 3600)
    assert "Many requests were sent from your connection" in refused.json()["detail"]


def test_suggestions_are_limited_too_more_loosely_than_sending(client, guide_with_steps):
    asked = [
        client.post(CONTACT, contact_form(action="suggest"), REMOTE_ADDR=SAM) for _ in range(4)
    ]

    assert [response.status_code for response in asked] == [200, 200, 200, 429]
    assert_refused_for(asked[3], 60)
    body = asked[3].content.decode()
    assert "You asked for suggestions many times in a short time." in body
    assert "My card is refused" in body
    # Sending is another budget: Sam can still ask for a person.
    assert client.post(CONTACT, contact_form(email=SAM_EMAIL), REMOTE_ADDR=SAM).status_code == 303


# --- the confirmation e-mail's cap -------------------------------------------------------------


def test_it_sends_a_few_confirmations_per_mailbox_and_still_creates_the_tickets(
    db, mailoutbox, caplog
):
    tickets = [
        ticket_escalated(email=email)
        for email in (VICTOR, "Victor+1@customer.example", "victor+2@CUSTOMER.example")
    ]
    sams = ticket_escalated(email=SAM_EMAIL)

    with caplog.at_level(logging.WARNING, logger="tickets.notifications"):
        sent = [
            notifications.customer_ticket_created_send(ticket_id=ticket.pk) for ticket in tickets
        ]

    assert sent == [True, True, False]
    assert [message.to for message in mailoutbox] == [
        [VICTOR],
        ["Victor+1@customer.example"],
    ]
    assert f"Confirmation of ticket {tickets[2].reference} not sent" in caplog.text
    # The ticket stands, and the sweeper will not queue its e-mail again.
    withheld = Ticket.objects.get(pk=tickets[2].pk)
    assert withheld.customer_notified_at is not None
    assert notifications.customer_ticket_created_send(ticket_id=withheld.pk) is False
    # Another mailbox is not affected.
    assert notifications.customer_ticket_created_send(ticket_id=sams.pk) is True
    assert mailoutbox[-1].to == [SAM_EMAIL]
    assert len(mailoutbox) == 3


def test_a_batch_of_new_tickets_keeps_the_cap_per_mailbox_too(db, mailoutbox, caplog):
    """The e-mails of a batch of escalations (tickets.signals.tickets_created): one count for
    all of them, the batch's own confirmations counted as it goes."""
    earlier = ticket_escalated(email=VICTOR)
    notifications.customer_ticket_created_send(ticket_id=earlier.pk)  # one already this hour
    batch = [
        ticket_escalated(email=email)
        for email in ("victor+1@customer.example", SAM_EMAIL, "VICTOR@customer.example")
    ]

    with caplog.at_level(logging.WARNING, logger="tickets.notifications"):
        sent = notifications.tickets_created_send(created=[(t.pk, False) for t in batch])

    assert sent == 2
    assert [message.to for message in mailoutbox[1:]] == [
        ["victor+1@customer.example"],
        [SAM_EMAIL],
    ]
    assert f"Confirmation of ticket {batch[2].reference} not sent" in caplog.text
    marked = Ticket.objects.filter(pk__in=[t.pk for t in batch], customer_notified_at__isnull=False)
    assert marked.count() == 3
    assert notifications.tickets_created_send(created=[(t.pk, False) for t in batch]) == 0


def test_confirmations_older_than_the_window_do_not_count(db, mailoutbox):
    earlier = [ticket_escalated(email=VICTOR) for _ in range(2)]
    for ticket in earlier:
        notifications.customer_ticket_created_send(ticket_id=ticket.pk)
    past_the_window = earlier[0].created_at - timedelta(seconds=3601)
    Ticket.objects.filter(pk__in=[ticket.pk for ticket in earlier]).update(
        created_at=past_the_window, customer_notified_at=past_the_window
    )
    later = [ticket_escalated(email=VICTOR) for _ in range(3)]

    sent = [notifications.customer_ticket_created_send(ticket_id=ticket.pk) for ticket in later]

    assert sent == [True, True, False]
    assert len(mailoutbox) == 4


# --- the window ------------------------------------------------------------------------------


def test_a_window_lasts_its_full_length_past_the_caches_default_timeout(monkeypatch, settings):
    """The file cache's incr re-stores the counter with the default timeout (300 s): an hour's
    window must not end five minutes after the last count."""
    settings.STATUS_PAGE_REPLY_LIMIT, settings.STATUS_PAGE_REPLY_WINDOW = 2, 3600
    replies = limits.status_page_replies()
    replies.reset(MALLORY)
    replies.count(MALLORY)
    replies.count(MALLORY)
    now = time.time()

    monkeypatch.setattr(time, "time", lambda: now + 400)  # a clock, not a wait
    retry_after = replies.retry_after(MALLORY)

    assert retry_after is not None
    assert 3190 <= retry_after <= 3200
    replies.reset(MALLORY)
