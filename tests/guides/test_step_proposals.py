"""Agents' fixes as proposed steps, through the guides services: grouping the same fix,
counting its tickets, accepting it into the guide (before the last resort), editing, dismissing,
and who may decide. Ann writes the guides of the guide's company; Sue supervises; Alice is an
agent. Tickets are named by plain ids here, as the guides app knows them."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from guides import services
from guides.models import Step, StepProposal, StepProposalSource
from guides.selectors import (
    step_proposals_open,
    step_proposals_visible_to,
    user_decides_for_guide,
)
from tests.factories import CompanyFactory, GuideFactory, StepFactory, UserFactory
from tests.helpers import at_once, skip_unless_row_locks

pytestmark = pytest.mark.django_db


def propose(guide, ticket_id: int, title: str, body: str = "", **kwargs) -> StepProposal:
    return services.step_proposal_submit(
        guide=guide, language=kwargs.pop("language", guide.language), title=title, body=body,
        ticket_id=ticket_id, ticket_reference=f"REF{ticket_id:07d}", **kwargs,
    )  # fmt: skip


@pytest.fixture
def guide(guide_with_steps, ann):
    guide_with_steps.company.authors.add(ann)
    return guide_with_steps


def test_the_same_fix_in_other_words_joins_one_proposal_and_counts_each_ticket(guide, alice):
    first = propose(guide, 1, "Turn off the VPN, then retry", "Settings → VPN → off.")
    second = propose(
        guide, 2, "turn off the VPN then retry!", "Disable it.", proposed_by=alice.user
    )
    chosen = propose(guide, 3, "Switch the VPN off first", same_as=first.pk)
    other = propose(guide, 4, "Use a card from another bank")

    assert first.pk == second.pk == chosen.pk != other.pk
    assert first.title == "Turn off the VPN, then retry"  # the first agent's wording leads
    counts = {p.pk: p.tickets_solved for p in step_proposals_open(guide=guide)}
    assert counts == {first.pk: 3, other.pk: 1}
    # The most common fix comes first, and each agent's own words are kept.
    listed = step_proposals_open(guide=guide)
    assert [p.pk for p in listed] == [first.pk, other.pk]
    assert [s.title for s in listed[0].sources.all()] == [
        "Turn off the VPN, then retry",
        "turn off the VPN then retry!",
        "Switch the VPN off first",
    ]
    assert listed[0].sources.all()[1].proposed_by == alice.user


def test_arabic_fixes_group_by_their_normalised_title():
    guide = GuideFactory(language="ar")
    first = propose(guide, 1, "أوقف الشبكة الافتراضية الخاصة")
    # Hamza and teh marbuta folded, harakat dropped: the same words to search, the same fix.
    second = propose(guide, 2, "اوقف الشَّبكة الافتراضيه الخاصة")

    assert first.pk == second.pk
    assert first.language == "ar"
    assert StepProposalSource.objects.filter(proposal=first).count() == 2


def test_a_ticket_carries_one_fix(guide):
    propose(guide, 7, "Clear the app's cache")

    with pytest.raises(services.FixAlreadyProposed) as refused:
        propose(guide, 7, "Reinstall the app")

    assert refused.value.status == 409
    assert StepProposal.objects.count() == 1


def test_same_as_must_be_an_open_proposal_of_this_guide(guide):
    elsewhere = propose(GuideFactory(), 1, "Something else entirely")
    dismissed = propose(guide, 2, "Wait a day")
    StepProposal.objects.filter(pk=dismissed.pk).update(
        status=StepProposal.Status.DISMISSED, decided_at=dismissed.created_at
    )

    for same_as in (elsewhere.pk, dismissed.pk, 10**9):
        with pytest.raises(services.StepProposalError) as refused:
            propose(guide, 3, "Clear the cache", same_as=same_as)
        assert refused.value.field == "same_as"
    assert not StepProposalSource.objects.filter(ticket_id=3).exists()


@pytest.mark.parametrize(
    ("title", "body", "field"),
    [("   ", "body", "title"), ("x" * 301, "", "title"), ("Fine", "y" * 20_001, "body")],
)
def test_bad_text_is_refused_with_the_field_it_concerns(guide, title, body, field):
    with pytest.raises(services.StepProposalError) as refused:
        propose(guide, 1, title, body)
    assert (refused.value.status, refused.value.field) == (400, field)


def test_a_fix_in_the_other_language_goes_to_that_version_of_the_guide(guide):
    arabic = GuideFactory(
        company=guide.company, translation_key=guide.translation_key, language="ar"
    )
    proposal = propose(guide, 1, "أعد تشغيل الهاتف", language="ar")
    assert (proposal.guide, proposal.language) == (arabic, "ar")

    with pytest.raises(services.StepProposalError):
        propose(GuideFactory(language="en"), 2, "أعد تشغيل الهاتف", language="ar")


def test_accepting_adds_an_alternative_after_the_others_and_before_the_last_resort(guide, ann):
    before = list(guide.steps.order_by("position").values_list("pk", "kind"))
    proposal = propose(guide, 1, "Turn off the VPN", "Then **retry**.")

    step = services.step_proposal_accept(proposal=proposal, actor=ann)

    steps = list(guide.steps.order_by("position"))
    assert [s.pk for s in steps] == [*(pk for pk, _kind in before[:3]), step.pk, before[3][0]]
    assert [s.position for s in steps] == [1, 2, 3, 4, 5]
    assert (step.kind, step.title, step.body) == (
        "alternative",
        "Turn off the VPN",
        "Then **retry**.",
    )
    proposal.refresh_from_db()
    assert proposal.status == StepProposal.Status.ACCEPTED
    assert (proposal.step, proposal.decided_by) == (step, ann)
    assert proposal.decided_at is not None
    assert step_proposals_open(guide=guide) == []


def test_accepting_starts_a_new_version_with_the_new_step(guide, ann):
    first = services.guide_version_record(guide=guide)
    step = services.step_proposal_accept(
        proposal=propose(guide, 1, "Turn off the VPN", "Then retry."), actor=ann
    )
    latest = guide.versions.order_by("-number").first()
    assert latest.number == first.number + 1
    assert step.pk in [item["step"] for item in latest.steps]
    assert step.pk not in [item["step"] for item in first.steps]


def test_accepting_uses_a_gap_before_the_last_resort_and_appends_without_one(ann):
    gapped = GuideFactory()
    gapped.company.authors.add(ann)
    StepFactory(guide=gapped, position=1, kind=Step.Kind.PROCEDURE)
    last = StepFactory(guide=gapped, position=9, kind=Step.Kind.LAST_RESORT)
    step = services.step_proposal_accept(proposal=propose(gapped, 1, "Gap"), actor=ann)
    assert step.position == 2
    last.refresh_from_db()
    assert last.position == 9  # nothing had to move

    plain = GuideFactory(company=gapped.company)
    StepFactory(guide=plain, position=1)
    StepFactory(guide=plain, position=2, kind=Step.Kind.ALTERNATIVE)
    step = services.step_proposal_accept(proposal=propose(plain, 2, "Append"), actor=ann)
    assert step.position == 3


def test_edit_then_accept_keeps_the_agents_words_on_the_proposal(guide, ann):
    proposal = propose(guide, 1, "turn vpn off", "off")

    step = services.step_proposal_accept(
        proposal=proposal,
        actor=ann,
        title="Turn off your VPN",
        body="1. Open Settings.\n2. VPN: off.",
    )

    proposal.refresh_from_db()
    assert proposal.status == StepProposal.Status.EDITED
    assert (proposal.title, proposal.body) == ("turn vpn off", "off")
    assert (step.title, step.body) == ("Turn off your VPN", "1. Open Settings.\n2. VPN: off.")


def test_dismissing_leaves_the_guide_and_a_later_same_fix_opens_a_new_proposal(guide, sue):
    steps_before = list(guide.steps.values_list("pk", "position"))
    proposal = propose(guide, 1, "Wait a day")

    services.step_proposal_dismiss(proposal=proposal, actor=sue)

    proposal.refresh_from_db()
    assert (proposal.status, proposal.decided_by, proposal.step) == ("dismissed", sue, None)
    assert list(guide.steps.values_list("pk", "position")) == steps_before
    again = propose(guide, 2, "Wait a day")
    assert again.pk != proposal.pk
    with pytest.raises(services.StepProposalDecided):
        services.step_proposal_accept(proposal=proposal, actor=sue)


def test_a_decision_is_taken_once(guide, ann, sue):
    proposal = propose(guide, 1, "Wait a day")
    services.step_proposal_accept(proposal=proposal, actor=ann)

    with pytest.raises(services.StepProposalDecided) as refused:
        services.step_proposal_dismiss(proposal=proposal, actor=sue)

    assert refused.value.status == 409
    assert guide.steps.filter(title="Wait a day").count() == 1


def test_agents_and_authors_of_other_companies_may_not_decide(guide, alice, ann):
    proposal = propose(guide, 1, "Wait a day")
    stranger = GuideFactory(company=CompanyFactory())
    foreign = propose(stranger, 2, "Wait a week")

    assert user_decides_for_guide(ann, guide) and not user_decides_for_guide(ann, stranger)
    assert not user_decides_for_guide(alice.user, guide)
    for actor, target in [(alice.user, proposal), (ann, foreign)]:
        with pytest.raises(services.StepProposalNotPermitted):
            services.step_proposal_accept(proposal=target, actor=actor)
        with pytest.raises(services.StepProposalNotPermitted):
            services.step_proposal_dismiss(proposal=target, actor=actor)
    assert StepProposal.objects.filter(status="proposed").count() == 2
    assert list(step_proposals_visible_to(ann)) == [proposal]
    assert list(step_proposals_visible_to(alice.user)) == []


def test_supervisors_decide_for_every_company(guide, sue):
    foreign = propose(GuideFactory(company=CompanyFactory()), 1, "Wait a week")

    services.step_proposal_dismiss(proposal=foreign, actor=sue)

    assert set(step_proposals_visible_to(sue)) == {foreign}


def test_the_database_keeps_one_open_proposal_per_fix(guide):
    propose(guide, 1, "Wait a day")
    with pytest.raises(IntegrityError), transaction.atomic():
        StepProposal.objects.create(
            guide=guide, language="en", title="Wait a day!", title_key="wait day"
        )


@pytest.mark.django_db(transaction=True)
def test_agents_proposing_the_same_fix_at_once_make_one_proposal():
    skip_unless_row_locks()
    guide = GuideFactory()
    words = ["Turn off the VPN", "turn off the vpn!", "Turn off the VPN.", "TURN OFF THE VPN"]

    errors = at_once(
        *(lambda n=n, title=title: propose(guide, n, title) for n, title in enumerate(words, 1))
    )

    assert errors == []
    proposal = StepProposal.objects.get()
    assert proposal.sources.count() == 4


@pytest.mark.django_db(transaction=True)
def test_authors_accepting_at_once_each_get_their_own_place():
    skip_unless_row_locks()
    sue = UserFactory(username="sue-at-once", is_superuser=True, is_staff=True)
    guide = GuideFactory()
    StepFactory(guide=guide, position=1)
    last = StepFactory(guide=guide, position=2, kind=Step.Kind.LAST_RESORT)
    proposals = [propose(guide, n, f"Fix number {n}") for n in range(1, 5)]

    errors = at_once(
        *(lambda p=p: services.step_proposal_accept(proposal=p, actor=sue) for p in proposals)
    )

    assert errors == []
    kinds = list(guide.steps.order_by("position").values_list("position", "kind"))
    assert kinds == [
        (1, "procedure"),
        *((n, "alternative") for n in range(2, 6)),
        (6, "last_resort"),
    ]
    last.refresh_from_db()
    assert last.position == 6


def test_a_proposals_markdown_is_sanitised_when_rendered(guide):
    proposal = propose(
        guide, 1, "Clear the cache",
        "<script>alert(1)</script>[tap here](javascript:alert(2)) **then** retry",
    )  # fmt: skip

    html = proposal.body_html
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "href=" not in html  # no javascript: link
    assert "<strong>then</strong>" in html


def test_the_open_proposals_of_a_guide_cost_two_queries_at_any_number(
    guide, django_assert_num_queries
):
    propose(guide, 1, "Wait a day")
    with django_assert_num_queries(2):  # the proposals with their counts, then their sources
        assert [p.tickets_solved for p in step_proposals_open(guide=guide)] == [1]
    for number in range(2, 40):
        propose(guide, number, f"Fix number {number % 7}")

    with django_assert_num_queries(2):
        listed = step_proposals_open(guide=guide)
        assert sum(len(p.sources.all()) for p in listed) == 39
    assert sorted(p.tickets_solved for p in listed) == [1, 5, 5, 5, 5, 6, 6, 6]
