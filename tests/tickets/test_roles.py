"""The staff roles and who sees which tickets. Alice works Billing, Bob works Returns, Sue
supervises, Ann writes guides, and Carl is staff with no role at all."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from tests.factories import TicketFactory, staff_user
from tickets import roles, selectors
from tickets.models import AgentProfile, Queue
from tickets.roles import ROLE_PERMISSIONS

pytestmark = pytest.mark.django_db


def group_permissions(role: str) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Group.objects.get(name=role).permissions.select_related("content_type")
    }


def test_the_migration_creates_the_roles_with_their_permissions():
    for role, codes in ROLE_PERMISSIONS.items():
        assert group_permissions(role) == set(codes), role


def test_migrate_brings_a_changed_role_back_in_line():
    agent_group = Group.objects.get(name=roles.AGENT)
    agent_group.permissions.clear()
    Group.objects.filter(name=roles.AUTHOR).delete()

    call_command("migrate", verbosity=0)

    assert group_permissions(roles.AGENT) == set(ROLE_PERMISSIONS[roles.AGENT])
    assert group_permissions(roles.AUTHOR) == set(ROLE_PERMISSIONS[roles.AUTHOR])


def test_authors_only_touch_guides_and_agents_cannot_change_routing():
    assert all(code.startswith("guides.") for code in ROLE_PERMISSIONS[roles.AUTHOR])
    agent_codes = set(ROLE_PERMISSIONS[roles.AGENT])
    assert "tickets.change_routingrule" not in agent_codes
    assert "tickets.view_all_queues" not in agent_codes
    assert "tickets.reassign_ticket" in ROLE_PERMISSIONS[roles.SUPERVISOR]


@pytest.fixture
def cast(desk):
    """The desk's people as users, a ticket in each queue, and Carl: staff without a role."""
    return {
        "billing_ticket": TicketFactory(queue=desk.billing),
        "returns_ticket": TicketFactory(queue=desk.returns),
        "alice": desk.alice.user,
        "bob": desk.bob.user,
        "sue": desk.sue,
        "ann": desk.ann,
        "carl": staff_user("carl"),
    }


def visible(user) -> set[str]:
    return set(selectors.tickets_visible_to(user=user).values_list("queue__slug", flat=True))


def test_each_person_sees_exactly_their_tickets(cast):
    assert visible(cast["alice"]) == {"billing"}
    assert visible(cast["bob"]) == {"returns"}
    assert visible(cast["sue"]) == {"billing", "returns"}
    assert visible(cast["ann"]) == set()
    assert visible(cast["carl"]) == set()

    assert selectors.ticket_visible_to(user=cast["alice"], ticket=cast["billing_ticket"])
    assert not selectors.ticket_visible_to(user=cast["alice"], ticket=cast["returns_ticket"])
    assert selectors.ticket_visible_to(user=cast["sue"], ticket=cast["returns_ticket"])
    assert not selectors.ticket_visible_to(user=cast["ann"], ticket=cast["billing_ticket"])


def test_an_agent_who_leaves_a_queue_or_is_deactivated_loses_its_tickets(cast):
    alice = cast["alice"]
    alice.agent_profile.queues.clear()
    assert visible(alice) == set()

    sue = cast["sue"]
    sue.is_active = False
    sue.save(update_fields=["is_active"])
    assert visible(sue) == set()


def test_a_member_of_a_queue_without_the_agent_role_sees_nothing(cast):
    carl = cast["carl"]
    profile = AgentProfile.objects.create(user=carl)
    Queue.objects.get(slug="billing").members.add(profile)
    assert visible(carl) == set()
