"""Canned replies: Sue (supervisor) writes them in the admin, Alice (agent, Billing) and Karim
(Arabic, Billing) use them on the work page; placeholders are filled in for the ticket, the
status and note follow, and each use is counted."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from tests.factories import StepFactory, TicketFactory
from tickets import selectors, services
from tickets.models import CannedReply, Ticket, TicketEvent


def page_of(ticket: Ticket) -> str:
    return reverse("admin:tickets_ticket_change", args=[ticket.pk])


def canned(**fields) -> CannedReply:
    fields.setdefault("language", "en")
    fields.setdefault("title", "Looking into it")
    fields.setdefault("body", "Hello {customer_name}, about {reference}: on it. {agent_name}")
    return CannedReply.objects.create(**fields)


@pytest.fixture
def ticket(billing) -> Ticket:
    return TicketFactory(queue=billing, requester_name="Sam", language="en")


# --- placeholders ---


def test_it_fills_in_the_placeholders_for_the_ticket(ticket, alice):
    guide = ticket.guide
    StepFactory(guide=guide, position=2, title="Clear the cache")
    reply = canned(
        body="Hi {customer_name} ({reference}). Track it: {status_link}\n"
        f"See {{guide:{guide.pk}}} and {{step:{guide.pk}#2}}.\n{{agent_name}}"
    )

    text = services.canned_reply_render(canned_reply=reply, ticket=ticket, actor=alice.user)

    status_link = settings.SITE_URL + reverse(
        "tickets:status", args=[ticket.reference, ticket.status_token()]
    )
    guide_url = settings.SITE_URL + guide.public_path()
    assert text == (
        f"Hi Sam ({ticket.reference}). Track it: {status_link}\n"
        f"See {guide.title}: {guide_url} and Clear the cache ({guide.title}): {guide_url}#step-2.\n"
        "Alice"
    )


def test_a_nameless_customer_is_greeted_in_their_language(billing, karim):
    ticket = TicketFactory(queue=billing, requester_name="", language="ar")
    reply = canned(language="ar", title="ترحيب", body="مرحبًا {customer_name}")

    text = services.canned_reply_render(canned_reply=reply, ticket=ticket, actor=karim.user)

    assert text.startswith("مرحبًا ") and "{" not in text and text != "مرحبًا "


@pytest.mark.parametrize(
    "body", ["Hello {name}", "See {guide:abc}", "{step:12}", "{reference:1}", "{STATUS}"]
)
def test_an_unknown_placeholder_is_a_clear_error_not_a_crash(ticket, alice, body):
    reply = canned(body=body)

    with pytest.raises(services.CannedReplyError) as refused:
        services.canned_reply_render(canned_reply=reply, ticket=ticket, actor=alice.user)
    assert "placeholder" in refused.value.message and refused.value.field == "body"
    with pytest.raises(services.CannedReplyError):
        services.placeholders_check(body)


def test_braces_that_are_no_placeholder_stay_text(ticket, alice):
    reply = canned(body='Send us {"id": 7} or { this }.')

    assert services.canned_reply_render(canned_reply=reply, ticket=ticket, actor=alice.user) == (
        'Send us {"id": 7} or { this }.'
    )


def test_a_link_to_an_unpublished_guide_is_refused_with_its_id(ticket, alice):
    guide = ticket.guide
    guide.status = guide.Status.DRAFT
    guide.save(update_fields=["status"])
    reply = canned(body=f"See {{guide:{guide.pk}}}")

    [rendered] = services.canned_replies_render(
        canned_replies=[reply], ticket=ticket, actor=alice.user
    )
    assert rendered.body == "" and str(guide.pk) in rendered.error


# --- the model ---


def test_titles_are_unique_per_queue_and_language_with_every_queue_as_one(billing, returns):
    canned(queue=None)
    canned(queue=billing)
    canned(queue=None, language="ar")
    with pytest.raises(IntegrityError), transaction.atomic():
        canned(queue=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        canned(queue=billing)
    with pytest.raises(IntegrityError), transaction.atomic():
        canned(title="Other", status_after="closed")


def test_the_picker_offers_the_queues_and_every_queues_replies_in_the_language(
    ticket, billing, returns
):
    mine, everywhere = canned(queue=billing, title="Billing"), canned(title="Everywhere")
    canned(queue=returns, title="Returns")
    canned(language="ar", title="Arabic")
    canned(title="Off", is_active=False)

    assert set(selectors.canned_replies_for(ticket=ticket)) == {mine, everywhere}


# --- applying one ---


def test_applying_sends_the_reply_sets_the_status_adds_the_note_and_counts(ticket, alice):
    reply = canned(status_after="pending", internal_note="Asked {customer_name} for a screenshot.")

    services.canned_reply_apply(canned_reply=reply, ticket=ticket, actor=alice.user)
    services.canned_reply_apply(
        canned_reply=reply, ticket=ticket, actor=alice.user, status_after=""
    )

    ticket.refresh_from_db()
    assert ticket.status == "pending" and ticket.first_responded_at is not None
    replies = ticket.events.filter(kind=TicketEvent.Kind.AGENT_REPLY)
    assert [e.body for e in replies] == [f"Hello Sam, about {ticket.reference}: on it. Alice"] * 2
    notes = ticket.events.filter(kind=TicketEvent.Kind.INTERNAL_NOTE)
    assert [e.body for e in notes] == ["Asked Sam for a screenshot."] * 2
    reply.refresh_from_db()
    assert reply.usage_count == 2


def test_a_refused_status_change_sends_nothing_and_counts_nothing(ticket, alice):
    services.ticket_transition(ticket=ticket, to_status="solved", actor=alice.user)
    # solved → pending is not a move the workflow allows.
    reply = canned(status_after="pending")

    with pytest.raises(services.TransitionNotAllowed):
        services.canned_reply_apply(canned_reply=reply, ticket=ticket, actor=alice.user)

    assert not ticket.events.filter(kind=TicketEvent.Kind.AGENT_REPLY).exists()
    reply.refresh_from_db()
    assert reply.usage_count == 0


def test_a_reply_of_another_queue_or_language_is_refused(ticket, alice, returns):
    for reply in (canned(queue=returns), canned(language="ar", title="ar")):
        with pytest.raises(services.CannedReplyError):
            services.canned_reply_apply(canned_reply=reply, ticket=ticket, actor=alice.user)


# --- the admin ---


def test_sue_writes_an_arabic_reply_in_the_admin_right_to_left(client, sue, billing):
    client.force_login(sue)
    add = reverse("admin:tickets_cannedreply_add")

    refused = client.post(add, {"title": "x", "language": "en", "body": "Hi {nme}"})
    assert refused.status_code == 200
    assert "Unknown placeholder {nme}" in refused.content.decode()

    response = client.post(
        add,
        {"title": "نتابع", "language": "ar", "queue": billing.pk, "body": "مرحبًا {customer_name}",
         "status_after": "pending", "internal_note": "", "is_active": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    reply = CannedReply.objects.get()
    assert reply.created_by == sue and reply.queue == billing
    form = client.get(reverse("admin:tickets_cannedreply_change", args=[reply.pk]))
    assert 'dir="rtl"' in form.content.decode()

    duplicate = client.post(
        add, {"title": "نتابع", "language": "ar", "queue": billing.pk, "body": "x"}
    )
    assert duplicate.status_code == 200  # the form says it exists, no 500
    assert CannedReply.objects.count() == 1


def test_agents_read_canned_replies_but_do_not_write_them(client, alice):
    client.force_login(alice.user)
    assert client.get(reverse("admin:tickets_cannedreply_changelist")).status_code == 200
    assert client.get(reverse("admin:tickets_cannedreply_add")).status_code == 403


def test_the_work_page_offers_the_filled_in_replies_to_the_script(client, ticket, alice):
    reply = canned(status_after="pending")
    client.force_login(alice.user)

    body = client.get(page_of(ticket)).content.decode()

    assert 'id="canned-picker"' in body and "tickets/workspace.js" in body
    data = json.loads(
        body.split('id="canned-replies-data" type="application/json">')[1].split("</script>")[0]
    )
    assert data == {
        str(reply.pk): {
            "body": f"Hello Sam, about {ticket.reference}: on it. Alice",
            "status": "pending",
        }
    }


def test_without_script_use_fills_the_reply_box_and_sending_counts_it(client, ticket, alice):
    reply = canned(status_after="pending", internal_note="Canned.")
    client.force_login(alice.user)

    used = client.post(
        reverse("admin:tickets_ticket_canned_reply", args=[ticket.pk]),
        {"canned_reply": reply.pk},
        follow=True,
    )
    form = used.context["reply_form"]
    assert form.initial["body"] == f"Hello Sam, about {ticket.reference}: on it. Alice"
    assert form.initial["canned_reply"] == reply.pk
    assert form.initial["status_after"] == "pending"

    sent = client.post(
        reverse("admin:tickets_ticket_work", args=[ticket.pk, "reply"]),
        {"body": "Edited by Alice.", "status_after": "pending", "canned_reply": reply.pk},
        follow=True,
    )

    assert "Reply sent to the customer." in [str(m) for m in sent.context["messages"]]
    ticket.refresh_from_db()
    assert ticket.status == "pending"
    assert ticket.events.get(kind=TicketEvent.Kind.AGENT_REPLY).body == "Edited by Alice."
    assert ticket.events.get(kind=TicketEvent.Kind.INTERNAL_NOTE).body == "Canned."
    reply.refresh_from_db()
    assert reply.usage_count == 1


def test_use_of_a_reply_that_is_not_offered_says_so(client, ticket, alice, returns):
    other = canned(queue=returns)
    client.force_login(alice.user)

    for value in (other.pk, "abc", ""):
        response = client.post(
            reverse("admin:tickets_ticket_canned_reply", args=[ticket.pk]),
            {"canned_reply": value},
            follow=True,
        )
        assert "Choose a canned reply from the list." in [
            str(m) for m in response.context["messages"]
        ]


def test_the_guide_link_search_shows_links_and_placeholders(client, ticket, alice):
    from guides.search import guide_search_index_rebuild

    guide = ticket.guide
    guide.title = "Payment card refused"
    guide.save(update_fields=["title"])
    StepFactory(guide=guide, position=1, title="Check the expiry date")
    guide_search_index_rebuild()
    client.force_login(alice.user)

    body = client.get(page_of(ticket), {"guide_q": "card refused"}).content.decode()

    assert f"{{guide:{guide.pk}}}" in body and f"{{step:{guide.pk}#1}}" in body
    assert f"Payment card refused: {settings.SITE_URL}{guide.public_path()}" in body


def test_the_work_page_costs_the_same_queries_for_one_reply_or_many(client, ticket, alice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    guide = ticket.guide
    StepFactory(guide=guide, position=1, title="First")
    client.force_login(alice.user)
    client.get(page_of(ticket))  # sessions, permissions: warmed once
    counts = []
    for total in (1, 6):
        for n in range(CannedReply.objects.count(), total):
            canned(title=f"Reply {n}", body=f"{{guide:{guide.pk}}} {{step:{guide.pk}#1}}")
        with CaptureQueriesContext(connection) as queries:
            assert client.get(page_of(ticket)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
