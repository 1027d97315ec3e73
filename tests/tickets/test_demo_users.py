"""`load_demo` (run by every `make run`) creates the demo users once: a password that exists is
never set again, so nobody is signed out and a changed password stays changed, unless
--reset-passwords asks for it."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tickets import roles
from tickets.management.commands.load_demo import DEMO_USERS

PUBLISHED = {spec["username"]: spec["password"] for spec in DEMO_USERS}


def load_demo(*args: str) -> str:
    out = StringIO()
    call_command("load_demo", *args, stdout=out, verbosity=0)
    return out.getvalue()


@pytest.fixture
def demo(db, settings):
    settings.DEBUG = True  # load_demo refuses to run otherwise (its passwords are public)
    return load_demo()


def test_it_creates_the_demo_users_with_their_published_passwords(demo):
    users = {user.username: user for user in get_user_model().objects.all()}

    assert set(users) == set(PUBLISHED)
    assert all(users[name].check_password(password) for name, password in PUBLISHED.items())
    assert demo.count("[created]") == len(DEMO_USERS)


def test_it_keeps_a_changed_password_and_the_open_sessions_on_the_next_run(demo, client):
    emma = get_user_model().objects.get(username="agent.en")
    emma.set_password("emma-chose-this-one")
    emma.first_name = "Emily"
    emma.save()
    client.force_login(emma)
    assert client.get("/admin/index/").status_code == 200

    output = load_demo("--tickets")

    emma.refresh_from_db()
    assert emma.check_password("emma-chose-this-one")
    assert emma.first_name == "Emily"
    # Still signed in: the session's hash of the password still matches.
    assert client.get("/admin/index/").status_code == 200
    assert output.count("[exists, password unchanged]") == len(DEMO_USERS)
    assert "--reset-passwords" in output


def test_reset_passwords_sets_the_published_ones_again_and_nothing_else(demo):
    emma = get_user_model().objects.get(username="agent.en")
    emma.set_password("emma-chose-this-one")
    emma.first_name = "Emily"
    emma.save()

    output = load_demo("--reset-passwords")

    emma.refresh_from_db()
    assert emma.check_password(PUBLISHED["agent.en"])
    assert emma.first_name == "Emily"
    assert output.count("[exists, password set again]") == len(DEMO_USERS)


def test_a_demo_user_deleted_is_created_again(demo):
    get_user_model().objects.filter(username="author").delete()

    output = load_demo()

    author = get_user_model().objects.get(username="author")
    assert author.check_password(PUBLISHED["author"])
    assert [group.name for group in author.groups.all()] == [roles.AUTHOR]
    assert output.count("[created]") == 1


def test_the_arabic_agent_s_admin_opens_in_arabic_and_a_later_choice_is_kept(demo):
    from helpdesk.models import StaffPreference
    from helpdesk.services import staff_language_set

    karim = get_user_model().objects.get(username="agent.ar")
    assert StaffPreference.objects.get(user=karim).language == "ar"
    assert not StaffPreference.objects.filter(user__username="agent.en").exists()

    staff_language_set(user=karim, language="en")
    load_demo()

    assert StaffPreference.objects.get(user=karim).language == "en"
