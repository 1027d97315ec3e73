"""The webhook endpoints API (/api/v1/webhooks/): supervisors register, change, rotate, remove,
read the delivery log and redeliver; agents may not.

Persona: Sue (supervisor) wires the CRM; Alice (agent) tries to.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import TicketFactory, token_for
from tickets import services
from tickets.models import Ticket, WebhookDelivery, WebhookEndpoint

WEBHOOKS = "/api/v1/webhooks/"
CRM = {"name": "CRM", "url": "http://127.0.0.1:9/hooks", "events": ["ticket.replied"]}


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True


def client_of(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return api


def test_a_supervisor_registers_an_endpoint_and_sees_its_secret_once(sue):
    api = client_of(sue)

    created = api.post(WEBHOOKS, CRM)

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["secret"] == WebhookEndpoint.objects.get().secret
    assert (body["is_active"], body["events"]) == (True, ["ticket.replied"])
    listed = api.get(WEBHOOKS).json()["results"]
    assert [item["id"] for item in listed] == [body["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in api.get(f"{WEBHOOKS}{body['id']}/").json()


def test_an_agent_may_not_see_or_register_endpoints(alice):
    api = client_of(alice.user)
    assert api.get(WEBHOOKS).status_code == 403
    assert api.post(WEBHOOKS, CRM).status_code == 403
    assert APIClient().get(WEBHOOKS).status_code in (401, 403)


def test_a_private_target_is_a_400_on_url(sue, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = client_of(sue).post(WEBHOOKS, CRM)
    assert response.status_code == 400
    assert "private or local" in response.json()["errors"]["url"][0]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({**CRM, "events": ["ticket.exploded"]}, "events"),
        ({**CRM, "events": []}, "events"),
        ({**CRM, "events": "ticket.replied"}, "events"),
        ({**CRM, "url": "gopher://example.com/"}, "url"),
        ({**CRM, "url": 42}, "url"),
        ({**CRM, "name": ""}, "name"),
    ],
)
def test_bad_input_is_a_400_on_its_field(sue, body, field):
    response = client_of(sue).post(WEBHOOKS, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_a_supervisor_changes_switches_off_and_removes_an_endpoint(sue):
    api = client_of(sue)
    endpoint_id = api.post(WEBHOOKS, CRM).json()["id"]
    url = f"{WEBHOOKS}{endpoint_id}/"

    changed = api.patch(url, {"events": ["ticket.created", "ticket.rated"], "is_active": False})

    assert changed.status_code == 200, changed.content
    assert changed.json()["events"] == ["ticket.created", "ticket.rated"]
    assert changed.json()["is_active"] is False and changed.json()["disabled_at"]
    stored = WebhookEndpoint.objects.get()
    assert (stored.events, stored.is_active) == (["ticket.created", "ticket.rated"], False)
    on_again = api.patch(url, {"is_active": True}).json()
    assert (on_again["is_active"], on_again["disabled_at"]) == (True, None)
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_rotating_the_secret_shows_the_new_one_and_keeps_the_old_for_a_while(sue):
    api = client_of(sue)
    created = api.post(WEBHOOKS, CRM).json()

    rotated = api.post(f"{WEBHOOKS}{created['id']}/rotate-secret/")

    assert rotated.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert rotated.json()["secret"] == endpoint.secret != created["secret"]
    assert endpoint.previous_secret == created["secret"]
    assert rotated.json()["previous_secret_expires_at"] is not None
    assert len(endpoint.signing_secrets()) == 2


def test_the_delivery_log_and_redelivery(sue, billing, alice):
    api = client_of(sue)
    endpoint_id = api.post(WEBHOOKS, CRM).json()["id"]
    ticket = TicketFactory(queue=billing, status=Ticket.Status.OPEN)
    services.ticket_reply(ticket=ticket, actor=alice.user, body="Hello")
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status="failed", attempts=9, next_retry_at=None
    )

    log = api.get(f"{WEBHOOKS}{endpoint_id}/deliveries/")
    assert log.status_code == 200
    [row] = log.json()["results"]
    assert (row["id"], row["status"], row["event_type"]) == (
        delivery.pk,
        "failed",
        "ticket.replied",
    )
    assert row["payload"]["data"]["message"]["body"] == "Hello"

    again = api.post(f"{WEBHOOKS}{endpoint_id}/deliveries/{delivery.pk}/redeliver/")

    assert again.status_code == 202, again.content
    assert (again.json()["status"], again.json()["attempts"]) == ("pending", 0)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.event_id == delivery.event_id


def test_redelivery_to_a_switched_off_endpoint_is_a_409(sue, billing, alice):
    api = client_of(sue)
    endpoint_id = api.post(WEBHOOKS, CRM).json()["id"]
    services.ticket_reply(
        ticket=TicketFactory(queue=billing, status=Ticket.Status.OPEN), actor=alice.user, body="Hi"
    )
    delivery = WebhookDelivery.objects.get()
    api.patch(f"{WEBHOOKS}{endpoint_id}/", {"is_active": False})

    response = api.post(f"{WEBHOOKS}{endpoint_id}/deliveries/{delivery.pk}/redeliver/")

    assert response.status_code == 409
    assert response.json()["code"] == "endpoint_disabled"


def test_unknown_ids_are_404s(sue):
    api = client_of(sue)
    assert api.get(f"{WEBHOOKS}999999/").status_code == 404
    assert api.post(f"{WEBHOOKS}999999/deliveries/1/redeliver/").status_code == 404
    assert api.get(f"{WEBHOOKS}abc/").status_code == 404
    assert api.get(f"{WEBHOOKS}99999999999999999999999/").status_code == 404


@pytest.mark.parametrize("page", ["", "x", "0", "-1", "١"])
def test_a_page_that_is_no_whole_number_is_a_400(sue, page):
    assert client_of(sue).get(WEBHOOKS, {"page": page}).status_code in (400, 404)
