"""Helpers the test modules share: Redis round trips, API clients for a persona, proxy
settings, a ticket made the way customers make them, the guide pages' URLs and visitors, the
ticket changelist.

Test modules import from here (and from tests.factories, tests.personas, tests.processes,
tests.brokers), never from one another.
"""

from __future__ import annotations

import ast
import contextlib
import datetime
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import redis
from django.core.cache import cache
from django.db import connection
from django.test import Client, RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from guides import services as guide_services
from guides.models import Guide
from guides.visitors import VISITOR_COOKIE, Visitor, visitor_of
from tests.factories import GuideFactory, StepFactory, token_for
from tickets import services as ticket_services
from tickets.models import AgentProfile, Ticket

# --- the cache -------------------------------------------------------------------------------


def skip_unless_redis_cache() -> None:
    """Skip a test that counts Redis round trips where the cache is not Redis."""
    from django.conf import settings

    if "redis" not in settings.CACHES["default"]["BACKEND"].lower():
        pytest.skip("counts Redis round trips: runs with REDIS_URL set (the default is files)")


@contextlib.contextmanager
def redis_round_trips() -> Iterator[list[str]]:
    """Each command or pipeline sent to Redis takes one connection from a pool: counting the
    check-outs counts the round trips, whichever client sends them. Yields where each came
    from (the project's frame that asked)."""
    taken: list[str] = []
    original = redis.ConnectionPool.get_connection

    def get_connection(pool, *args, **kwargs):
        taken.append(_project_caller())
        return original(pool, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(redis.ConnectionPool, "get_connection", get_connection)
        yield taken


def cache_empty() -> None:
    """Empty this test process's cache: on Redis, its own keys only. Django's cache.clear() is
    a FLUSHDB there, which would also take the keys of every other xdist worker sharing the
    database (a warm page's token, a budget) and, where the broker shares it, their queues."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        backend.clear()
        return
    client = backend._cache.get_client(None, write=True)
    keys = list(client.scan_iter(match=backend.make_key("*"), count=1000))
    if keys:
        client.delete(*keys)


def _project_caller() -> str:
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not any(part in frame.filename for part in ("site-packages", "/tests/", "cache.py")):
            return f"{frame.filename.rsplit('/', 2)[-2]}/{frame.name}:{frame.lineno}"
    return "?"


# --- the API ---------------------------------------------------------------------------------


def client_for(user, *, scheme: str = "Token") -> APIClient:
    """An API client that sends a fresh token of the user's (an agent profile: its user's)."""
    if isinstance(user, AgentProfile):
        user = user.user
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {token_for(user)}")
    return client


def throttle_forget(key: str, rate: str) -> None:
    """Forget what a client has counted this window against a throttle (``key``, as DRF's
    get_cache_key names it, at ``rate``): the cache outlives a test (and, on Redis, a run).
    helpdesk.api.throttling keys each window's counter by the window's number."""
    duration = {"s": 1, "m": 60, "h": 3600, "d": 86400}[rate.split("/")[1][0]]  # as DRF reads it
    cache.delete(f"{key}:{int(time.time() // duration)}")


# --- HTTP ------------------------------------------------------------------------------------


def trust_proxies(settings, count: int) -> None:
    """As TRUSTED_PROXY_COUNT would at start-up (DRF reloads its settings when they change)."""
    settings.TRUSTED_PROXY_COUNT = count
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": count}


# --- guides ----------------------------------------------------------------------------------


def guide_url(name: str, guide: Guide, **extra: object) -> str:
    """The URL of one of a guide's pages (``guides:<name>``), with extra URL arguments."""
    kwargs = {"company": guide.company.slug, "language": guide.language, "slug": guide.slug}
    return reverse(f"guides:{name}", kwargs={**kwargs, **extra})


def visitor_of_client(client: Client) -> Visitor:
    """The visitor a test client's signed cookie names, read as the guide pages read it."""
    request = RequestFactory().get("/")
    request.COOKIES[VISITOR_COOKIE] = client.cookies[VISITOR_COOKIE].value
    return visitor_of(request)


# --- tickets ---------------------------------------------------------------------------------

# Per language: the guide's title, its steps and what the customer did at each.
STORIES = {
    "en": {
        "title": "I can't change my payment card",
        "steps": [
            ("Check the card's expiry date", "did_not_work", "It says <declined> & nothing else"),
            ("Try another card", "could_not_do", ""),
        ],
        "description": "Both cards are refused.",
    },
    "ar": {
        "title": "لا أستطيع تغيير بطاقة الدفع",
        "steps": [
            ("تحقّق من تاريخ انتهاء البطاقة", "did_not_work", "تظهر رسالة: البطاقة مرفوضة"),
            ("جرّب بطاقة أخرى", "could_not_do", ""),
        ],
        "description": "البطاقتان مرفوضتان.",
    },
}


def ticket_escalated(
    *, language: str = "en", name: str = "Sam", email: str = "sam@customer.example"
) -> Ticket:
    """A ticket the customer's real path makes (a guide, an attempt, step outcomes, "talk to a
    person", the escalation task's service), so tests see the tickets customers produce."""
    story = STORIES[language]
    guide = GuideFactory(language=language, title=story["title"])
    attempt, _ = guide_services.attempt_start(guide=guide)
    for position, (title, outcome, note) in enumerate(story["steps"], start=1):
        step = StepFactory(guide=guide, position=position, title=title)
        guide_services.step_outcome_record(
            attempt=attempt, step_id=step.pk, outcome=outcome, note=note
        )
    guide_services.attempt_contact_submit(
        attempt=attempt, description=story["description"], name=name, email=email
    )
    ticket = ticket_services.ticket_create_from_attempt(attempt_id=attempt.pk)
    assert ticket is not None
    return ticket


# --- the ticket admin ------------------------------------------------------------------------

CHANGELIST = reverse("admin:tickets_ticket_changelist")


def listed(client: Client, **params) -> list[str]:
    """The references the ticket changelist shows the logged-in client, for these filters."""
    response = client.get(CHANGELIST, params)
    assert response.status_code == 200
    return [ticket.reference for ticket in response.context["cl"].result_list]


# --- races -----------------------------------------------------------------------------------


def skip_unless_row_locks() -> None:
    """Skip a race test where the database has no row locks to race for."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "a row-lock race is a PostgreSQL property; SQLite's IMMEDIATE transactions run "
            "one writer at a time, so threads prove nothing there"
        )


def at_once(*calls: Callable[[], object], timeout: float = 60) -> list[BaseException]:
    """Run the calls in threads released together by a barrier, each on its own database
    connection (closed after); returns what they raised, so a failure is not lost in a thread."""
    start = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        try:
            start.wait(timeout=30)
            call()
        except BaseException as error:  # surfaced by the caller
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return errors


# --- the code itself -------------------------------------------------------------------------


def imported_names(source: str) -> list[tuple[int, str]]:
    """What each absolute import of ``source`` reaches, dotted, with its line: ``import a.b``
    gives a.b, ``from a import b, c`` gives a.b and a.c (b may be a module or a name in a).
    Read with ast, at any depth (inside functions too); comments and strings do not count."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


# --- statistics --------------------------------------------------------------------------------

STORY_DAY_1 = datetime.date(2026, 11, 2)
STORY_DAY_2 = datetime.date(2026, 11, 3)


def at(day: datetime.date, hour: int, seconds: float = 0) -> datetime.datetime:
    """An instant ``seconds`` after ``hour`` o'clock UTC on ``day``."""
    start = datetime.datetime.combine(day, datetime.time(hour), tzinfo=datetime.UTC)
    return start + datetime.timedelta(seconds=seconds)


@dataclass
class StatisticsStory:
    guide: Guide
    steps: list  # S1 (procedure), S2, S3 (alternatives), S4 (last resort)
    version: object
    attempts: dict  # A1 … A7, see statistics_story
    ticket: Ticket


def statistics_story(*, company=None) -> StatisticsStory:
    """The constructed data set whose statistics the tests work out by hand.

    An English guide with steps S1 (procedure), S2 and S3 (alternatives), S4 (last resort), in
    one version. On day 1 (2026-11-02, UTC):
      A1 order S1 S3 S2 S4, 10:00: S1 did not work at +30 s ("Error 42 on the card page"),
         S3 worked at +90 s → resolved.
      A2 order S1 S2 S3 S4, 11:00: S1 did not work at +20 s, S2 could not do at +40 s
         ("No such button"), S2 worked at +100 s (the current outcome) → resolved.
      A3 no order (the version's steps), 12:00: S1 skipped at +8 s → abandoned.
      A4 order S1 S2 S3 S4, 13:00: S1 did not work at +400 s ("error 42 again"), S2 did not
         work at +1000 s → escalated at +1100 s; its ticket was solved 7,200 s after that and
         reopened once.
      A5 without a version (an old attempt): S1 worked at +5 s; not counted.
    On day 2 (2026-11-03):
      A6 order S1 S2 S3 S4, 09:00: S1 worked at +15 s → resolved.
      A7 order S1 S2 S3 S4, 09:30: nothing yet, in progress.
    """
    from guides.models import Attempt, Step
    from tests.factories import (
        AttemptFactory,
        GuideVersionFactory,
        StepOutcomeFactory,
        TicketFactory,
    )
    from tickets.models import TicketEvent

    guide = GuideFactory(**({"company": company} if company else {}))
    kinds = [Step.Kind.PROCEDURE, Step.Kind.ALTERNATIVE, Step.Kind.ALTERNATIVE]
    kinds.append(Step.Kind.LAST_RESORT)
    steps = [
        StepFactory(guide=guide, position=n, kind=kind, title=f"Step {n} of the story")
        for n, kind in enumerate(kinds, start=1)
    ]
    s1, s2, s3, s4 = steps
    version = GuideVersionFactory(guide=guide)
    plain = [s1.pk, s2.pk, s3.pk, s4.pk]

    def attempt(name, day, hour, *, order, status, outcomes, versioned=True, minutes=0):
        started = at(day, hour, minutes * 60)
        last = started + datetime.timedelta(seconds=max([o[2] for o in outcomes] or [0]))
        finished = None if status == Attempt.Status.IN_PROGRESS else last
        made = AttemptFactory(
            guide=guide, language="en", status=status, started_at=started, updated_at=last,
            finished_at=finished, guide_version=version if versioned else None,
            step_order=order, description="", escalation_requested_at=None,
            contact_email="",
        )  # fmt: skip
        for step, outcome, seconds, note in outcomes:
            StepOutcomeFactory(
                attempt=made, step=step, outcome=outcome, note=note,
                recorded_at=started + datetime.timedelta(seconds=seconds),
            )  # fmt: skip
        attempts[name] = made
        return made

    attempts: dict = {}
    dnw, cnd, worked, skipped = "did_not_work", "could_not_do", "worked", "skipped"
    resolved, abandoned = Attempt.Status.RESOLVED, Attempt.Status.ABANDONED
    attempt(
        "A1",
        STORY_DAY_1,
        10,
        order=[s1.pk, s3.pk, s2.pk, s4.pk],
        status=resolved,
        outcomes=[(s1, dnw, 30, "Error 42 on the card page"), (s3, worked, 90, "")],
    )
    attempt(
        "A2",
        STORY_DAY_1,
        11,
        order=plain,
        status=resolved,
        outcomes=[(s1, dnw, 20, ""), (s2, cnd, 40, "No such button"), (s2, worked, 100, "")],
    )
    attempt("A3", STORY_DAY_1, 12, order=[], status=abandoned, outcomes=[(s1, skipped, 8, "")])
    a4 = attempt(
        "A4",
        STORY_DAY_1,
        13,
        order=plain,
        status=Attempt.Status.ESCALATED,
        outcomes=[(s1, dnw, 400, "error 42 again"), (s2, dnw, 1000, "")],
    )
    attempt(
        "A5",
        STORY_DAY_1,
        14,
        order=plain,
        status=resolved,
        outcomes=[(s1, worked, 5, "")],
        versioned=False,
    )
    attempt("A6", STORY_DAY_2, 9, order=plain, status=resolved, outcomes=[(s1, worked, 15, "")])
    attempt("A7", STORY_DAY_2, 9, order=plain, status=Attempt.Status.IN_PROGRESS, outcomes=[],
            minutes=30)  # fmt: skip

    escalated_at = at(STORY_DAY_1, 13, 1100)
    Attempt.objects.filter(pk=a4.pk).update(
        escalation_requested_at=escalated_at, finished_at=escalated_at, updated_at=escalated_at,
        description="Still stuck.",
    )  # fmt: skip
    solved_at = escalated_at + datetime.timedelta(seconds=7200)
    ticket = TicketFactory(
        attempt=a4, status="solved", created_at=escalated_at + datetime.timedelta(seconds=5),
        updated_at=solved_at, solved_at=solved_at,
    )  # fmt: skip
    TicketEvent.objects.create(
        ticket=ticket, kind=TicketEvent.Kind.STATUS_CHANGED,
        change={"from": "solved", "to": "open", "reopened": True},
        created_at=escalated_at + datetime.timedelta(seconds=3600),
    )  # fmt: skip
    for made in attempts.values():
        made.refresh_from_db()
    return StatisticsStory(guide=guide, steps=steps, version=version, attempts=attempts,
                           ticket=ticket)  # fmt: skip


# --- attachments -----------------------------------------------------------------------------


def png_bytes(width: int = 4, height: int = 3) -> bytes:
    """A real PNG image (a grey rectangle), small enough to upload in any test."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
