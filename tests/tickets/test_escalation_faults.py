"""Faults on the escalation path, with real processes: a web server, Celery workers and beat on
a private Redis that the tests stop, restart, replace with a silent port, or whose workers they
kill. Whatever happens, every escalated attempt ends as exactly one ticket with its history.

Each test shares its database with the processes it starts (transactional test + the test
database's URL), and stops everything it started before it returns.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.db.models import Count

from guides import services as guide_services
from guides.models import Attempt, Guide, StepOutcome, Tag
from tests import processes
from tests.brokers import PrivateRedis, private_redis, silent_listener
from tests.factories import UserFactory
from tests.processes import (
    celery,
    manage,
    process_env,
    running,
    wait_for,
    web_server,
    worker_args,
    worker_ready,
)
from tickets.models import AgentProfile, Queue, RoutingRule, Ticket, TicketEvent

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# What a customer may wait for "Talk to a person" while the broker is out: the publish bound
# (tickets.services.PUBLISH_TIMEOUT_SECONDS = 1 s) plus the request itself.
ANSWER_BOUND_SECONDS = 2.0
ESCALATIONS_QUEUE = "escalations"  # settings.CELERY_TASK_ROUTES: tickets.tasks.escalate_*


# --- processes -------------------------------------------------------------------------------


def fault_env(tmp_path: Path, broker_url: str, *, sweeping: bool = False) -> dict[str, str]:
    """The environment of every process of a test: its database, its broker, no e-mail."""
    overrides = {
        "DATABASE_URL": processes.test_database_url(),
        "CELERY_BROKER_URL": broker_url,
        "EMAIL_URL": "dummy://",
    }
    if sweeping:
        # Sweep every second, for every escalation without a ticket, however recent.
        overrides |= {"ESCALATION_SWEEP_INTERVAL": "1", "ESCALATION_SWEEP_AGE": "0"}
    return process_env(tmp_path, **overrides)


def beat_args() -> list[str]:
    return celery("beat", "--loglevel=INFO")


def one_more_sweep(broker: PrivateRedis, log: Path) -> None:
    """Wait until the sweeper has run once more since now and the broker holds no escalation,
    queued or unacknowledged: a duplicate ticket would exist by then."""

    def sweeps() -> int:
        text = log.read_text(errors="replace")
        return sum(
            1
            for line in text.splitlines()
            if "tickets.tasks.sweep_escalations[" in line and " succeeded " in line
        )

    before = sweeps()
    wait_for(
        lambda: (
            sweeps() > before
            and broker.queue_length(ESCALATIONS_QUEUE) == 0
            and not broker.unacked()
        ),
        timeout=30, what="one more sweep and nothing left to deliver", log=log,
    )  # fmt: skip


def publish_escalations(env: dict[str, str], attempt_ids: list[int]) -> None:
    """Send escalate_attempt for each attempt from another process, on env's broker."""
    code = (
        "from tickets.tasks import escalate_attempt\n"
        f"for attempt_id in {attempt_ids!r}:\n"
        "    escalate_attempt.apply_async(args=[attempt_id])\n"
    )
    result = manage("shell", "-c", code, env=env, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]


def pool_children(pid: int) -> list[int]:
    listed = subprocess.run(
        ["ps", "--ppid", str(pid), "-o", "pid="], capture_output=True, text=True, check=False
    )
    return [int(line) for line in listed.stdout.split()]


@contextmanager
def ticket_writes_held() -> Iterator[None]:
    """Hold back every ticket insert, so the worker's current tasks stay in flight.

    SQLite: an IMMEDIATE transaction holds the write lock; writers wait (20 s busy timeout).
    PostgreSQL: SHARE ROW EXCLUSIVE on the ticket table blocks inserts, not reads.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {Ticket._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
        yield


# --- customers -------------------------------------------------------------------------------


def escalated_attempts(guide: Guide, count: int) -> dict[int, list[tuple[int, str, str]]]:
    """``count`` attempts that tried one or two steps, then asked for a person; returns each
    attempt's id with the history its ticket must carry."""
    steps = list(guide.steps.order_by("position"))
    histories: dict[int, list[tuple[int, str, str]]] = {}
    for number in range(count):
        attempt, _ = guide_services.attempt_start(guide=guide)
        tried = [(steps[0], StepOutcome.Outcome.DID_NOT_WORK, f"customer {number}: declined")]
        if number % 2:
            tried.append((steps[1], StepOutcome.Outcome.COULD_NOT_DO, ""))
        for step, outcome, note in tried:
            guide_services.step_outcome_record(
                attempt=attempt, step_id=step.pk, outcome=outcome, note=note
            )
        guide_services.attempt_contact_submit(
            attempt=attempt, description=f"Card still refused ({number})",
            email=f"customer{number}@example.com",
        )  # fmt: skip
        histories[attempt.pk] = [
            (step.position, str(outcome), note) for step, outcome, note in tried
        ]
    return histories


def api_post(url: str, body: dict | None = None, *, token: str = "") -> tuple[int, dict, float]:
    """POST JSON; returns the status, the JSON answer and how long the answer took."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["X-Attempt-Token"] = token
    request = urllib.request.Request(
        url, data=json.dumps(body or {}).encode(), headers=headers, method="POST"
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, payload = error.code, error.read()
    return status, json.loads(payload or b"{}"), time.monotonic() - started


def api_get(url: str, *, token: str) -> dict:
    request = urllib.request.Request(url, headers={"X-Attempt-Token": token})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def escalate_over_http(base_url: str, guide: Guide, number: int) -> tuple[str, int, float]:
    """A customer starts an attempt, says step 1 did not work and asks for a person; returns
    the attempt's token with the status and duration of the contact request."""
    status, started, _ = api_post(f"{base_url}/api/v1/guides/{guide.pk}/attempts/")
    assert status == 201, started
    token = started["token"]
    step = guide.steps.order_by("position")[0]
    status, body, _ = api_post(
        f"{base_url}/api/v1/attempt/outcomes/",
        {"step": step.pk, "outcome": "did_not_work", "note": "declined"}, token=token,
    )  # fmt: skip
    assert status == 201, body
    status, body, elapsed = api_post(
        f"{base_url}/api/v1/attempt/contact/",
        {"description": f"Still refused ({number})", "email": f"c{number}@example.com"},
        token=token,
    )  # fmt: skip
    return token, status, elapsed


# --- checks ----------------------------------------------------------------------------------


def wait_for_tickets(count: int, *, log: Path, timeout: float = 60) -> float:
    started = time.monotonic()
    wait_for(
        lambda: Ticket.objects.count() >= count, timeout=timeout, what=f"{count} tickets", log=log
    )
    return time.monotonic() - started


def assert_one_ticket_per_attempt(attempt_ids: set[int]) -> None:
    assert Ticket.objects.count() == len(attempt_ids)
    assert set(Ticket.objects.values_list("attempt_id", flat=True)) == attempt_ids
    created = Counter(
        TicketEvent.objects.filter(kind=TicketEvent.Kind.CREATED).values_list(
            "ticket_id", flat=True
        )
    )
    assert set(created.values()) == {1}, created


def unacked_tasks(broker: PrivateRedis) -> list[tuple[str, list]]:
    """(task name, args) of the messages a worker took and has not acknowledged."""
    tasks = []
    for raw in broker.unacked().values():
        message, _exchange, _routing_key = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        tasks.append((message["headers"]["task"], args))
    return sorted(tasks)


def unacked_attempt_ids(broker: PrivateRedis) -> list[int]:
    return sorted(
        args[0] for task, args in unacked_tasks(broker) if task == "tickets.tasks.escalate_attempt"
    )


def wait_for_escalations_done(broker: PrivateRedis, *, log: Path, timeout: float = 30) -> None:
    """Wait, before stopping the workers, until no escalation is queued or running.

    The last ticket is committed before its task is acknowledged (acks_late); stopping the
    worker in between kills that task, and reject_on_worker_lost puts its message back, so a
    queue checked after the stop would hold a message the worker had in fact finished."""
    wait_for(
        lambda: broker.queue_length(ESCALATIONS_QUEUE) == 0 and not unacked_attempt_ids(broker),
        timeout=timeout, what="no escalation queued or in flight", log=log,
    )  # fmt: skip


# --- 1. the broker is out while customers escalate -------------------------------------------


@pytest.mark.parametrize("outage", ["stopped", "silent"])
def test_it_answers_escalations_during_a_broker_outage_and_tickets_follow_its_return(
    guide_with_steps, tmp_path, outage
):
    """stopped: nothing listens on the broker's port (connection refused).
    silent: the port accepts connections and never answers; the broker comes back elsewhere."""
    with ExitStack() as stack:
        broker = stack.enter_context(private_redis(tmp_path / "redis", started=False))
        if outage == "stopped":
            web_broker_url = broker.url
        else:
            listener = stack.enter_context(silent_listener())
            web_broker_url = listener.url
        web = stack.enter_context(
            web_server(fault_env(tmp_path, web_broker_url), tmp_path / "web.log")
        )

        answers = [escalate_over_http(web, guide_with_steps, number) for number in range(20)]
        durations = [elapsed for _token, _status, elapsed in answers]
        print(
            f"\n[{outage}] 20 contact requests: statuses {Counter(s for _, s, _ in answers)}, "
            f"slowest {max(durations):.2f}s, mean {sum(durations) / 20:.2f}s"
            + (
                f", silent port accepted {listener.accepted} connections"
                if outage == "silent"
                else ""
            )
        )
        unsent = (tmp_path / "web.log").read_text(errors="replace").count("the sweeper will")
        print(f"[{outage}] the web server logged {unsent} escalations as not sent")
        assert [status for _token, status, _elapsed in answers] == [202] * 20
        assert max(durations) < ANSWER_BOUND_SECONDS, durations
        escalated = set(
            Attempt.objects.filter(
                status=Attempt.Status.ESCALATED, escalation_requested_at__isnull=False
            ).values_list("pk", flat=True)
        )
        assert len(escalated) == 20
        assert not Ticket.objects.exists()

        broker.start()
        env = fault_env(tmp_path, broker.url, sweeping=True)
        log = tmp_path / "worker.log"
        back = time.monotonic()
        stack.enter_context(running(worker_args(), env, log))
        stack.enter_context(running(beat_args(), env, tmp_path / "beat.log"))
        wait_for_tickets(20, log=log)
        took = time.monotonic() - back
        one_more_sweep(broker, log)  # a duplicate would appear now
        print(f"[{outage}] broker back: 20 tickets {took:.1f}s after worker and beat started")
        # The customers see their ticket's reference when they poll their attempt.
        references = [
            api_get(f"{web}/api/v1/attempt/", token=token)["ticket"] for token, *_ in answers
        ]
        assert all(references), references
    assert_one_ticket_per_attempt(escalated)


# --- 2. the broker restarts and forgets its queues -------------------------------------------


def test_it_turns_escalations_lost_in_a_broker_restart_into_tickets(guide_with_steps, tmp_path):
    histories = escalated_attempts(guide_with_steps, 10)
    with private_redis(tmp_path / "redis") as broker:
        publish_escalations(fault_env(tmp_path, broker.url), list(histories))
        queued = broker.queue_length(ESCALATIONS_QUEUE)
        broker.restart()  # --save "" --appendonly no: the queue is gone
        after_restart = broker.queue_length(ESCALATIONS_QUEUE)
        print(f"\n{queued} escalations queued, {after_restart} left after the restart")
        assert (queued, after_restart) == (10, 0)

        env = fault_env(tmp_path, broker.url, sweeping=True)
        log = tmp_path / "worker.log"
        with running(worker_args(), env, log), running(beat_args(), env, tmp_path / "beat.log"):
            took = wait_for_tickets(10, log=log)
            one_more_sweep(broker, log)
        print(f"10 tickets by the sweeper in {took:.1f}s")
    assert_one_ticket_per_attempt(set(histories))


# --- 3. the worker is killed mid-way ---------------------------------------------------------


@pytest.mark.parametrize("crash", ["pool-children", "worker-group"])
def test_it_makes_exactly_one_ticket_per_escalation_when_the_worker_is_killed(
    guide_with_steps, tmp_path, crash
):
    """The 30 escalations are claimed as one batch, whose tickets the test holds back.
    pool-children: SIGKILL the prefork children; the worker re-queues their tasks
    (acks_late + reject_on_worker_lost) and finishes alone, without the sweeper: the batch's
    escalations, counted as tried once, one at a time.
    worker-group: SIGKILL the whole worker; its unacknowledged messages stay in Redis until the
    visibility timeout (an hour), so a new worker plus the sweeper finish the job."""
    histories = escalated_attempts(guide_with_steps, 30)
    with private_redis(tmp_path / "redis") as broker:
        env = fault_env(tmp_path, broker.url)
        log = tmp_path / "worker.log"
        with running(worker_args("--concurrency=2"), env, log) as worker:
            worker_ready(log)
            with ticket_writes_held():
                publish_escalations(env, list(histories))
                # One task holds the batch and waits on the database; on PostgreSQL the other
                # messages find nothing left to claim and are done, on SQLite (one writer at
                # a time) the second pool process waits too.
                wait_for(
                    lambda: len(broker.unacked()) == 2
                    or (broker.unacked() and broker.queue_length(ESCALATIONS_QUEUE) == 0),
                    timeout=20, what="the batch in flight", log=log,
                )  # fmt: skip
                in_flight_tasks = unacked_tasks(broker)
                tickets_at_kill = Ticket.objects.count()
                if crash == "pool-children":
                    children = pool_children(worker.pid)
                    assert children, "the worker has no pool processes"
                    for child in children:
                        os.kill(child, signal.SIGKILL)
                else:
                    children = [worker.pid, *pool_children(worker.pid)]
                    os.killpg(worker.pid, signal.SIGKILL)
                    worker.wait(timeout=10)
            print(
                f"\n[{crash}] killed {len(children)} process(es) with {tickets_at_kill}/30 tickets"
                f" made; in flight: {in_flight_tasks}"
            )
            if crash == "pool-children":
                took = wait_for_tickets(30, log=log)
                lost = log.read_text(errors="replace").count(
                    "Task handler raised error: WorkerLost"
                )
                print(
                    f"[{crash}] {lost} task(s) lost with their process and re-queued; the"
                    f" surviving worker made the rest in {took:.1f}s"
                )
                assert lost >= 1
                wait_for_escalations_done(broker, log=log)

        if crash == "worker-group":
            sweep_env = fault_env(tmp_path, broker.url, sweeping=True)
            # Short limits, so Redis gives back what the dead worker held within the test
            # (in production: an hour, above every task's time limit).
            sweep_env |= {
                "CELERY_TASK_SOFT_TIME_LIMIT": "4",
                "CELERY_TASK_TIME_LIMIT": "5",
                "CELERY_BROKER_VISIBILITY_TIMEOUT": "8",
            }
            log = tmp_path / "worker-restarted.log"
            with (
                running(worker_args("--concurrency=2"), sweep_env, log),
                running(beat_args(), sweep_env, tmp_path / "beat.log"),
            ):
                took = wait_for_tickets(30, log=log)
                print(f"[{crash}] restarted worker + sweeper made the rest in {took:.1f}s")
                # Past the visibility timeout the restarted worker takes back the messages
                # the dead one held and runs them: no-ops, their tickets exist.
                restored = time.monotonic()
                wait_for(
                    lambda: not broker.unacked(), timeout=60,
                    what="the dead worker's messages to be re-delivered", log=log,
                )  # fmt: skip
                print(f"[{crash}] unacked empty {time.monotonic() - restored:.1f}s later")
                wait_for_escalations_done(broker, log=log)

        # The workers are stopped: nothing they finished may have come back to the queue.
        assert broker.queue_length(ESCALATIONS_QUEUE) == 0
        left_unacked = unacked_attempt_ids(broker)
        print(
            f"[{crash}] at the end: LLEN {ESCALATIONS_QUEUE}=0, unacked messages "
            f"{unacked_tasks(broker)}"
        )
        assert left_unacked == []

    assert_one_ticket_per_attempt(set(histories))
    for ticket in Ticket.objects.all():
        tried = [(s["position"], s["outcome"], s["note"]) for s in ticket.tried_steps]
        assert tried == histories[ticket.attempt_id], ticket.reference


# --- 4. many workers, few agents -------------------------------------------------------------


def test_it_never_puts_an_agent_over_capacity_under_concurrent_escalations(
    guide_with_steps, tmp_path
):
    if connection.vendor != "postgresql":
        pytest.skip(
            "concurrent assignment is a PostgreSQL property: SQLite serialises every writer, "
            "so 12 racing workers prove nothing there"
        )
    billing = Queue.objects.create(name="Billing", slug="billing", languages=["en"])
    Queue.objects.create(name="General", slug="general", is_fallback=True)
    RoutingRule.objects.create(
        position=10, name="Payments", tag=Tag.objects.get(slug="payment"), queue=billing
    )
    agents = [
        AgentProfile.objects.create(
            user=UserFactory.create(username=f"agent{number}"), languages=["en"], capacity=10
        )
        for number in range(5)
    ]
    billing.members.add(*agents)
    histories = escalated_attempts(guide_with_steps, 200)

    with private_redis(tmp_path / "redis") as broker, ExitStack() as workers:
        env = fault_env(tmp_path, broker.url)
        logs = [tmp_path / f"worker{number}.log" for number in range(3)]
        for number, log in enumerate(logs):
            workers.enter_context(
                running(worker_args("--concurrency=4", f"--hostname=w{number}@%h"), env, log)
            )
        for log in logs:
            worker_ready(log)
        started = time.monotonic()
        publish_escalations(env, list(histories))
        wait_for_tickets(200, log=logs[0], timeout=120)
        took = time.monotonic() - started
        wait_for_escalations_done(broker, log=logs[0])
        workers.close()
        left = broker.queue_length(ESCALATIONS_QUEUE)

    per_assignee = dict(
        Ticket.objects.filter(assignee__isnull=False)
        .values_list("assignee_id")
        .annotate(n=Count("pk"))
        .values_list("assignee_id", "n")
    )
    open_counts = dict(AgentProfile.objects.values_list("pk", "open_tickets"))
    log_text = "\n".join(log.read_text(errors="replace") for log in logs)
    print(
        f"\n200 escalations on 3 workers x 4 in {took:.1f}s; tickets per agent {per_assignee}, "
        f"open_tickets {open_counts}; unassigned "
        f"{Ticket.objects.filter(assignee__isnull=True).count()}; queue left {left}; "
        f"'deadlock' in logs {log_text.lower().count('deadlock')}, "
        f"retries {log_text.count('Retry in')}"
    )
    assert_one_ticket_per_attempt(set(histories))
    assert all(agent.open_tickets <= agent.capacity for agent in AgentProfile.objects.all())
    assert all(count <= 10 for count in per_assignee.values())
    assert per_assignee == open_counts
    assert Ticket.objects.filter(assignee__isnull=False).count() == 50
    assert Ticket.objects.filter(assignee__isnull=True).count() == 150
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.ASSIGNED).count() == 50
    assert set(Ticket.objects.values_list("queue_id", flat=True)) == {billing.pk}
    assert "deadlock" not in log_text.lower()
    assert left == 0
