"""Merging a duplicate: Sam wrote twice about the same problem; Alice (agent, Billing) merges
the second request into the first, through the service and the work page. Bob (Returns) may
not touch Billing's tickets; another customer's ticket is never a target."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import AttemptFactory, GuideFactory, TicketFactory
from tests.helpers import at_once, skip_unless_row_locks
from tickets import notifications, services
from tickets.models import Ticket, TicketEvent


@pytest.fixture
def guide(db):
    return GuideFactory()


def sams_ticket(queue, guide, **fields) -> Ticket:
    fields.setdefault("requester_email", "Sam@Example.com")
    return TicketFactory(queue=queue, attempt=AttemptFactory(guide=guide), **fields)


def test_it_merges_messages_steps_and_closes_the_duplicate(billing, alice, guide):
    first = sams_ticket(billing, guide)
    services.ticket_reply(ticket=first, actor=alice.user, body="Looking at it.")
    duplicate = sams_ticket(
        billing, guide, requester_email="sam@example.com",
        tried_steps=[{"position": 3, "title": "Restart", "outcome": "did_not_work",
                      "recorded_at": "2026-11-01T10:01:00+00:00"}],
    )  # fmt: skip
    services.ticket_customer_reply(ticket=duplicate, body="Same problem, second try.")
    services.ticket_note(ticket=duplicate, actor=alice.user, body="Probably a duplicate.")

    kept = services.ticket_merge(source=duplicate, target=first, actor=alice.user)

    assert kept == first
    duplicate.refresh_from_db()
    assert duplicate.status == "closed" and duplicate.merged_into == first
    assert duplicate.closed_at is not None
    bodies = list(first.events.values_list("kind", "body"))
    assert ("customer_message", "Same problem, second try.") in bodies
    assert ("internal_note", "Probably a duplicate.") in bodies
    copied = first.events.get(body="Same problem, second try.")
    assert copied.change == {"merged_from": duplicate.reference}
    # The duplicate keeps its own thread, and both say what happened.
    assert duplicate.events.filter(body="Same problem, second try.").exists()
    into = duplicate.events.get(kind=TicketEvent.Kind.MERGED_INTO)
    assert into.author == alice.user and first.reference in into.body
    merged_from = first.events.get(kind=TicketEvent.Kind.MERGED_FROM)
    assert merged_from.change["messages"] == 2 and duplicate.reference in merged_from.body
    first.refresh_from_db()
    assert [s["title"] for s in first.tried_steps] == [
        "Update the card",
        "Restart",
        "Try another card",
    ]
    assert first.tried_steps[1]["merged_from"] == duplicate.reference


def test_the_duplicates_agent_gets_the_capacity_back(billing, alice, emma, guide):
    first = sams_ticket(billing, guide)
    duplicate = sams_ticket(billing, guide)
    services.ticket_assign_to(ticket=duplicate, agent=emma, actor=None)
    emma.refresh_from_db()
    assert emma.open_tickets == 1

    services.ticket_merge(source=duplicate, target=first, actor=alice.user)

    emma.refresh_from_db()
    assert emma.open_tickets == 0


@pytest.mark.parametrize(
    "case", ["itself", "closed target", "closed source", "other customer", "other company"]
)
def test_it_refuses(billing, alice, guide, case):
    first, duplicate = sams_ticket(billing, guide), sams_ticket(billing, guide)
    if case == "itself":
        duplicate = first
    elif case == "closed target":
        Ticket.objects.filter(pk=first.pk).update(status="closed")
    elif case == "closed source":
        Ticket.objects.filter(pk=duplicate.pk).update(status="closed")
    elif case == "other customer":
        Ticket.objects.filter(pk=first.pk).update(requester_email="lee@example.com")
    else:
        first = TicketFactory(queue=billing, requester_email="sam@example.com")

    with pytest.raises(services.TicketError):
        services.ticket_merge(source=duplicate, target=first, actor=alice.user)
    assert not TicketEvent.objects.filter(kind__startswith="merged").exists()


def test_bob_may_not_merge_billings_tickets(billing, alice, bob, guide):
    first, duplicate = sams_ticket(billing, guide), sams_ticket(billing, guide)

    with pytest.raises(services.TicketNotPermitted):
        services.ticket_merge(source=duplicate, target=first, actor=bob.user)


def test_the_customer_of_the_duplicate_is_told_where_it_continues(
    billing, alice, guide, mailoutbox
):
    first, duplicate = sams_ticket(billing, guide), sams_ticket(billing, guide)
    services.ticket_merge(source=duplicate, target=first, actor=alice.user)

    assert notifications.customer_merged_send(ticket_id=duplicate.pk) is True

    [message] = mailoutbox
    assert message.to == ["Sam@Example.com"]
    assert first.reference in message.subject and duplicate.reference in message.subject
    assert notifications.ticket_status_url(first) in message.body
    assert notifications.ticket_status_url(duplicate) not in message.body
    # Not merged (any more): nothing to say.
    assert notifications.customer_merged_send(ticket_id=first.pk) is False


@pytest.mark.django_db(transaction=True)
def test_two_agents_merging_both_ways_at_once_end_with_one_merge(billing, alice, guide):
    skip_unless_row_locks()
    a, b = sams_ticket(billing, guide), sams_ticket(billing, guide)

    errors = at_once(
        lambda: services.ticket_merge(source=a, target=b, actor=alice.user),
        lambda: services.ticket_merge(source=b, target=a, actor=alice.user),
    )

    assert len([e for e in errors if isinstance(e, services.TicketError)]) == 1
    assert Ticket.objects.filter(status="closed").count() == 1


# --- the work page ---


def test_alice_merges_from_the_work_page_after_confirming(client, billing, alice, guide):
    first, duplicate = sams_ticket(billing, guide), sams_ticket(billing, guide)
    client.force_login(alice.user)
    merge = reverse("admin:tickets_ticket_merge", args=[duplicate.pk])

    page = client.get(reverse("admin:tickets_ticket_change", args=[duplicate.pk])).content.decode()
    assert f'<option value="{first.reference}">' in page  # offered as a target

    confirm = client.get(merge, {"into": first.reference.lower()})
    assert confirm.status_code == 200
    assert f"Merge {duplicate.reference} into {first.reference}" in confirm.content.decode()
    duplicate.refresh_from_db()
    assert duplicate.status == "new"  # nothing happens before the confirmation

    done = client.post(merge, {"into": first.reference}, follow=True)

    assert done.redirect_chain[-1][0] == reverse("admin:tickets_ticket_change", args=[first.pk])
    duplicate.refresh_from_db()
    assert duplicate.merged_into == first
    after = client.get(reverse("admin:tickets_ticket_change", args=[duplicate.pk]))
    assert "Merged into" in after.content.decode()


def test_a_refused_merge_comes_back_as_a_message(client, billing, alice, guide):
    duplicate = sams_ticket(billing, guide)
    stranger = TicketFactory(queue=billing, requester_email="lee@example.com")
    client.force_login(alice.user)
    merge = reverse("admin:tickets_ticket_merge", args=[duplicate.pk])

    for data in ({"into": stranger.reference}, {"into": "NOPE"}, {}):
        response = client.post(merge, data, follow=True)
        assert response.status_code == 200
        assert len(list(response.context["messages"])) == 1
    duplicate.refresh_from_db()
    assert duplicate.status == "new"


def test_the_task_writes_in_the_customers_language_and_the_link_shows_the_merged_thread(
    billing, alice, guide, mailoutbox, client
):
    from django.conf import settings
    from django.utils import translation

    from tickets import tasks

    first = sams_ticket(billing, guide, language="ar")
    duplicate = sams_ticket(billing, guide, language="ar")
    services.ticket_customer_reply(ticket=duplicate, body="نفس المشكلة مرة أخرى")
    services.ticket_merge(source=duplicate, target=first, actor=alice.user)

    assert tasks.notify_customer_merged.apply(args=[duplicate.pk]).get() is True

    [message] = mailoutbox
    with translation.override("ar"):
        subject = translation.gettext("Request %(reference)s continues as %(target)s")
    assert message.subject == subject % {
        "reference": duplicate.reference,
        "target": first.reference,
    }
    [link] = [line for line in message.body.splitlines() if "/tickets/" in line]
    page = client.get(link.strip().removeprefix(settings.SITE_URL)).content.decode()
    assert "نفس المشكلة مرة أخرى" in page
