"""Guessing admin passwords: after ADMIN_LOGIN_FAILURE_LIMIT failures for one username (from
any address) or from one address (for any username), every sign-in they make is refused, the
right password included, until the cool-off ends or a supervisor lifts the lock.

Alice is an agent whose password is being guessed, Salma supervises, Bob is another agent.
"""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import token_for
from tickets.models import ApiToken

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's
LOGIN = reverse("admin:login")


@pytest.fixture
def limit(settings) -> int:
    settings.AXES_FAILURE_LIMIT = 3  # ADMIN_LOGIN_FAILURE_LIMIT; read at each sign-in
    return settings.AXES_FAILURE_LIMIT


def attempts_list() -> str:
    return reverse("admin:axes_accessattempt_changelist")


def from_address(address: str, **headers) -> Client:
    return Client(REMOTE_ADDR=address, **headers)


def sign_in(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"})


def signed_in_as(client: Client) -> str | None:
    user = client.get("/admin/").wsgi_request.user
    return user.get_username() if user.is_authenticated else None


def test_it_lets_the_right_password_in_before_the_limit(alice, limit):
    client = from_address("203.0.113.10")
    for _ in range(limit - 1):
        assert sign_in(client, "alice", "wrong").status_code == 200  # the form again

    response = sign_in(client, "alice", PASSWORD)

    assert response.status_code == 302
    assert signed_in_as(client) == "alice"


def test_it_refuses_the_right_password_after_failures_for_one_username_from_many_addresses(
    alice, limit
):
    for n in range(limit):
        sign_in(from_address(f"203.0.113.{n + 1}"), "alice", "wrong")

    client = from_address("198.51.100.7")  # a fresh address: the username is what is locked
    response = sign_in(client, "alice", PASSWORD)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Signing in is paused" in response.content.decode()
    assert signed_in_as(client) is None


def test_it_refuses_every_username_from_an_address_that_guessed_many(alice, sue, limit):
    guesser = from_address("203.0.113.66")
    for n in range(limit):
        sign_in(guesser, f"admin{n}", "wrong")  # a different username each time

    assert sign_in(guesser, "alice", PASSWORD).status_code == 429
    assert signed_in_as(guesser) is None
    # Alice herself, from her own address, is not locked: only the address is.
    elsewhere = from_address("198.51.100.20")
    assert sign_in(elsewhere, "alice", PASSWORD).status_code == 302


def test_a_username_longer_than_any_account_is_a_failed_sign_in_not_an_error(db, limit):
    # Axes keeps the username in a 255-character column: a longer one ended in a DataError on
    # PostgreSQL (a 500) before the username was cut to the longest an account can have.
    guesser = from_address("203.0.113.77")
    for _ in range(limit - 1):
        assert sign_in(guesser, "x" * 400, "wrong").status_code == 200  # the form again

    assert sign_in(guesser, "x" * 401, "wrong").status_code == 429  # the limit-th failure


def test_it_counts_the_address_the_trusted_proxy_saw(alice, limit, settings):
    """Behind one proxy of ours, the client is the address the proxy appended to
    X-Forwarded-For, as for every other per-address limit; not the proxy's own address."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for n in range(limit):
        proxy = from_address("10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.99")
        sign_in(proxy, f"admin{n}", "wrong")

    refused = from_address("10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.99")
    assert sign_in(refused, "alice", PASSWORD).status_code == 429
    another_client = from_address("10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert sign_in(another_client, "alice", PASSWORD).status_code == 302


def test_the_lockout_page_speaks_arabic(alice, limit):
    client = from_address("203.0.113.10", HTTP_ACCEPT_LANGUAGE="ar")
    for _ in range(limit):
        sign_in(client, "alice", "wrong")

    response = sign_in(client, "alice", PASSWORD)

    assert response.status_code == 429
    body = response.content.decode()
    assert 'lang="ar"' in body
    assert "تسجيل الدخول متوقف" in body


def test_a_supervisor_sees_the_lockout_in_the_admin_and_lifts_it(alice, sue, limit):
    for n in range(limit):
        sign_in(from_address(f"203.0.113.{n + 1}"), "alice", "wrong")
    supervisor = Client()
    supervisor.force_login(sue)

    listed = supervisor.get(attempts_list(), {"locked_out": "yes"})

    assert listed.status_code == 200
    rows = listed.context["cl"].result_list
    assert {row.username for row in rows} == {"alice"}
    assert sum(row.failures_since_start for row in rows) == limit

    lifted = supervisor.post(
        attempts_list(),
        {
            "action": "delete_selected",
            ACTION_CHECKBOX_NAME: [row.pk for row in rows],
            "post": "yes",
        },
    )

    assert lifted.status_code == 302
    client = from_address("198.51.100.7")
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    assert signed_in_as(client) == "alice"


def test_an_agent_does_not_see_the_attempts(bob, limit):
    client = Client()
    client.force_login(bob.user)
    assert client.get(attempts_list()).status_code == 403


def test_api_tokens_and_open_sessions_are_not_password_sign_ins(alice, limit):
    """A lockout refuses new password sign-ins only: the API's token is not a password (each
    key is 256 random bits; the API throttles answer guessing), and a session already open
    stays open."""
    key = token_for(alice.user)
    session = Client()
    session.force_login(alice.user)
    for n in range(limit):
        sign_in(from_address(f"203.0.113.{n + 1}"), "alice", "wrong")
    assert sign_in(from_address("198.51.100.7"), "alice", PASSWORD).status_code == 429

    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    before = timezone.now()
    assert api.get("/api/v1/tickets/").status_code == 200
    assert signed_in_as(session) == "alice"
    assert ApiToken.objects.get(user=alice.user).last_used_at >= before
