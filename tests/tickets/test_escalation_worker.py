"""End to end: a customer fails the Spotify guide in Arabic through the API and asks for a
person; a real worker process, on the broker this run is configured with (the file-system
broker on the embedded default, Redis in the PostgreSQL + Redis run), creates the ticket."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from guides.models import Guide, Tag
from tests.factories import UserFactory
from tests.processes import (
    configured_broker_env,
    process_env,
    running,
    test_database_url,
    wait_for,
    worker_args,
)
from tickets.models import AgentProfile, Priority, Queue, RoutingRule, SLAPolicy, Ticket

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def support_desk(transactional_db):
    """Demo guides, an Arabic and an English billing queue with one agent each."""
    call_command("import_guides", str(Path("guides/demo_guides")), verbosity=0)
    layla = AgentProfile.objects.create(
        user=UserFactory(username="layla", email="layla@helpdesk.example"), languages=["ar"]
    )
    emma = AgentProfile.objects.create(
        user=UserFactory(username="emma", email="emma@helpdesk.example"), languages=["en"]
    )
    billing_ar = Queue.objects.create(name="Billing (Arabic)", slug="billing-ar", languages=["ar"])
    billing_en = Queue.objects.create(name="Billing (English)", slug="billing-en", languages=["en"])
    billing_ar.members.add(layla, emma)  # Emma is there too, but speaks no Arabic
    billing_en.members.add(emma)
    Queue.objects.create(name="General", slug="general", is_fallback=True)
    payment = Tag.objects.get(slug="payment")
    RoutingRule.objects.create(
        position=10, name="Payments in Arabic", tag=payment, language="ar", queue=billing_ar,
        priority=Priority.HIGH,
    )  # fmt: skip
    RoutingRule.objects.create(position=20, name="Payments", tag=payment, queue=billing_en)
    SLAPolicy.objects.create(
        queue=billing_ar, priority=Priority.HIGH, first_response_minutes=30, resolution_minutes=480
    )
    return {"layla": layla, "billing_ar": billing_ar}


def worker_env(tmp_path: Path, mail_dir: Path) -> dict[str, str]:
    return process_env(
        tmp_path,
        DATABASE_URL=test_database_url(),
        EMAIL_URL=f"file://{mail_dir}",
        SITE_URL="https://help.example.com",
        **configured_broker_env(),
    )


def test_an_arabic_escalation_becomes_a_routed_assigned_ticket_with_its_history(
    support_desk, tmp_path
):
    guide = Guide.objects.get(company__slug="spotify", language="ar")
    steps = list(guide.steps.order_by("position"))
    api = APIClient()
    token = api.post(f"/api/v1/guides/{guide.pk}/attempts/").json()["token"]
    api.credentials(HTTP_X_ATTEMPT_TOKEN=token)
    tried = [
        (steps[0], "did_not_work", "ظهرت رسالة: تعذّر تحديث طريقة الدفع"),
        (steps[1], "did_not_work", "لا أملك حساب PayPal"),
        (steps[2], "did_not_work", ""),
    ]
    for step, outcome, note in tried:
        response = api.post(
            "/api/v1/attempt/outcomes/", {"step": step.pk, "outcome": outcome, "note": note}
        )
        assert response.status_code == 201

    mail_dir = tmp_path / "mail"
    log = tmp_path / "worker.log"
    with running(worker_args(), worker_env(tmp_path, mail_dir), log):
        started = time.monotonic()
        response = api.post(
            "/api/v1/attempt/contact/",
            {"description": "ما زالت البطاقة مرفوضة", "name": "سارة", "email": "sara@example.com"},
        )
        assert response.status_code == 202
        ticket = wait_for(
            lambda: Ticket.objects.filter(attempt__guide=guide).first(),
            timeout=60, what="the ticket", log=log,
        )  # fmt: skip

        def customer_mail() -> list[Path] | None:
            mails = sorted(mail_dir.glob("*.log")) if mail_dir.exists() else []
            text = "".join(path.read_text(errors="replace") for path in mails)
            return mails if "sara@example.com" in text else None

        mails = wait_for(customer_mail, timeout=60, what="the customer's e-mail", log=log)
        elapsed = time.monotonic() - started
        # The assignee's e-mail goes out in the same task, after the customer's.
        wait_for(
            lambda: "layla@helpdesk.example" in "".join(
                path.read_text(errors="replace") for path in sorted(mail_dir.glob("*.log"))
            ),
            timeout=30, what="the assignee's e-mail", log=log,
        )  # fmt: skip

    assert ticket.queue == support_desk["billing_ar"]
    assert ticket.assignee == support_desk["layla"]
    assert ticket.priority == Priority.HIGH
    assert ticket.first_response_due_at is not None
    assert "Payments in Arabic" in ticket.routing_reason
    assert [(s["position"], s["outcome"], s["note"]) for s in ticket.tried_steps] == [
        (step.position, outcome, note) for step, outcome, note in tried
    ]
    assert ticket.requester_email == "sara@example.com"
    assert api.get("/api/v1/attempt/").json()["ticket"] == ticket.reference
    sent = "\n".join(path.read_text(errors="replace") for path in mails)
    assert "sara@example.com" in sent
    assert f"https://help.example.com/tickets/{ticket.reference}/" in sent
    print(f"ticket {ticket.reference} created and mailed in {elapsed:.1f}s")


def test_the_same_escalation_delivered_three_times_makes_one_ticket(support_desk, tmp_path):
    from guides import services as guide_services
    from tickets.tasks import escalate_attempt

    guide = Guide.objects.get(company__slug="spotify", language="en")
    attempt, _ = guide_services.attempt_start(guide=guide)
    guide_services.attempt_contact_submit(attempt=attempt, description="Still refused")
    log, second_log = tmp_path / "worker.log", tmp_path / "worker2.log"
    env = worker_env(tmp_path, tmp_path / "mail")

    def deliveries_done() -> int:
        """Deliveries of the escalation the two workers have finished, either way."""
        text = "".join(p.read_text(errors="replace") for p in (log, second_log) if p.exists())
        return sum(
            1
            for line in text.splitlines()
            if "tickets.tasks.escalate_attempt[" in line
            and (" succeeded " in line or " raised " in line)
        )

    for _ in range(3):
        escalate_attempt.apply_async(args=[attempt.pk])
    # Two workers racing on the same messages.
    with (
        running(worker_args(), env, log),
        running(worker_args("--hostname=second@%h"), env, second_log),
    ):
        wait_for(
            lambda: Ticket.objects.filter(attempt=attempt).exists(),
            timeout=60, what="the ticket", log=log,
        )  # fmt: skip
        # The duplicates consumed too, whichever worker took them.
        wait_for(lambda: deliveries_done() >= 3, timeout=60, what="all three deliveries", log=log)
    assert Ticket.objects.filter(attempt=attempt).count() == 1


def test_the_worker_keeps_its_database_connection_from_one_ticket_to_the_next(
    support_desk, tmp_path
):
    """Celery's Django fix-up would close it after every task (a new PostgreSQL connection for
    each ticket and each e-mail); the worker keeps it as a web process does, for CONN_MAX_AGE."""
    from django.db import connection

    from guides import services as guide_services
    from tickets.tasks import escalate_attempt

    if connection.vendor != "postgresql":
        pytest.skip("SQLite keeps no connection between tasks (CONN_MAX_AGE=0); PostgreSQL's run")
    guide = Guide.objects.get(company__slug="spotify", language="en")

    def worker_backends() -> set[tuple[int, object]]:
        with connection.cursor() as cursor:
            cursor.execute(
                """SELECT pid, backend_start FROM pg_stat_activity
                   WHERE datname = current_database() AND pid <> pg_backend_pid()
                   AND backend_type = 'client backend'"""
            )
            return set(cursor.fetchall())

    seen: list[set[tuple[int, object]]] = []
    log = tmp_path / "worker.log"
    with running(worker_args(), worker_env(tmp_path, tmp_path / "mail"), log):
        for n in range(3):
            attempt, _ = guide_services.attempt_start(guide=guide)
            guide_services.attempt_contact_submit(
                attempt=attempt, description=f"Still refused ({n})", email=f"c{n}@example.com"
            )
            escalate_attempt.apply_async(args=[attempt.pk])
            mailed = Ticket.objects.filter(attempt=attempt, customer_notified_at__isnull=False)
            wait_for(mailed.exists, timeout=60, what=f"ticket {n} and its e-mail", log=log)
            time.sleep(0.5)  # a connection closed after the task would be gone by now
            seen.append(worker_backends())
    assert seen[0], "the worker closed its connection after the task"
    assert seen[0] == seen[1] == seen[2]


def test_a_burst_of_escalations_is_ticketed_before_the_emails_already_waiting(
    support_desk, tmp_path
):
    """On Redis the worker asks for its queues in the same order every time (escalations
    before e-mails), so e-mails queued first still wait for the escalations behind them."""
    from django.conf import settings

    from guides import services as guide_services
    from tickets import services
    from tickets.tasks import escalate_attempt, notify_ticket_created

    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip(
            "queue priority is the Redis transport's (kombu's queue_order_strategy); the "
            "embedded broker polls its queues in turn. The PostgreSQL + Redis run checks it."
        )
    guide = Guide.objects.get(company__slug="spotify", language="en")

    def escalated(description: str):
        attempt, _ = guide_services.attempt_start(guide=guide)
        guide_services.attempt_contact_submit(
            attempt=attempt, description=description, email="sam@example.com"
        )
        return attempt

    earlier = services.ticket_create_from_attempt(attempt_id=escalated("Earlier").pk)
    for _ in range(8):  # e-mail tasks of an earlier ticket, waiting first in the broker
        notify_ticket_created.apply_async(args=[earlier.pk, False])
    burst = [escalated(f"Burst {n}") for n in range(4)]
    escalate_attempt.apply_async(args=[burst[0].pk])  # the burst's one wake-up

    log = tmp_path / "worker.log"
    with running(worker_args(), worker_env(tmp_path, tmp_path / "mail"), log):
        wait_for(
            lambda: Ticket.objects.filter(attempt__in=burst).count() == len(burst),
            timeout=60, what="the burst's tickets", log=log,
        )  # fmt: skip
    received = [
        line.split("tickets.tasks.", 1)[1].split("[", 1)[0]
        for line in log.read_text(errors="replace").splitlines()
        if " received" in line and "tickets.tasks." in line
    ]
    assert received[0] == "escalate_attempt", received


def test_a_burst_of_escalations_wakes_the_worker_once(support_desk, tmp_path):
    """Each escalation is announced after its commit, but while a wake-up is queued and not
    started, no other is sent: the whole burst costs one task, which tickets all of it."""
    from guides import services as guide_services
    from tickets import services

    guide = Guide.objects.get(company__slug="spotify", language="en")
    burst = []
    for number in range(6):
        attempt, _ = guide_services.attempt_start(guide=guide)
        services.escalation_request(
            attempt=attempt, description=f"Still refused ({number})", email=f"c{number}@example.com"
        )
        burst.append(attempt)

    log = tmp_path / "worker.log"
    with running(worker_args(), worker_env(tmp_path, tmp_path / "mail"), log):
        mailed = Ticket.objects.filter(attempt__in=burst, customer_notified_at__isnull=False)
        wait_for(lambda: mailed.count() == len(burst), timeout=60, what="the burst", log=log)
    received = [
        line.split("tickets.tasks.", 1)[1].split("[", 1)[0]
        for line in log.read_text(errors="replace").splitlines()
        if " received" in line and "tickets.tasks." in line
    ]
    assert received == ["escalate_attempt", "notify_tickets_created"], received
    # The next escalation, after the worker took the wake-up, wakes it again.
    attempt, _ = guide_services.attempt_start(guide=guide)
    services.escalation_request(attempt=attempt, description="Later", email="later@example.com")
    with running(worker_args(), worker_env(tmp_path, tmp_path / "mail"), log):
        wait_for(
            lambda: Ticket.objects.filter(attempt=attempt).exists(),
            timeout=60, what="the later escalation's ticket", log=log,
        )  # fmt: skip
