"""Webhooks in the admin: Sue (supervisor) registers an endpoint and sees its secret once,
reads the delivery log and redelivers; Alice (agent) sees none of it."""

from __future__ import annotations

import pytest

from tests.factories import TicketFactory
from tickets import services
from tickets.models import Ticket, WebhookDelivery, WebhookEndpoint

ADD = "/admin/tickets/webhookendpoint/add/"
ENDPOINTS = "/admin/tickets/webhookendpoint/"
DELIVERIES = "/admin/tickets/webhookdelivery/"
FORM = {"name": "CRM", "url": "http://127.0.0.1:9/hooks", "events": ["ticket.replied"]}


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True


def test_a_supervisor_registers_an_endpoint_and_sees_its_secret_once(client, sue):
    client.force_login(sue)

    response = client.post(ADD, FORM, follow=True)

    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.created_by == sue and endpoint.events == ["ticket.replied"]
    assert endpoint.secret in response.content.decode()
    # Not on the endpoint's own page afterwards.
    assert endpoint.secret not in client.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()


def test_a_private_target_is_a_form_error(client, sue, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    client.force_login(sue)

    response = client.post(ADD, FORM)

    assert response.status_code == 200
    assert "private or local address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_rotating_from_the_list_shows_the_new_secret(client, sue):
    client.force_login(sue)
    client.post(ADD, FORM)
    endpoint = WebhookEndpoint.objects.get()

    response = client.post(
        ENDPOINTS, {"action": "rotate_secret", "_selected_action": [endpoint.pk]}, follow=True
    )

    endpoint.refresh_from_db()
    assert endpoint.previous_secret and endpoint.secret in response.content.decode()


def test_the_delivery_log_shows_each_try_and_redelivers(client, sue, billing, alice):
    client.force_login(sue)
    client.post(ADD, FORM)
    services.ticket_reply(
        ticket=TicketFactory(queue=billing, status=Ticket.Status.OPEN), actor=alice.user,
        body="Hello",
    )  # fmt: skip
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status="failed", attempts=9, next_retry_at=None, last_status_code=503,
        last_response="upstream down",
    )  # fmt: skip

    page = client.get(DELIVERIES).content.decode()
    assert "upstream down" in page and "503" in page

    client.post(DELIVERIES, {"action": "redeliver", "_selected_action": [delivery.pk]})

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)


def test_an_agent_sees_no_webhooks(client, alice):
    client.force_login(alice.user)
    assert client.get(ENDPOINTS).status_code == 403
    assert client.get(DELIVERIES).status_code == 403
