"""Webhooks through a real Celery worker process: each event reaches the receiver exactly once
(as the receiver sees accepted deliveries), after commit, retried when the receiver fails.

Persona: Sam asks for a person through the API; Alice answers; the CRM's receiver, on
loopback, refuses each event's first try (500) and accepts the second.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from guides import services as guide_services
from tests.factories import GuideFactory, StepFactory
from tests.processes import (
    configured_broker_env,
    process_env,
    running,
    test_database_url,
    wait_for,
    worker_args,
)
from tests.receivers import receiver_new, serving
from tickets import services
from tickets.models import Queue, Ticket, WebhookDelivery, WebhookEventType
from tickets.services import webhooks

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def worker_env(tmp_path: Path) -> dict[str, str]:
    return process_env(
        tmp_path,
        DATABASE_URL=test_database_url(),
        EMAIL_URL=f"file://{tmp_path / 'mail'}",
        WEBHOOK_ALLOW_PRIVATE_TARGETS="true",
        WEBHOOK_TIMEOUT="3",
        # Short enough for a test; below the sweep interval, so retries go with a countdown.
        WEBHOOK_RETRY_SCHEDULE="0.3,0.3,0.3",
        WEBHOOK_RETRY_SWEEP_INTERVAL="30",
        **configured_broker_env(),
    )


def test_each_event_reaches_the_receiver_once_through_the_worker(alice, sue, tmp_path, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    billing = Queue.objects.get(slug="billing")
    Queue.objects.filter(pk=billing.pk).update(auto_assign=True, is_fallback=True)
    guide = GuideFactory(language="en")
    StepFactory(guide=guide, position=1)
    receiver = receiver_new(mode="fail_first")
    _endpoint, secret = webhooks.webhook_endpoint_register(
        name="CRM", url=receiver.url, events=list(WebhookEventType.values), actor=sue
    )
    receiver.secrets = [secret]

    attempt, token = guide_services.attempt_start(guide=guide)
    api = APIClient()
    api.credentials(HTTP_X_ATTEMPT_TOKEN=token)
    log = tmp_path / "worker.log"
    with serving(receiver), running(worker_args(), worker_env(tmp_path), log):
        response = api.post(
            "/api/v1/attempt/contact/", {"description": "Card refused", "email": "sam@example.com"}
        )
        assert response.status_code == 202
        ticket = wait_for(
            lambda: Ticket.objects.filter(attempt=attempt).first(),
            timeout=60, what="the ticket", log=log,
        )  # fmt: skip
        services.ticket_reply(ticket=ticket, actor=alice.user, body="Try the new form")

        # escalation.requested, ticket.created, ticket.assigned; then ticket.replied and
        # ticket.status_changed (the first reply opens the new ticket).
        expected = 5
        wait_for(
            lambda: len(receiver.accepted_ids()) >= expected,
            timeout=60, what="the receiver to accept every event", log=log,
        )  # fmt: skip
        time.sleep(1.5)  # room for a duplicate to arrive, were one sent

    accepted = receiver.accepted_ids()
    assert len(accepted) == len(set(accepted)) == expected, accepted
    types = sorted(body["type"] for _id, body in receiver.accepted)
    assert types == [
        "escalation.requested", "ticket.assigned", "ticket.created", "ticket.replied",
        "ticket.status_changed",
    ]  # fmt: skip
    deliveries = WebhookDelivery.objects.all()
    assert {str(d.event_id) for d in deliveries} == set(accepted)
    assert all(d.status == "delivered" and d.attempts == 2 for d in deliveries), [
        (d.event_type, d.status, d.attempts, d.last_response) for d in deliveries
    ]
