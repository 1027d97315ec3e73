"""The admin opens on each person's work: a supervisor on the queue overview, an agent on
their ticket list, an author on their guides; staff without a role, and anyone who asks for
it, on the index of every model."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import UserFactory, staff_user

HOME = "/admin/"
SITE_INDEX = "/admin/index/"


@pytest.mark.parametrize(
    ("persona", "landing"),
    [
        ("sue", "admin:tickets_ticket_overview"),
        ("alice", "admin:tickets_ticket_changelist"),
        ("ann", "admin:guides_guide_changelist"),
    ],
)
def test_it_opens_on_the_work_of_each_role(client, desk, persona, landing):
    user = {"sue": desk.sue, "alice": desk.alice.user, "ann": desk.ann}[persona]
    client.force_login(user)

    response = client.get(HOME)

    assert response.status_code == 302
    assert response["Location"] == reverse(landing)
    assert client.get(response["Location"]).status_code == 200  # allowed, not a 403


def test_it_opens_a_superuser_on_the_queue_overview(client, db):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    assert client.get(HOME)["Location"] == reverse("admin:tickets_ticket_overview")


def test_it_signs_an_agent_in_straight_to_their_ticket_list(client, desk):
    # The sign-in form as the browser sends it after /admin/ asked for a login.
    signed_in = client.post(
        reverse("admin:login"),
        {"username": "alice", "password": "correct horse battery staple", "next": HOME},
        follow=True,
    )

    assert signed_in.redirect_chain[-1][0] == reverse("admin:tickets_ticket_changelist")
    assert signed_in.status_code == 200


def test_it_shows_the_index_to_staff_without_a_role(client, db):
    client.force_login(staff_user("temp"))

    response = client.get(HOME)

    assert response.status_code == 200
    assert response.context["title"] == "Site administration"


@pytest.mark.parametrize("persona", ["sue", "alice", "ann"])
def test_it_keeps_the_index_of_every_model_a_click_away(client, desk, persona):
    user = {"sue": desk.sue, "alice": desk.alice.user, "ann": desk.ann}[persona]
    client.force_login(user)

    index = client.get(SITE_INDEX)
    landing = client.get(client.get(HOME)["Location"])

    assert index.status_code == 200
    assert index.context["title"] == "Site administration"
    assert reverse("admin:site_index") == SITE_INDEX
    # Linked from every page's header.
    assert f'href="{SITE_INDEX}"' in landing.content.decode()


def test_it_sends_a_stranger_to_the_sign_in_first(client, db):
    response = client.get(HOME)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert client.get(SITE_INDEX)["Location"].startswith(reverse("admin:login"))
