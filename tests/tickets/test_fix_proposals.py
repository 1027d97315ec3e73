"""From tickets back to guides, through the admin: Alice (agent, Billing) solves a ticket and
marks her reply as the fix; it becomes a proposed step of the guide the customer followed; Ann
(author of the guide's company) sees it on the guide's page with the number of solved tickets
that carried the same fix, and accepts, edits then accepts, or dismisses it. Omar writes
another company's guides and sees none of it; Bob works Returns and cannot propose on Billing's
tickets; Sue supervises and decides for every company."""

from __future__ import annotations

import pytest
from django.urls import reverse

from guides.models import Guide, Step, StepProposal, StepProposalSource
from tests.factories import CompanyFactory, GuideFactory, StepFactory, TicketFactory, staff_user
from tickets import roles, services
from tickets.models import Ticket, TicketEvent

REPLY = "Hi Sam,\nTurn off your VPN, then pay again\nSettings → VPN → **off**. The bank blocks it."


@pytest.fixture
def guide(db, ann) -> Guide:
    """Ann's company's payment guide: a procedure, an alternative and a last resort."""
    guide = GuideFactory(title="I can't pay with my card")
    guide.company.authors.add(ann)
    StepFactory(guide=guide, position=1, kind=Step.Kind.PROCEDURE, title="Update the card")
    StepFactory(guide=guide, position=2, kind=Step.Kind.ALTERNATIVE, title="Pay with PayPal")
    StepFactory(guide=guide, position=3, kind=Step.Kind.LAST_RESORT, title="Open a new account")
    return guide


@pytest.fixture
def omar(db):
    """An author of another company's guides."""
    omar = staff_user("omar", roles.AUTHOR, first_name="Omar")
    CompanyFactory(slug="other-company").authors.add(omar)
    return omar


def ticket_on(guide: Guide, queue, **fields) -> Ticket:
    return TicketFactory(
        attempt__guide=guide, attempt__language=guide.language, queue=queue, **fields
    )


def page_of(ticket: Ticket) -> str:
    return reverse("admin:tickets_ticket_change", args=[ticket.pk])


def fix_page(ticket: Ticket) -> str:
    return reverse("admin:tickets_ticket_fix", args=[ticket.pk])


def guide_page(guide: Guide) -> str:
    return reverse("admin:guides_guide_change", args=[guide.pk])


def decide(client, proposal: StepProposal, **data):
    url = reverse("admin:guides_guide_proposal", args=[proposal.guide_id, proposal.pk])
    return client.post(url, data, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def solve_with_fix(client, ticket: Ticket, *, title: str, body: str = "", same_as="") -> None:
    """The agent's way: the reply that solves the ticket, marked as the fix, then the fix's
    page posted as edited."""
    response = client.post(
        reverse("admin:tickets_ticket_work", args=[ticket.pk, "reply"]),
        {"body": REPLY, "status_after": "solved", "is_fix": "on"},
    )
    assert response.status_code == 302 and response.url.startswith(fix_page(ticket))
    response = client.post(
        response.url, {"title": title, "body": body, "same_as": same_as}, follow=True
    )
    assert response.redirect_chain == [(page_of(ticket), 302)], response.content.decode()[:3000]


def test_a_fix_goes_from_the_solved_ticket_to_a_new_step_of_the_guide(client, guide, desk):
    ticket = ticket_on(guide, desk.billing, assignee=desk.alice)
    client.force_login(desk.alice.user)

    # The reply that solves the ticket, marked as the fix...
    response = client.post(
        reverse("admin:tickets_ticket_work", args=[ticket.pk, "reply"]),
        {"body": REPLY, "status_after": "solved", "is_fix": "on"},
        follow=True,
    )
    reply = ticket.events.get(kind=TicketEvent.Kind.AGENT_REPLY)
    assert response.redirect_chain == [(f"{fix_page(ticket)}?reply={reply.pk}", 302)]
    assert messages_of(response) == ["Reply sent to the customer."]
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.SOLVED
    # ...drafts the step from the reply, greeting left out, for the agent to edit.
    form = response.context["form"]
    assert form.initial == {
        "title": "Turn off your VPN, then pay again",
        "body": "Settings → VPN → **off**. The bank blocks it.",
    }

    response = client.post(
        f"{fix_page(ticket)}?reply={reply.pk}",
        {"title": "Turn off your VPN, then pay again", "body": "Settings → VPN → **off**."},
        follow=True,
    )

    assert messages_of(response) == [
        "The fix is proposed as a step of the guide “I can't pay with my card”."
    ]
    proposal = StepProposal.objects.get()
    assert (proposal.guide, proposal.language, proposal.status) == (guide, "en", "proposed")
    source = proposal.sources.get()
    assert (source.ticket_id, source.ticket_reference, source.proposed_by) == (
        ticket.pk, ticket.reference, desk.alice.user,
    )  # fmt: skip
    event = ticket.events.get(kind=TicketEvent.Kind.FIX_PROPOSED)
    assert event.author == desk.alice.user
    assert event.body == (
        "The fix was proposed as a step of the guide: “Turn off your VPN, then pay again”."
    )
    page = response.content.decode()
    assert "Proposed as a step:" in page and "Turn off your VPN, then pay again" in page
    assert 'name="is_fix"' not in page  # one fix per ticket

    # Ann reads it on the guide's page, with its count, and accepts it.
    client.force_login(desk.ann)
    page = client.get(guide_page(guide)).content.decode()
    assert 'id="proposals"' in page and f'id="proposal-{proposal.pk}"' in page
    assert "Solved tickets with this fix: 1" in page
    assert "<strong>off</strong>" in page  # the Markdown preview
    assert ticket.reference in page

    response = decide(client, proposal, action="accept", title=proposal.title, body=proposal.body)

    assert response.redirect_chain == [(f"{guide_page(guide)}#proposals", 302)]
    assert messages_of(response) == [
        "Added as step 3 of the guide: “Turn off your VPN, then pay again”."
    ]
    assert list(guide.steps.order_by("position").values_list("title", "kind")) == [
        ("Update the card", "procedure"),
        ("Pay with PayPal", "alternative"),
        ("Turn off your VPN, then pay again", "alternative"),
        ("Open a new account", "last_resort"),
    ]
    proposal.refresh_from_db()
    assert (proposal.status, proposal.decided_by) == ("accepted", desk.ann)
    assert proposal.step.title == "Turn off your VPN, then pay again"
    assert "No proposed steps are waiting." in response.content.decode()
    # Customers see the new alternative on the guide's page.
    public = client.get(guide.public_path()).content.decode()
    assert "Turn off your VPN, then pay again" in public
    assert public.index("Turn off your VPN") < public.index("Open a new account")


def test_the_guide_page_counts_the_solved_tickets_of_each_fix(client, guide, desk, karim, emma):
    tickets = [ticket_on(guide, desk.billing) for _ in range(4)]
    client.force_login(desk.alice.user)
    solve_with_fix(client, tickets[0], title="Turn off your VPN")
    client.force_login(emma.user)
    # Another agent's words, the same once normalised: the same fix.
    solve_with_fix(client, tickets[1], title="turn off your VPN!")
    first = StepProposal.objects.get()
    client.force_login(karim.user)
    # Other words, but the agent says it is the same fix: offered on the fix's page.
    services.ticket_transition(ticket=tickets[2], to_status="solved", actor=karim.user)
    offered = client.get(fix_page(tickets[2])).context["form"].fields["same_as"].choices
    assert [label for _value, label in offered] == [
        "None of these: a new proposal",
        "Turn off your VPN · solved tickets: 2",
    ]
    response = client.post(
        fix_page(tickets[2]), {"title": "Disable the VPN app", "same_as": first.pk}, follow=True
    )
    assert response.redirect_chain == [(page_of(tickets[2]), 302)]
    solve_with_fix(client, tickets[3], title="Use another browser")

    client.force_login(desk.ann)
    page = client.get(guide_page(guide)).content.decode()

    assert StepProposal.objects.count() == 2
    assert "Solved tickets with this fix: 3" in page and "Solved tickets with this fix: 1" in page
    # The fix most tickets carried comes first, with each agent's words beside it.
    assert page.index("Turn off your VPN") < page.index("Use another browser")
    assert "Disable the VPN app" in page and "turn off your VPN!" in page
    joined = tickets[2].events.get(kind=TicketEvent.Kind.FIX_PROPOSED)
    assert joined.body == "The fix joined a proposed step of the guide: “Disable the VPN app”."


def test_an_author_edits_a_proposal_then_accepts_it(client, guide, desk):
    ticket = ticket_on(guide, desk.billing)
    client.force_login(desk.alice.user)
    solve_with_fix(client, ticket, title="vpn off", body="turn it off")
    proposal = StepProposal.objects.get()
    client.force_login(desk.ann)

    response = decide(
        client, proposal, action="accept", title="Turn off your VPN",
        body="1. Open **Settings**.\n2. Switch the VPN off.",
    )  # fmt: skip

    assert messages_of(response) == ["Added as step 3 of the guide: “Turn off your VPN”."]
    proposal.refresh_from_db()
    assert proposal.status == StepProposal.Status.EDITED
    assert (proposal.title, proposal.body) == ("vpn off", "turn it off")  # the agent's words
    step = proposal.step
    assert (step.kind, step.title, step.body) == (
        "alternative", "Turn off your VPN", "1. Open **Settings**.\n2. Switch the VPN off.",
    )  # fmt: skip


def test_an_author_dismisses_a_proposal(client, guide, desk):
    ticket = ticket_on(guide, desk.billing)
    client.force_login(desk.alice.user)
    solve_with_fix(client, ticket, title="Wait a day")
    proposal = StepProposal.objects.get()
    steps = list(guide.steps.values_list("pk", "position", "title"))
    client.force_login(desk.ann)

    response = decide(client, proposal, action="dismiss")

    assert messages_of(response) == ["Dismissed: “Wait a day”."]
    proposal.refresh_from_db()
    assert (proposal.status, proposal.decided_by, proposal.step) == ("dismissed", desk.ann, None)
    assert list(guide.steps.values_list("pk", "position", "title")) == steps
    assert f'id="proposal-{proposal.pk}"' not in response.content.decode()
    # Decided once: a second decision is refused with the reason, not an error page.
    response = decide(client, proposal, action="accept")
    assert messages_of(response) == ["This proposal was dismissed already."]
    assert list(guide.steps.values_list("pk", "position", "title")) == steps


def test_a_refused_acceptance_keeps_the_authors_draft(client, guide, desk):
    ticket = ticket_on(guide, desk.billing)
    client.force_login(desk.alice.user)
    solve_with_fix(client, ticket, title="Wait a day")
    proposal = StepProposal.objects.get()
    client.force_login(desk.ann)

    response = decide(client, proposal, action="accept", title="   ", body="My careful edit")

    assert messages_of(response) == ["Give the step a title."]
    assert "My careful edit</textarea>" in response.content.decode()
    proposal.refresh_from_db()
    assert proposal.status == "proposed"
    assert not guide.steps.filter(title="Wait a day").exists()


def test_an_agent_proposes_but_cannot_decide(client, guide, desk):
    ticket = ticket_on(guide, desk.billing)
    client.force_login(desk.alice.user)
    solve_with_fix(client, ticket, title="Wait a day")
    proposal = StepProposal.objects.get()

    page = client.get(guide_page(guide))
    assert page.status_code == 200  # agents read guides...
    assert 'id="proposals"' not in page.content.decode()  # ...not their proposals
    response = decide(client, proposal, action="accept")

    assert response.status_code == 403
    proposal.refresh_from_db()
    assert proposal.status == "proposed"
    assert client.get(reverse("admin:guides_stepproposal_changelist")).status_code == 403


def test_an_author_of_another_company_sees_none_of_it(client, guide, desk, omar):
    ticket = ticket_on(guide, desk.billing)
    client.force_login(desk.alice.user)
    solve_with_fix(client, ticket, title="Wait a day")
    proposal = StepProposal.objects.get()
    client.force_login(omar)

    page = client.get(guide_page(guide)).content.decode()
    listed = client.get(reverse("admin:guides_stepproposal_changelist")).content.decode()
    response = decide(client, proposal, action="accept")

    assert 'id="proposals"' not in page and "Wait a day" not in page
    assert "Wait a day" not in listed
    assert response.status_code == 403
    assert StepProposal.objects.get().status == "proposed"
    # Ann, who writes this company's guides, has it in her list.
    client.force_login(desk.ann)
    listed = client.get(reverse("admin:guides_stepproposal_changelist")).content.decode()
    assert "Wait a day" in listed and f"#proposal-{proposal.pk}" in listed


def test_a_supervisor_decides_for_every_company(client, desk):
    foreign = GuideFactory(company=CompanyFactory())
    StepFactory(guide=foreign, position=1)
    ticket = ticket_on(foreign, desk.billing)
    client.force_login(desk.alice.user)
    solve_with_fix(client, ticket, title="Wait a day")
    client.force_login(desk.sue)

    assert "Solved tickets with this fix: 1" in client.get(guide_page(foreign)).content.decode()
    response = decide(client, StepProposal.objects.get(), action="accept")

    assert messages_of(response) == ["Added as step 2 of the guide: “Wait a day”."]


def test_an_agent_outside_the_queue_cannot_propose(client, guide, desk):
    ticket = ticket_on(guide, desk.billing, status=Ticket.Status.SOLVED)
    client.force_login(desk.bob.user)

    assert client.get(fix_page(ticket)).status_code == 404
    assert client.post(fix_page(ticket), {"title": "Wait a day"}).status_code == 404
    assert not StepProposal.objects.exists()
    with pytest.raises(services.TicketNotPermitted):
        services.ticket_fix_propose(ticket=ticket, actor=desk.bob.user, title="x", body="")
    client.force_login(desk.ann)  # authors see no tickets at all
    assert client.get(fix_page(ticket)).status_code in (403, 404)


def test_a_fix_needs_a_solving_reply_and_a_guide(client, guide, desk):
    ticket = ticket_on(guide, desk.billing)
    client.force_login(desk.alice.user)

    response = client.post(
        reverse("admin:tickets_ticket_work", args=[ticket.pk, "reply"]),
        {"body": "Which bank?", "status_after": "pending", "is_fix": "on"},
        follow=True,
    )

    assert messages_of(response) == [
        "A fix is the reply that solves the ticket: set the status to solved."
    ]
    assert not ticket.events.filter(kind=TicketEvent.Kind.AGENT_REPLY).exists()  # not sent
    assert "Which bank?</textarea>" in response.content.decode()  # the draft is kept
    response = client.get(fix_page(ticket), follow=True)
    assert messages_of(response) == ["Solve the ticket first: its fix is the reply that solved it."]

    contact_form = TicketFactory(
        attempt__guide=None, attempt__company=None, attempt__language="en", guide=None,
        company=None, queue=desk.billing, status=Ticket.Status.SOLVED,
    )  # fmt: skip
    page = client.get(page_of(contact_form)).content.decode()
    assert 'name="is_fix"' not in page and "Fix for the guide" not in page
    response = client.get(fix_page(contact_form), follow=True)
    assert messages_of(response) == ["This ticket has no guide to add a step to."]


def test_the_fix_page_refuses_bad_input_as_form_errors(client, guide, desk):
    ticket = ticket_on(guide, desk.billing, status=Ticket.Status.SOLVED)
    client.force_login(desk.alice.user)

    for data, field in [
        ({"title": ""}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"title": "Fine", "same_as": "not a number"}, "same_as"),
        ({"title": "Fine", "same_as": "999999"}, "same_as"),
    ]:
        response = client.post(fix_page(ticket), data)
        assert response.status_code == 200
        assert field in response.context["form"].errors, (data, response.context["form"].errors)
    assert not StepProposalSource.objects.exists()
    assert client.get(f"{fix_page(ticket)}?reply=abc").status_code == 200  # no reply: no draft


def test_a_proposal_is_sanitised_on_the_guide_page(client, guide, desk):
    ticket = ticket_on(guide, desk.billing, status=Ticket.Status.SOLVED)
    services.ticket_fix_propose(
        ticket=ticket, actor=desk.alice.user, title="<b>Clear</b> the cache",
        body="<script>alert(1)</script> [tap](javascript:alert(2)) <img src=x onerror=alert(3)>",
    )  # fmt: skip
    client.force_login(desk.ann)

    page = client.get(guide_page(guide)).content.decode()

    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert 'href="javascript' not in page
    assert "&lt;b&gt;Clear&lt;/b&gt; the cache" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # in the textarea, as text


def test_an_arabic_ticket_proposes_to_the_arabic_guide_and_the_pages_speak_arabic(
    client, desk, karim
):
    guide = GuideFactory(language="ar", title="لا أستطيع الدفع بالبطاقة")
    guide.company.authors.add(desk.ann)
    StepFactory(guide=guide, position=1, title="حدّث البطاقة")
    StepFactory(guide=guide, position=2, kind=Step.Kind.LAST_RESORT, title="افتح حسابًا جديدًا")
    ticket = ticket_on(guide, desk.billing)
    client.force_login(karim.user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "ar"
    response = client.post(
        reverse("admin:tickets_ticket_work", args=[ticket.pk, "reply"]),
        {"body": "مرحبًا سارة،\nأوقف الشبكة الافتراضية ثم ادفع\nمن الإعدادات.",
         "status_after": "solved", "is_fix": "on"},
        follow=True,
    )  # fmt: skip
    assert messages_of(response) == ["أُرسل الرد إلى العميل."]
    assert response.context["form"].initial["title"] == "أوقف الشبكة الافتراضية ثم ادفع"
    assert "اقترح الخطوة" in response.content.decode()
    response = client.post(
        response.redirect_chain[-1][0], {"title": "أوقف الشبكة الافتراضية ثم ادفع"}, follow=True
    )
    assert messages_of(response) == ["اقتُرح الحل خطوةً في الدليل «لا أستطيع الدفع بالبطاقة»."]
    proposal = StepProposal.objects.get()
    assert (proposal.guide, proposal.language) == (guide, "ar")

    client.force_login(desk.ann)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "ar"
    page = client.get(guide_page(guide)).content.decode()
    assert f'id="proposal-{proposal.pk}" class="step-proposal" lang="ar" dir="rtl"' in page
    assert "خطوات اقترحها الموظفون" in page
    assert "تذاكر محلولة بهذا الحل: 1" in page
    response = decide(client, proposal, action="accept", title=proposal.title, body="")
    assert messages_of(response) == [
        "أُضيفت خطوةً رقم 2 في الدليل: «أوقف الشبكة الافتراضية ثم ادفع»."
    ]
    assert list(guide.steps.order_by("position").values_list("kind", flat=True)) == [
        "procedure", "alternative", "last_resort",
    ]  # fmt: skip
