"""Signed webhooks out, through the services, against a real receiver on loopback.

Persona: Sue (supervisor) registers the CRM's endpoint; Alice works a Billing ticket. The
receiver (tests/receivers.py) checks every signature as docs/webhooks.md says.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from guides import services as guide_services
from tests.factories import GuideFactory, TicketFactory
from tests.receivers import receiver_new, serving, signature_valid
from tickets import notifications, services
from tickets.models import Ticket, WebhookDelivery, WebhookEndpoint, WebhookEventType
from tickets.services import webhooks

ALL_EVENTS = list(WebhookEventType.values)


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_TIMEOUT = 2.0
    settings.WEBHOOK_RETRY_SCHEDULE = [0.0, 0.0, 0.0]


def _endpoint(sue, url: str, events=ALL_EVENTS) -> tuple[WebhookEndpoint, str]:
    return webhooks.webhook_endpoint_register(name="CRM", url=url, events=events, actor=sue)


def _solved_by(alice, ticket) -> WebhookDelivery:
    services.ticket_transition(ticket=ticket, to_status=Ticket.Status.SOLVED, actor=alice.user)
    return WebhookDelivery.objects.get(event_type=WebhookEventType.TICKET_STATUS_CHANGED)


def test_it_posts_a_signed_event_that_the_receiver_verifies(billing, alice, sue):
    receiver = receiver_new()
    endpoint, secret = _endpoint(sue, receiver.url)
    receiver.secrets = [secret]
    ticket = TicketFactory(queue=billing, assignee=alice, status=Ticket.Status.OPEN)
    delivery = _solved_by(alice, ticket)

    with serving(receiver):
        assert webhooks.webhook_delivery_attempt(delivery_id=delivery.pk) == "delivered"

    [(event_id, body)] = receiver.accepted
    assert event_id == str(delivery.event_id) == body["id"]
    assert body["type"] == "ticket.status_changed"
    assert body["data"]["from"] == "open" and body["data"]["to"] == "solved"
    assert body["data"]["ticket"]["reference"] == ticket.reference
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)
    assert delivery.delivered_at is not None and delivery.next_retry_at is None


def test_a_wrong_secret_is_refused_by_the_receiver_and_retried(billing, alice, sue):
    receiver = receiver_new(secrets=["whsec_not-the-one"])
    _endpoint(sue, receiver.url)
    delivery = _solved_by(alice, TicketFactory(queue=billing, status=Ticket.Status.OPEN))

    with serving(receiver):
        assert webhooks.webhook_delivery_attempt(delivery_id=delivery.pk) == "pending"

    assert receiver.accepted == [] and len(receiver.seen) == 1
    delivery.refresh_from_db()
    assert (delivery.last_status_code, delivery.last_response) == (401, "bad signature")


def test_a_receiver_down_then_up_gets_the_event_on_the_retry(billing, alice, sue):
    receiver = receiver_new()
    _endpoint_row, secret = _endpoint(sue, receiver.url)
    receiver.secrets = [secret]
    delivery = _solved_by(alice, TicketFactory(queue=billing, status=Ticket.Status.OPEN))

    assert webhooks.webhook_delivery_attempt(delivery_id=delivery.pk) == "pending"  # down
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.last_status_code is None
    assert "refused" in delivery.last_response.lower()
    with serving(receiver):
        assert webhooks.webhook_delivery_attempt(delivery_id=delivery.pk) == "delivered"

    assert receiver.accepted_ids() == [str(delivery.event_id)]
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert WebhookEndpoint.objects.get().consecutive_failures == 0


def test_a_hung_receiver_is_given_up_at_the_timeout(billing, alice, sue, settings):
    settings.WEBHOOK_TIMEOUT = 1.0
    receiver = receiver_new(mode="hang")
    _endpoint(sue, receiver.url)
    delivery = _solved_by(alice, TicketFactory(queue=billing, status=Ticket.Status.OPEN))

    with serving(receiver):
        started = time.monotonic()
        status = webhooks.webhook_delivery_attempt(delivery_id=delivery.pk)
        took = time.monotonic() - started

    assert status == "pending"
    assert took < 1.0 + 3.0, took  # the timeout, and a generous margin
    delivery.refresh_from_db()
    assert delivery.last_response == "No answer within 1 s"


def test_each_event_reaches_the_receiver_once_however_often_its_task_runs(billing, alice, sue):
    receiver = receiver_new()
    _endpoint_row, secret = _endpoint(sue, receiver.url)
    receiver.secrets = [secret]
    delivery = _solved_by(alice, TicketFactory(queue=billing, status=Ticket.Status.OPEN))

    with serving(receiver):
        results = [webhooks.webhook_delivery_attempt(delivery_id=delivery.pk) for _ in range(3)]

    assert results == ["delivered", None, None]
    assert receiver.accepted_ids() == [str(delivery.event_id)]


def test_a_try_under_way_is_not_made_again_by_a_second_worker(billing, alice, sue):
    _endpoint_row, _secret = _endpoint(sue, receiver_new().url)
    delivery = _solved_by(alice, TicketFactory(queue=billing, status=Ticket.Status.OPEN))
    # A first worker has claimed it (its lease runs past the try's end).
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=1, next_retry_at=timezone.now() + timedelta(seconds=30)
    )

    assert webhooks.webhook_delivery_attempt(delivery_id=delivery.pk) is None
    assert webhooks.webhook_deliveries_due() == []


def test_the_schedule_spent_the_delivery_has_failed(billing, alice, sue, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [0.0]
    receiver = receiver_new(mode="fail")
    _endpoint(sue, receiver.url)
    delivery = _solved_by(alice, TicketFactory(queue=billing, status=Ticket.Status.OPEN))

    with serving(receiver):
        statuses = [webhooks.webhook_delivery_attempt(delivery_id=delivery.pk) for _ in range(3)]

    assert statuses == ["pending", "failed", None]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 2, 500)
    assert delivery.last_response == "receiver broken"


def test_retries_back_off_with_jitter_over_the_schedule(settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [10, 60, 300]
    for tries, base in [(1, 10), (2, 60), (3, 300)]:
        delays = {webhooks.retry_delay(tries) for _ in range(20)}
        assert all(base <= delay <= base * 1.25 for delay in delays)
        assert len(delays) > 1  # jittered
    assert webhooks.retry_delay(4) is None


def test_repeated_failure_switches_the_endpoint_off_and_tells_the_supervisors(
    billing, alice, sue, settings
):
    settings.WEBHOOK_DISABLE_AFTER = 3
    sue.email = "sue@example.com"
    sue.save(update_fields=["email"])
    receiver = receiver_new(mode="fail")
    endpoint, _secret = _endpoint(sue, receiver.url)
    ticket = TicketFactory(queue=billing, status=Ticket.Status.OPEN)
    services.ticket_transition(ticket=ticket, to_status=Ticket.Status.PENDING, actor=alice.user)
    services.ticket_transition(ticket=ticket, to_status=Ticket.Status.OPEN, actor=alice.user)
    first, second = WebhookDelivery.objects.order_by("pk")

    with serving(receiver):
        assert webhooks.webhook_delivery_attempt(delivery_id=first.pk) == "pending"
        assert webhooks.webhook_delivery_attempt(delivery_id=second.pk) == "pending"
        assert webhooks.webhook_delivery_attempt(delivery_id=first.pk) == "failed"

    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_at is not None
    assert "3 failed tries in a row" in endpoint.disabled_reason
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"failed"}
    # Nothing more is recorded or sent for it.
    services.ticket_transition(ticket=ticket, to_status=Ticket.Status.SOLVED, actor=alice.user)
    assert WebhookDelivery.objects.count() == 2
    assert webhooks.webhook_deliveries_due() == []

    assert notifications.supervisors_webhook_disabled_send(endpoint_id=endpoint.pk) == 1
    [notice] = mail.outbox
    assert notice.to == ["sue@example.com"]
    assert "CRM" in notice.subject
    assert receiver.url in notice.body and "3 failed tries in a row" in notice.body


def test_while_a_secret_rotates_both_signatures_are_sent(billing, alice, sue):
    receiver = receiver_new()
    endpoint, old = _endpoint(sue, receiver.url)
    new = webhooks.webhook_secret_rotate(endpoint=endpoint, actor=sue)
    ticket = TicketFactory(queue=billing, status=Ticket.Status.OPEN)
    services.ticket_transition(ticket=ticket, to_status=Ticket.Status.PENDING, actor=alice.user)
    services.ticket_transition(ticket=ticket, to_status=Ticket.Status.OPEN, actor=alice.user)
    during, after = WebhookDelivery.objects.order_by("pk")

    with serving(receiver):
        receiver.secrets = [old]  # a receiver that has not switched yet
        assert webhooks.webhook_delivery_attempt(delivery_id=during.pk) == "delivered"
        # The overlap is over: only the new secret signs.
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
        )
        assert webhooks.webhook_delivery_attempt(delivery_id=after.pk) == "pending"  # 401
        receiver.secrets = [new]
        WebhookDelivery.objects.filter(pk=after.pk).update(next_retry_at=timezone.now())
        assert webhooks.webhook_delivery_attempt(delivery_id=after.pk) == "delivered"

    assert new != old
    during_signature, after_signature, last_signature = (header for _id, header in receiver.seen)
    assert during_signature.count("v1=") == 2
    assert after_signature.count("v1=") == last_signature.count("v1=") == 1


def test_the_signature_covers_the_timestamp_and_the_body():
    body = json.dumps({"id": "x"}).encode()
    header = webhooks.webhook_signature(secrets=["whsec_a"], timestamp=int(time.time()), body=body)
    timestamp = str(int(time.time()))
    assert signature_valid(secret="whsec_a", timestamp=timestamp, body=body, header=header)
    assert not signature_valid(
        secret="whsec_a", timestamp=timestamp, body=body + b" ", header=header
    )
    assert not signature_valid(secret="whsec_b", timestamp=timestamp, body=body, header=header)


# --- what is recorded ---------------------------------------------------------------------


def test_replies_assignments_and_ratings_are_recorded_internal_notes_are_not(
    billing, alice, emma, sue
):
    _endpoint(sue, receiver_new().url)
    ticket = TicketFactory(queue=billing, assignee=alice, status=Ticket.Status.OPEN)

    services.ticket_note(ticket=ticket, actor=alice.user, body="Customer is on the old plan.")
    services.ticket_reply(ticket=ticket, actor=alice.user, body="Try the new card form.")
    services.ticket_assign_to(ticket=ticket, agent=emma, actor=sue)
    services.ticket_customer_reply(ticket=ticket, body="It worked, thanks")
    services.ticket_transition(ticket=ticket, to_status=Ticket.Status.SOLVED, actor=emma.user)
    services.ticket_rate(ticket=ticket, score="good", comment="Quick!")

    payloads = [d.payload for d in WebhookDelivery.objects.order_by("pk")]
    assert [p["type"] for p in payloads] == [
        "ticket.replied", "ticket.assigned", "ticket.replied", "ticket.status_changed",
        "ticket.rated",
    ]  # fmt: skip
    agent_reply, assigned, customer_reply, _solved, rated = (p["data"] for p in payloads)
    assert agent_reply["message"]["by"] == "agent"
    assert agent_reply["message"]["body"] == "Try the new card form."
    assert assigned["ticket"]["assignee"]["id"] == emma.pk
    assert customer_reply["message"]["by"] == "customer"
    assert rated["rating"] == {"score": "good", "previous_score": None, "comment": "Quick!"}
    assert len({p["id"] for p in payloads}) == len(payloads)


def test_only_subscribed_active_endpoints_get_an_event(billing, alice, sue):
    replies, _ = _endpoint(sue, receiver_new().url, events=["ticket.replied"])
    everything, _ = _endpoint(sue, receiver_new().url)
    off, _ = _endpoint(sue, receiver_new().url)
    webhooks.webhook_endpoint_update(endpoint=off, actor=sue, is_active=False)
    ticket = TicketFactory(queue=billing, status=Ticket.Status.OPEN)

    services.ticket_transition(ticket=ticket, to_status=Ticket.Status.PENDING, actor=alice.user)
    services.ticket_reply(ticket=ticket, actor=alice.user, body="Here you go")

    got = sorted(WebhookDelivery.objects.values_list("endpoint_id", "event_type"))
    assert got == sorted(
        [
            (everything.pk, "ticket.status_changed"), (everything.pk, "ticket.replied"),
            (replies.pk, "ticket.replied"),
        ]
    )  # fmt: skip
    # One event, one id, whichever endpoint it goes to.
    reply_ids = set(
        WebhookDelivery.objects.filter(event_type="ticket.replied").values_list(
            "event_id", flat=True
        )
    )
    assert len(reply_ids) == 1


def test_a_change_rolled_back_records_no_delivery(billing, alice, sue):
    _endpoint(sue, receiver_new().url)
    ticket = TicketFactory(queue=billing, status=Ticket.Status.OPEN)

    with pytest.raises(services.TicketError):
        services.ticket_reply(
            ticket=ticket, actor=alice.user, body="Done", status_after=Ticket.Status.CLOSED
        )  # open → closed is no transition: the reply rolls back with it

    assert not WebhookDelivery.objects.exists()


def test_the_worker_records_the_escalation_and_the_new_ticket(billing, alice, sue):
    billing.auto_assign = True
    billing.is_fallback = True
    billing.save()
    _endpoint(sue, receiver_new().url)
    guide = GuideFactory(language="en")
    attempt, _token = guide_services.attempt_start(guide=guide)
    guide_services.attempt_contact_submit(
        attempt=attempt, description="My card is refused", name="Sam", email="sam@example.com"
    )

    ticket = services.ticket_create_from_attempt(attempt_id=attempt.pk)

    payloads = {d.event_type: d.payload for d in WebhookDelivery.objects.all()}
    assert set(payloads) == {"escalation.requested", "ticket.created", "ticket.assigned"}
    requested = payloads["escalation.requested"]["data"]
    assert requested["reference"] == ticket.reference
    assert requested["description"] == "My card is refused"
    assert requested["contact"] == {"name": "Sam", "email": "sam@example.com"}
    created = payloads["ticket.created"]["data"]["ticket"]
    assert created["queue"]["slug"] == "billing"
    assert created["assignee"] == {"id": alice.pk, "name": str(alice)}


def test_without_an_active_endpoint_the_services_record_nothing(billing, alice):
    ticket = TicketFactory(queue=billing, status=Ticket.Status.OPEN)
    services.ticket_reply(ticket=ticket, actor=alice.user, body="Hello")
    assert not WebhookDelivery.objects.exists()


# --- where webhooks may go (SSRF) ---------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",
        "http://localhost:8000/hook",
        "http://printer.local/hook",
        "http://metadata.internal/hook",
    ],
)
def test_private_and_local_targets_are_refused(sue, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(webhooks.WebhookError) as refused:
        webhooks.webhook_endpoint_register(name="x", url=url, events=ALL_EVENTS, actor=sue)
    assert refused.value.field == "url"
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://[::ffff:169.254.169.254]/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
    ],
)
def test_link_local_and_unspecified_targets_are_refused_even_where_private_ones_are_allowed(
    sue, settings, url
):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    with pytest.raises(webhooks.WebhookError) as refused:
        webhooks.webhook_endpoint_register(name="x", url=url, events=ALL_EVENTS, actor=sue)
    assert refused.value.field == "url"
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "http://user:pw@example.com/hook",
        "http://exa mple.com/hook",
        "http://example.com:99999/hook",
        "http:///hook",
        "not a url",
        "http://-bad-.example/hook",
    ],
)
def test_other_schemes_and_malformed_urls_are_refused_without_dns(sue, url):
    started = time.monotonic()
    with pytest.raises(webhooks.WebhookError) as refused:
        webhooks.webhook_endpoint_register(name="x", url=url, events=ALL_EVENTS, actor=sue)
    assert refused.value.field == "url"
    assert time.monotonic() - started < 0.5


def test_a_name_that_does_not_resolve_is_refused_within_the_dns_bound(sue):
    started = time.monotonic()
    with pytest.raises(webhooks.WebhookError):
        webhooks.webhook_endpoint_register(
            name="x", url="https://no-such-host.invalid/hook", events=ALL_EVENTS, actor=sue
        )
    assert time.monotonic() - started < webhooks.DNS_CHECK_TIMEOUT + 1.0


def test_a_target_that_became_private_is_refused_at_delivery_time(billing, alice, sue, settings):
    receiver = receiver_new()
    _endpoint_row, secret = _endpoint(sue, receiver.url)  # allowed when registered
    receiver.secrets = [secret]
    delivery = _solved_by(alice, TicketFactory(queue=billing, status=Ticket.Status.OPEN))
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    with serving(receiver):
        assert webhooks.webhook_delivery_attempt(delivery_id=delivery.pk) == "pending"

    assert receiver.seen == []
    delivery.refresh_from_db()
    assert delivery.last_response.startswith("Refused:")


def test_unknown_events_and_a_blank_name_are_refused(sue):
    with pytest.raises(webhooks.WebhookError) as refused:
        webhooks.webhook_endpoint_register(
            name="x", url="https://example.com/", events=["ticket.exploded"], actor=sue
        )
    assert refused.value.field == "events"
    with pytest.raises(webhooks.WebhookError) as refused:
        webhooks.webhook_endpoint_register(
            name="  ", url="https://93.184.216.34/", events=ALL_EVENTS, actor=sue
        )
    assert refused.value.field == "name"


def test_an_agent_may_not_manage_endpoints(alice):
    with pytest.raises(webhooks.WebhookError) as refused:
        webhooks.webhook_endpoint_register(
            name="x", url="https://93.184.216.34/", events=ALL_EVENTS, actor=alice.user
        )
    assert refused.value.status == 403


# --- what recording costs ---------------------------------------------------------------------


def _statements_of(call) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        call()
    return [
        query["sql"]
        for query in captured.captured_queries
        if not query["sql"].lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))
    ]


def _escalated(guide):
    attempt, _token = guide_services.attempt_start(guide=guide)
    return guide_services.attempt_contact_submit(
        attempt=attempt, description="My card is refused", name="Sam", email="sam@example.com"
    )


@pytest.mark.django_db(transaction=True)
def test_a_burst_records_its_events_in_the_statements_of_one_escalation(alice, sue, settings):
    from tickets import tasks
    from tickets.models import Queue

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    Queue.objects.filter(slug="billing").update(auto_assign=True, is_fallback=True)
    guide = GuideFactory(language="en")
    tasks.escalate_attempt(_escalated(guide).pk)  # the routing table, read once
    first = _escalated(guide)
    without = _statements_of(lambda: tasks.escalate_attempt(first.pk))
    _endpoint(sue, receiver_new().url)

    second = _escalated(guide)
    one = _statements_of(lambda: tasks.escalate_attempt(second.pk))
    burst = [_escalated(guide) for _ in range(5)]
    five = _statements_of(lambda: tasks.escalate_attempt(burst[0].pk))

    # The endpoints read once, and every delivery of the batch in one INSERT; nothing per
    # ticket (one agent takes the whole burst: no further capacity UPDATE either).
    assert len(one) == len(without) + 2, "\n".join(one)
    assert len(five) == len(one), "\n".join(five)
    assert WebhookDelivery.objects.count() == 6 * 3


def test_beats_sweep_finds_a_delivery_whose_send_or_worker_was_lost(billing, alice, sue, settings):
    from tickets import tasks

    _endpoint(sue, receiver_new().url)
    delivery = _solved_by(alice, TicketFactory(queue=billing, status=Ticket.Status.OPEN))
    # Its task never reached a worker (the broker was down at commit): due at once.
    assert webhooks.webhook_deliveries_due() == [delivery.pk]
    # A worker claimed it and died mid-try: due again once the lease has run out.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=1, next_retry_at=timezone.now() - timedelta(seconds=1)
    )
    assert webhooks.webhook_deliveries_due() == [delivery.pk]

    entry = settings.CELERY_BEAT_SCHEDULE["retry-webhook-deliveries"]
    assert entry["task"] == tasks.retry_webhook_deliveries.name
    assert settings.CELERY_TASK_ROUTES[entry["task"]] == {"queue": "maintenance"}


def test_the_check_in_docs_webhooks_md_accepts_a_real_delivery(billing, alice, sue):
    """The verification snippet integrators copy, run as written against a real delivery."""
    import re
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    [snippet] = re.findall(r"```python\n(.*?)```", docs, re.DOTALL)
    namespace: dict = {}
    exec(compile(snippet, "docs/webhooks.md", "exec"), namespace)  # noqa: S102 - our own docs
    verified = namespace["webhook_verified"]

    receiver = receiver_new()
    _endpoint_row, secret = _endpoint(sue, receiver.url)
    receiver.secrets = [secret]
    delivery = _solved_by(alice, TicketFactory(queue=billing, status=Ticket.Status.OPEN))
    with serving(receiver):
        webhooks.webhook_delivery_attempt(delivery_id=delivery.pk)
    [(headers, raw)] = receiver.raw  # as they came over the wire

    assert verified([secret], headers, raw)
    assert not verified(["whsec_other"], headers, raw)
    assert not verified([secret], headers, raw.replace(b"solved", b"closed"))
    assert not verified([secret], {**headers, "Webhook-Timestamp": "1000000000"}, raw)
