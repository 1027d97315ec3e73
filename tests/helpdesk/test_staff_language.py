"""The admin's language switch: kept for the staff member, used at once, and again at every
later sign-in on any device; a code that is not one of the site's languages is refused."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from helpdesk.models import StaffPreference

LANGUAGE = reverse("admin:language")
PASSWORD = "correct horse battery staple"


def switch(client: Client, language: str, next_url: str = "/admin/tickets/ticket/?status=new"):
    return client.post(LANGUAGE, {"language": language, "next": next_url})


def html_tag(client: Client, path: str, **headers) -> str:
    body = client.get(path, **headers).content.decode()
    return body[body.index("<html") : body.index(">", body.index("<html")) + 1]


def test_it_keeps_the_choice_and_returns_to_the_same_page(client, karim):
    client.force_login(karim.user)

    response = switch(client, "ar")

    assert response.status_code == 302
    assert response["Location"] == "/admin/tickets/ticket/?status=new"
    assert StaffPreference.objects.get(user=karim.user).language == "ar"
    assert html_tag(client, "/admin/tickets/ticket/") == '<html lang="ar" dir="rtl">'


def test_it_speaks_the_chosen_language_over_the_browsers(client, karim):
    client.force_login(karim.user)
    switch(client, "ar")

    assert html_tag(client, "/admin/tickets/ticket/", HTTP_ACCEPT_LANGUAGE="en") == (
        '<html lang="ar" dir="rtl">'
    )
    switch(client, "en")
    assert html_tag(client, "/admin/tickets/ticket/", HTTP_ACCEPT_LANGUAGE="ar") == (
        '<html lang="en" dir="ltr">'
    )
    assert StaffPreference.objects.get(user=karim.user).language == "en"


def test_it_follows_them_to_another_device_and_the_next_sign_in(client, karim):
    client.force_login(karim.user)
    switch(client, "ar")
    client.post(reverse("admin:logout"))

    # A browser that never saw the switch and asks for English.
    other = Client(HTTP_ACCEPT_LANGUAGE="en")
    other.post(
        reverse("admin:login"), {"username": "karim", "password": PASSWORD, "next": "/admin/"}
    )
    assert html_tag(other, "/admin/tickets/ticket/") == '<html lang="ar" dir="rtl">'
    # And the first one, signed in again.
    client.post(
        reverse("admin:login"), {"username": "karim", "password": PASSWORD, "next": "/admin/"}
    )
    assert html_tag(client, "/admin/tickets/ticket/", HTTP_ACCEPT_LANGUAGE="en") == (
        '<html lang="ar" dir="rtl">'
    )


def test_it_leaves_the_browsers_language_to_those_who_never_chose(client, alice):
    client.force_login(alice.user)

    assert html_tag(client, "/admin/tickets/ticket/", HTTP_ACCEPT_LANGUAGE="ar") == (
        '<html lang="ar" dir="rtl">'
    )
    assert not StaffPreference.objects.exists()


def test_it_leaves_the_public_pages_to_the_sites_own_switch(client, karim, guide_with_steps):
    client.force_login(karim.user)
    switch(client, "ar")
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})

    assert html_tag(client, "/") == '<html lang="en" dir="ltr">'


@pytest.mark.parametrize("language", ["fr", "", "ar-XX", "x" * 300])
def test_it_refuses_a_language_the_site_does_not_speak(client, karim, language):
    client.force_login(karim.user)

    response = switch(client, language)

    assert response.status_code == 400
    assert not StaffPreference.objects.exists()


def test_it_refuses_a_get_and_a_stranger(client, karim):
    assert client.post(LANGUAGE, {"language": "ar"})["Location"].startswith(reverse("admin:login"))
    client.force_login(karim.user)
    assert client.get(LANGUAGE, {"language": "ar"}).status_code == 405
    assert not StaffPreference.objects.exists()


def test_it_refuses_the_switch_without_its_csrf_token(karim):
    client = Client(enforce_csrf_checks=True)
    client.force_login(karim.user)

    assert switch(client, "ar").status_code == 403
    assert not StaffPreference.objects.exists()


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/", ""])
def test_it_never_sends_them_off_the_site(client, karim, next_url):
    client.force_login(karim.user)

    response = switch(client, "en", next_url)

    assert response["Location"] == "/admin/"


def test_it_offers_the_switch_in_every_admin_header(client, karim):
    client.force_login(karim.user)

    body = client.get("/admin/tickets/ticket/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert f'action="{LANGUAGE}" method="post"' in body
    assert '<option value="ar" lang="ar">العربيّة</option>' in body
    assert '<option value="en" lang="en" selected>English</option>' in body
    assert 'name="next" value="/admin/tickets/ticket/"' in body
