"""Benchmark of the agent workspace on a big PostgreSQL database (see bench/README.md).

    DATABASE_URL=postgres://…/helpdesk_bench .venv/bin/python bench/workspace.py [--explain]

Measures, in this process and with the project's own settings (DEBUG off, as in production):

- the admin ticket changelist (the default work list and some filters), as an agent and as a
  supervisor, through Django's test Client;
- claim next under concurrent agents: N processes (or threads), each with its own database
  connection, each calling tickets.services.ticket_claim_next for its own agent, all at once
  each round ("burst") or as fast as each can ("loop"), committing like production;
  then every claimed ticket, its event and the agents' counters are put back as they were;
- the ticket list API page, with an API token.

For each: median, p95, p99 and max in milliseconds, and the SQL queries one request runs.
Needs the data of `manage.py generate_tickets` (its gen.* users).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
# Production-like settings: DEBUG off (no query log, no debug renderers). A throw-away key,
# since nothing here is signed for anyone else.
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret-" + "x" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
# One user sends thousands of requests in a minute here; the per-user throttle would answer
# 429 after the first 3,000.
os.environ.setdefault("API_USER_RATE", "100000000/minute")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import F  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from tickets import services  # noqa: E402
from tickets.models import (  # noqa: E402
    OPEN_TICKET_STATUSES,
    AgentProfile,
    ApiToken,
    Queue,
    Ticket,
    TicketEvent,
    api_token_key_hash,
)
from tickets.selectors import claimable_tickets  # noqa: E402

# Without collectstatic there is no manifest of hashed static names; the pages would fail on
# the first {% static %}. Serving static files is not what is measured.
override_settings(
    STORAGES={
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
).enable()

AGENT_PREFIX = "gen.agent"
SUPERVISOR = "gen.supervisor"


@dataclass
class Result:
    name: str
    timings: list[float]  # seconds
    queries: int | None = None
    note: str = ""

    def row(self) -> str:
        ms = sorted(t * 1000 for t in self.timings)
        if len(ms) >= 2:
            cuts = statistics.quantiles(ms, n=100, method="inclusive")
            p95, p99 = cuts[94], cuts[98]
        else:
            p95 = p99 = ms[0]
        queries = "" if self.queries is None else str(self.queries)
        return (
            f"| {self.name} | {len(ms)} | {statistics.median(ms):.1f} | {p95:.1f} | {p99:.1f}"
            f" | {ms[-1]:.1f} | {queries} | {self.note} |"
        )


HEADER = (
    "| case | runs | median ms | p95 ms | p99 ms | max ms | queries | note |\n"
    "|---|---:|---:|---:|---:|---:|---:|---|"
)


def _slowest_select(captured: CaptureQueriesContext) -> str | None:
    selects = [
        q for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")
    ]
    if not selects:
        return None
    return max(selects, key=lambda q: float(q["time"]))["sql"]


def explain(sql: str) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)  # EXPLAIN ANALYZE runs the statement (and its locks)
    return plan


def measure_requests(
    name: str, client: Client, url: str, *, repeat: int, warmup: int, explain_plans: list | None
) -> Result:
    for _ in range(warmup):
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{name}: GET {url} answered {response.status_code}")
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    # Counted on one more request: capturing queries costs time, so not while timing.
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    if explain_plans is not None:
        sql = _slowest_select(captured)
        if sql:
            explain_plans.append((name, sql))
    return Result(name, timings, queries=len(captured.captured_queries))


# --- a) the admin changelist -------------------------------------------------------------------


def bench_changelist(
    agent: AgentProfile, supervisor, *, repeat: int, warmup: int, plans: list | None
) -> list[Result]:
    url = reverse("admin:tickets_ticket_changelist")
    agent_queue = Queue.objects.filter(members=agent).order_by("pk").first()
    busiest_queue = (
        Queue.objects.filter(slug="billing-en").first() or Queue.objects.order_by("pk").first()
    )
    assert agent_queue is not None and busiest_queue is not None
    cases = [
        ("work list (default)", ""),
        ("status = open", "?status__exact=open"),
        ("queue = {queue}", "?queue={queue_id}"),
        ("assignee = me", "?assignee=me"),
        ("SLA = breached", "?sla=breached"),
        ("search by e-mail", "?q={email}"),
    ]
    email = Ticket.objects.filter(queue=agent_queue).values_list("requester_email", flat=True)[0]
    results = []
    for who, user, queue in (
        ("agent", agent.user, agent_queue),
        ("supervisor", supervisor, busiest_queue),
    ):
        client = Client()
        client.force_login(user)
        for label, query in cases:
            results.append(
                measure_requests(
                    f"changelist, {who}: {label.format(queue=queue.slug)}",
                    client,
                    url + query.format(queue_id=queue.pk, email=email),
                    repeat=repeat,
                    warmup=warmup,
                    explain_plans=plans,
                )
            )
    # The supervisor's queue overview: grouped counts over every open ticket.
    client = Client()
    client.force_login(supervisor)
    results.append(
        measure_requests(
            "queue overview, supervisor",
            client,
            reverse("admin:tickets_ticket_overview"),
            repeat=repeat,
            warmup=warmup,
            explain_plans=plans,
        )
    )
    return results


# --- c) the ticket list API --------------------------------------------------------------------


def bench_api(agent: AgentProfile, supervisor, *, repeat: int, warmup: int, plans: list | None):
    url = "/api/v1/tickets/"
    cases = [
        ("first page", ""),
        ("status = open", "?status=open"),
        ("assignee = me", "?assignee=me"),
        ("SLA = breached", "?sla=breached"),
        ("queue = {queue}", "?queue={queue}"),
    ]
    results = []
    tokens = []
    try:
        for who, user in (("agent", agent.user), ("supervisor", supervisor)):
            key = ApiToken.key_new()
            tokens.append(
                ApiToken.objects.create(
                    user=user, name="benchmark", prefix=key[:8], key_hash=api_token_key_hash(key)
                )
            )
            client = Client(HTTP_AUTHORIZATION=f"Token {key}")
            queue = (
                Queue.objects.filter(members=agent).order_by("pk").first()
                if who == "agent"
                else None
            )
            slug = queue.slug if queue else "billing-en"
            for label, query in cases:
                results.append(
                    measure_requests(
                        f"ticket API, {who}: {label.format(queue=slug)}",
                        client,
                        url + query.format(queue=slug),
                        repeat=repeat,
                        warmup=warmup,
                        explain_plans=plans,
                    )
                )
    finally:
        ApiToken.objects.filter(pk__in=[t.pk for t in tokens]).delete()
    return results


# --- b) claim next under concurrent agents -------------------------------------------------------


def bench_claim_next(
    *, agents: int, claims: int, claimers: str = "processes", pattern: str = "burst"
) -> list[Result]:
    """``agents`` agents press "claim next" ``claims`` times each.

    ``pattern`` "burst": every round, all agents press at the same instant (a barrier), which
    is the moment the target is about; "loop": each presses again as soon as it has its
    ticket, which measures throughput (latency is then just the queue of 20 on 2 CPUs).
    ``claimers`` "processes": one OS process per agent, like web workers in production;
    "threads": threads of this process, which share one interpreter lock.
    """
    profiles = _claimers(agents)
    if len(profiles) < agents:
        raise SystemExit(f"only {len(profiles)} agents have tickets to claim; generate more data")
    waiting_before = dict(
        Ticket.objects.filter(assignee__isnull=True, status__in=OPEN_TICKET_STATUSES).values_list(
            "pk", "updated_at"
        )
    )
    saved = {
        p.pk: (p.open_tickets, p.capacity, p.last_assigned_at)
        for p in AgentProfile.objects.filter(pk__in=[p.pk for p in profiles])
    }
    # Room for every claim of the run: capacity is not what is measured.
    for profile in profiles:
        AgentProfile.objects.filter(pk=profile.pk).update(
            capacity=profile.open_tickets + claims + 1
        )
        profile.capacity = profile.open_tickets + claims + 1

    started_at = time.time()
    timings: list[list[float]] = [[] for _ in profiles]
    claimed: list[list[int]] = [[] for _ in profiles]
    try:
        wall = time.perf_counter()
        if claimers == "processes":
            _claim_in_processes(profiles, claims, pattern, timings, claimed)
        else:
            _claim_in_threads(profiles, claims, pattern, timings, claimed)
        wall = time.perf_counter() - wall
        all_claimed = [pk for mine in claimed for pk in mine]
        doubles = [pk for pk, n in Counter(all_claimed).items() if n > 1]
        assert not doubles, f"tickets claimed twice: {doubles[:10]}"
        # The database agrees: each claimed ticket belongs to the agent who got it.
        owners = dict(Ticket.objects.filter(pk__in=all_claimed).values_list("pk", "assignee_id"))
        for profile, mine in zip(profiles, claimed, strict=True):
            assert all(owners[pk] == profile.pk for pk in mine), "a claim went to someone else"
        over = AgentProfile.objects.filter(
            pk__in=[p.pk for p in profiles], open_tickets__gt=F("capacity")
        ).count()
        assert over == 0, "an agent went over capacity"
        flat = [t for mine in timings for t in mine]
        dry = [p for p, mine in zip(profiles, claimed, strict=True) if len(mine) < claims]
        # Counted for an agent that still had work: a claim that finds nothing runs fewer
        # queries and would understate the count.
        counted = next((p for p in profiles if p not in dry), None)
        queries = _claim_queries(counted) if counted is not None else None
        note = (
            f"{len(all_claimed)} claims in {wall:.2f} s = {len(all_claimed) / wall:,.0f}"
            f" claims/s; none claimed twice"
        )
        if dry:
            note += f"; {len(dry)} of {len(profiles)} agents ran out of tickets to claim"
        if not flat:
            raise SystemExit(f"claim next ({pattern}): no claim got a ticket; generate more data")
        return [
            Result(
                f"claim next, {len(profiles)} agents, {pattern}, {claimers}",
                flat,
                queries=queries,
                note=note,
            )
        ]
    finally:
        _claims_undo(claimed, waiting_before, saved, since=started_at)


def _claim_rounds(agent: AgentProfile, claims: int, wait_for_all) -> tuple[list[float], list[int]]:
    """One agent's claims; ``wait_for_all`` (a barrier's wait, or None) before each one.

    Only the claims that got a ticket are timed. An agent whose queues run dry stops claiming
    but, in a burst, still turns up at the barrier for the rounds left: leaving it would leave
    the others waiting for a party that never comes (their wait times out and breaks the
    barrier for everyone, the BrokenBarrierError of a run on 100k tickets).
    """
    agent = AgentProfile.objects.select_related("user").get(pk=agent.pk)
    # A request checks the permission once (the admin and API views do before calling the
    # service); load the user's permissions before the clock starts, as that request would.
    agent.user.has_perm("tickets.claim_ticket")
    timings: list[float] = []
    mine: list[int] = []
    dry = False
    for _ in range(claims):
        if wait_for_all is not None:
            wait_for_all()
        elif dry:
            break
        if dry:
            continue
        began = time.perf_counter()
        ticket = services.ticket_claim_next(agent=agent)
        elapsed = time.perf_counter() - began
        if ticket is None:
            dry = True
            continue
        timings.append(elapsed)
        mine.append(ticket.pk)
    return timings, mine


def _claim_in_processes(profiles, claims, pattern, timings, claimed) -> None:
    import multiprocessing

    from django.db import connections

    context = multiprocessing.get_context("fork")
    start = context.Barrier(len(profiles))
    results = context.Queue()
    connections.close_all()  # each child opens its own connection; none is shared by fork

    def child(index: int, agent: AgentProfile) -> None:
        try:
            Ticket.objects.exists()  # connect before the start line
            start.wait(timeout=60)
            wait = (lambda: start.wait(timeout=60)) if pattern == "burst" else None
            results.put((index, *_claim_rounds(agent, claims, wait), None))
        except BaseException as exc:  # reported by the parent
            # The others must not wait a minute for this one at the next round: they fail at
            # once with BrokenBarrierError, and the parent reports this error first.
            start.abort()
            results.put((index, [], [], repr(exc)))
        finally:
            connections.close_all()

    processes = [
        context.Process(target=child, args=(i, profile), name=f"claimer-{i}")
        for i, profile in enumerate(profiles)
    ]
    for process in processes:
        process.start()
    failures = []
    for _ in processes:
        index, mine_timings, mine, error = results.get(timeout=600)
        timings[index], claimed[index] = mine_timings, mine
        if error:
            failures.append(error)
    # The first error is the cause; the BrokenBarrierErrors it set off in the others follow.
    failures.sort(key=lambda error: "BrokenBarrierError" in error)
    for process in processes:
        process.join(timeout=60)
    if failures:
        raise RuntimeError(f"claimers failed: {failures[:3]}")


def _claim_in_threads(profiles, claims, pattern, timings, claimed) -> None:
    start = threading.Barrier(len(profiles))
    errors: list[BaseException] = []

    def work(index: int, agent: AgentProfile) -> None:
        try:
            Ticket.objects.exists()  # open this thread's connection before the start line
            start.wait()
            wait = start.wait if pattern == "burst" else None
            timings[index], claimed[index] = _claim_rounds(agent, claims, wait)
        except BaseException as exc:
            start.abort()  # the others stop waiting for this thread (see _claim_in_processes)
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=work, args=(i, profile), name=f"claimer-{i}")
        for i, profile in enumerate(profiles)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        errors.sort(key=lambda exc: isinstance(exc, threading.BrokenBarrierError))
        raise errors[0]


def _claimers(count: int) -> list[AgentProfile]:
    """Agents of the generated data with the most tickets to claim, one per thread."""
    candidates = list(
        AgentProfile.objects.filter(user__username__startswith=AGENT_PREFIX)
        .select_related("user")
        .order_by("pk")
    )
    with_work = [a for a in candidates if claimable_tickets(agent=a).exists()]
    return with_work[:count]


def _claim_queries(agent: AgentProfile) -> int:
    """The queries of one claim, counted inside a transaction that is rolled back."""
    with transaction.atomic():
        AgentProfile.objects.filter(pk=agent.pk).update(capacity=F("open_tickets") + 10)
        with CaptureQueriesContext(connection) as captured:
            services.ticket_claim_next(agent=agent)
        transaction.set_rollback(True)
    # Savepoints are the nested atomic() of the service inside ours; production has none.
    return sum(1 for q in captured.captured_queries if "SAVEPOINT" not in q["sql"])


def _claims_undo(claimed, waiting_before: dict, saved: dict, *, since: float) -> None:
    """Put the claimed tickets back in their queue, drop the claim events, restore the agents."""
    from datetime import UTC, datetime

    all_claimed = [pk for mine in claimed for pk in mine]
    with transaction.atomic():
        tickets = list(Ticket.objects.filter(pk__in=all_claimed).only("pk", "updated_at"))
        for ticket in tickets:
            ticket.assignee_id = None
            ticket.updated_at = waiting_before.get(ticket.pk, ticket.updated_at)
        Ticket.objects.bulk_update(tickets, ["assignee", "updated_at"], batch_size=500)
        TicketEvent.objects.filter(
            ticket_id__in=all_claimed,
            kind=TicketEvent.Kind.ASSIGNED,
            created_at__gte=datetime.fromtimestamp(since, UTC),
            body__startswith="Claimed by",
        ).delete()
        profiles = list(AgentProfile.objects.filter(pk__in=saved))
        for profile in profiles:
            profile.open_tickets, profile.capacity, profile.last_assigned_at = saved[profile.pk]
        AgentProfile.objects.bulk_update(
            profiles, ["open_tickets", "capacity", "last_assigned_at"], batch_size=500
        )


def claim_next_plan(agent: AgentProfile) -> str:
    """The plan of claim next's candidate query, as ticket_claim_next runs it on PostgreSQL."""
    from tickets.selectors import claim_next_candidate_params, claim_next_candidate_sql

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS) " + claim_next_candidate_sql(),
            claim_next_candidate_params(agent=agent),
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return plan


# --- the run -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=50, help="timed requests per case")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per case first")
    parser.add_argument("--agents", type=int, default=20, help="concurrent claimers")
    parser.add_argument("--claims", type=int, default=50, help="claims per agent")
    parser.add_argument(
        "--claimers", choices=["processes", "threads"], default="processes",
        help="one process per agent (like web workers) or threads of this process",
    )  # fmt: skip
    parser.add_argument(
        "--claim-pattern", choices=["burst", "loop"], action="append",
        help="burst: all agents press at once each round; loop: as fast as each can",
    )  # fmt: skip
    parser.add_argument(
        "--only", choices=["changelist", "claim", "api"], action="append", help="run only these"
    )
    parser.add_argument(
        "--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of main queries"
    )
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql":
        print("The benchmark runs on PostgreSQL (set DATABASE_URL); this is", connection.vendor)
        return 2
    parts = set(args.only or ["changelist", "claim", "api"])
    supervisor = get_user_model().objects.filter(username=SUPERVISOR).first()
    agents = AgentProfile.objects.filter(user__username__startswith=AGENT_PREFIX)
    # The busiest agent: the most open tickets of their own on the work list.
    agent = agents.select_related("user").order_by("-open_tickets", "pk").first()
    if supervisor is None or agent is None:
        print("No generated data here: run `manage.py generate_tickets --tickets …` first.")
        return 2

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0]
    tickets, events = Ticket.objects.count(), TicketEvent.objects.count()
    print(f"# {tickets:,} tickets, {events:,} events", flush=True)
    print(f"# {version.split(',')[0]}; agent {agent.user.username}"
          f" ({agent.open_tickets} open tickets); supervisor {SUPERVISOR}")  # fmt: skip
    plans: list | None = [] if args.explain else None

    # Each part's rows as soon as it ends, so that a long run (or one that fails in a later
    # part) still shows what it measured.
    def report(results: list[Result]) -> None:
        for result in results:
            print(result.row(), flush=True)

    print(HEADER, flush=True)
    if "changelist" in parts:
        report(
            bench_changelist(agent, supervisor, repeat=args.repeat, warmup=args.warmup, plans=plans)
        )
    if "claim" in parts:
        for pattern in args.claim_pattern or ["burst", "loop"]:
            report(
                bench_claim_next(
                    agents=args.agents, claims=args.claims, claimers=args.claimers, pattern=pattern
                )
            )
    if "api" in parts:
        report(bench_api(agent, supervisor, repeat=args.repeat, warmup=args.warmup, plans=plans))
    if plans is not None:
        for name, sql in plans:
            print(f"\n## {name}: the slowest query\n{sql}\n{explain(sql)}")
        print(f"\n## claim next: the candidate query\n{claim_next_plan(agent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
