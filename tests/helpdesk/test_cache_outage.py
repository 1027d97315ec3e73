"""The cache Redis goes away: requests are still answered, escalations still become tickets.

The cache holds nothing the service cannot do without (throttle counters, per-address
counters, pending guide views, the worker heartbeat), so helpdesk.cache.FailOpenRedisCache
answers "nothing cached" while its Redis is unreachable. These tests stop a Redis of their own
that serves as the cache; the database and the broker stay up.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from guides.models import Attempt, Guide
from helpdesk.cache import (
    CacheUnavailable,
    CircuitBreaker,
    FailOpenRedisCache,
    cache_outage_logged,
    cache_probe,
)
from helpdesk.health import HEARTBEAT_KEY
from helpdesk.tasks import heartbeat
from tests.brokers import PrivateRedis, private_redis, silent_listener
from tests.helpers import guide_url
from tests.processes import (
    configured_broker_env,
    process_env,
    running,
    test_database_url,
    wait_for,
    worker_args,
)
from tickets import services as ticket_services
from tickets.models import Ticket
from tickets.tasks import sweep_escalations

BACKEND = "helpdesk.cache.FailOpenRedisCache"
KEY_PREFIX = "helpdesk-cache-outage"
# Whose warnings count as noise during an outage (kombu's own chatter is not ours).
OUR_LOGGERS = {"helpdesk", "guides", "tickets", "django", "rest_framework"}


def cache_settings(url: str, **options: object) -> dict[str, object]:
    return {
        "BACKEND": BACKEND,
        "LOCATION": url,
        "KEY_PREFIX": KEY_PREFIX,
        "OPTIONS": {
            "socket_connect_timeout": 1,
            "socket_timeout": 1,
            "retry_interval": 1,
            **options,
        },
    }


# --- the breaker and the fail-open answers ---------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_fails_fast_during_the_back_off_then_lets_one_call_try():
    clock = Clock()
    breaker = CircuitBreaker("redis://cache", retry_interval=5, log_interval=60, clock=clock)
    breaker.before()  # closed: goes through
    breaker.failure(redis.exceptions.ConnectionError("refused"))
    assert breaker.is_open
    clock.now += 4.9
    with pytest.raises(CacheUnavailable):
        breaker.before()
    clock.now += 0.2
    breaker.before()  # the back-off is over: this call tries Redis again...
    with pytest.raises(CacheUnavailable):
        breaker.before()  # ... and the others keep failing fast while it does
    breaker.failure(redis.exceptions.TimeoutError("timed out"))
    clock.now += 5
    breaker.before()
    breaker.success()
    assert not breaker.is_open
    breaker.before()
    breaker.before()


def test_the_breaker_warns_once_per_interval_and_says_when_the_cache_is_back(caplog):
    clock = Clock()
    breaker = CircuitBreaker("redis://cache", retry_interval=1, log_interval=60, clock=clock)
    caplog.set_level(logging.INFO, logger="helpdesk.cache")
    for _ in range(30):  # a try every second for 30 s, each answered open with 9 more calls
        breaker.failure(redis.exceptions.ConnectionError("refused"))
        for _ in range(10):
            breaker.answered_open()
        clock.now += 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "0 call(s) answered so" in warnings[0].getMessage()
    clock.now += 30  # 60 s after the first warning
    breaker.failure(redis.exceptions.ConnectionError("refused"))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "300 call(s) answered so" in warnings[1].getMessage()
    breaker.success()
    back = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(back) == 1 and "reachable again; 300 call(s)" in back[0].getMessage()
    # A new outage warns at once again.
    breaker.failure(redis.exceptions.ConnectionError("refused"))
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 3


def test_every_operation_answers_nothing_cached_while_redis_refuses(tmp_path):
    with private_redis(tmp_path / "redis", started=False) as stopped:
        backend = FailOpenRedisCache(stopped.url, {"KEY_PREFIX": KEY_PREFIX})
        assert backend.get("k") is None
        assert backend.get("k", "default") == "default"
        assert backend.get_many(["k", "l"]) == {}
        assert backend.add("k", 1) is False
        assert backend.set("k", 1) is None
        assert backend.set_many({"k": 1, "l": 2}) == ["k", "l"]
        assert backend.touch("k") is False
        assert backend.delete("k") is False
        assert backend.delete_many(["k", "l"]) is None
        assert backend.has_key("k") is False
        assert backend.incr("k") == 1
        assert backend.incr("k", 5) == 5
        assert backend.decr("k") == -1
        assert backend.get_or_set("k", lambda: 7) == 7
        assert backend.clear() is None
        assert not backend.is_available()
        # Health checks see the truth.
        with pytest.raises(redis.exceptions.ConnectionError):
            backend.probe()

        # The same Redis comes back: the next call after the back-off finds it.
        stopped.start()
        backend.probe()  # a successful probe closes the breaker at once
        assert backend.is_available()
        backend.set("k", 41)
        assert backend.incr("k") == 42
        assert backend.get_many(["k", "l"]) == {"k": 42}
        # Errors that are not an outage are not hidden.
        stopped.client().set(f"{KEY_PREFIX}:1:text", "not a number")
        with pytest.raises(redis.exceptions.ResponseError):
            backend.incr("text")


def test_a_hanging_redis_costs_one_timeout_per_back_off_not_one_per_call():
    """A port that accepts connections and never answers: each try waits for its socket
    timeout; during the back-off no call even connects."""
    with silent_listener() as listener:
        backend = FailOpenRedisCache(
            listener.url,
            {
                "KEY_PREFIX": KEY_PREFIX,
                "OPTIONS": {"socket_timeout": 0.2, "retry_interval": 3600},
            },
        )
        for _ in range(50):
            assert backend.get("throttle") is None
            assert backend.add("limit", 1) is False
        assert listener.accepted == 1
        # The raw client the guide view counter uses is held back too.
        client = backend._cache.get_client("views", write=True)
        with pytest.raises(redis.exceptions.ConnectionError) as raised:
            client.hincrby("views", "1", 1)
        assert cache_outage_logged(raised.value)  # so the view counter does not log it again
        with pytest.raises(redis.exceptions.ConnectionError):
            client.pipeline().hgetall("views").execute()
        assert listener.accepted == 1


def test_cache_probe_raises_while_the_cache_is_down(tmp_path, settings):
    with private_redis(tmp_path / "redis", started=False) as stopped:
        settings.CACHES = {"default": cache_settings(stopped.url)}
        with pytest.raises(redis.exceptions.ConnectionError):
            cache_probe()
        stopped.start()
        cache_probe()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "files"),
        }
    }
    cache_probe()  # any backend: a write read back


# --- escalations while the cache is down, tickets by a worker that survives it ---------------


def api_escalation(api: APIClient, guide: Guide, number: int) -> list[int]:
    statuses = []
    response = api.post(f"/api/v1/guides/{guide.pk}/attempts/")
    statuses.append(response.status_code)
    if response.status_code != 201:
        return statuses
    api.credentials(HTTP_X_ATTEMPT_TOKEN=response.json()["token"])
    step = guide.steps.order_by("position")[0]
    response = api.post(
        "/api/v1/attempt/outcomes/",
        {"step": step.pk, "outcome": "did_not_work", "note": f"declined ({number})"},
    )
    statuses.append(response.status_code)
    response = api.post(
        "/api/v1/attempt/contact/",
        {"description": f"Card still refused (api {number})", "email": f"api{number}@example.com"},
    )
    statuses.append(response.status_code)
    api.credentials()
    return statuses


def guide_page_escalation(guide: Guide, number: int) -> str:
    """A customer reads the guide page, marks a step, opens the contact form and sends it;
    returns the confirmation page (or what came instead)."""
    web = Client(raise_request_exception=False)
    step = guide.steps.order_by("position")[0]
    answers = [
        web.get(guide_url("guide-detail", guide)),
        web.post(guide_url("step-outcome", guide, step_id=step.pk), {"outcome": "did_not_work"}),
        web.get(guide_url("contact", guide)),
    ]
    if any(answer.status_code >= 400 for answer in answers):
        return f"{[answer.status_code for answer in answers]}"
    done = web.post(
        guide_url("contact", guide),
        {"description": f"Refused (web {number})", "email": f"web{number}@example.com"},
        follow=True,  # post/redirect/get: the confirmation is the page redirected to
    )
    return f"{done.status_code} {done.content.decode()}"


def contact_form_escalation(number: int) -> str:
    web = Client(raise_request_exception=False)
    form = {"description": f"My card is refused (form {number})", "email": f"f{number}@example.com"}
    suggested = web.post("/tickets/new/", {**form, "action": "suggest"})
    if suggested.status_code != 200:
        return f"suggestions: {suggested.status_code}"
    done = web.post("/tickets/new/", {**form, "action": "send"}, follow=True)
    return f"{done.status_code} {done.content.decode()}"


def worker_env(tmp_path: Path, cache_redis: PrivateRedis) -> dict[str, str]:
    overrides = {
        **configured_broker_env(),
        "DATABASE_URL": test_database_url(),
        "EMAIL_URL": "dummy://",
        # The cache is this test's own Redis, which it stops and starts.
        "REDIS_URL": cache_redis.url,
        "CACHE_KEY_PREFIX": KEY_PREFIX,
        "CACHE_RETRY_INTERVAL": "1",
    }
    return process_env(tmp_path, **overrides)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_escalations_during_a_cache_outage_are_answered_and_ticketed(
    guide_with_steps, tmp_path, settings, caplog
):
    guide = guide_with_steps
    with private_redis(tmp_path / "cache-redis") as cache_redis:
        settings.CACHES = {"default": cache_settings(cache_redis.url)}
        # While it runs, the throttles really keep their counters in this Redis.
        assert APIClient().get("/api/v1/guides/").status_code == 200
        assert cache_redis.client().keys(f"{KEY_PREFIX}:*throttle*")

        cache_redis.stop()
        caplog.set_level(logging.WARNING)
        api = APIClient(raise_request_exception=False)
        api_statuses = [api_escalation(api, guide, number) for number in range(20)]
        pages = [guide_page_escalation(guide, number) for number in range(10)]
        pages += [contact_form_escalation(number) for number in range(10)]

        assert api_statuses == [[201, 201, 202]] * 20
        assert [page[:4] for page in pages] == ["200 "] * 20, pages
        assert all("web" in page and "@example.com" in page for page in pages[:10])
        assert all("@example.com" in page for page in pages[10:])
        escalated = set(
            Attempt.objects.filter(status=Attempt.Status.ESCALATED).values_list("pk", flat=True)
        )
        assert len(escalated) == 40
        # One warning for the outage (per CACHE_FAILURE_LOG_INTERVAL), not one per request:
        # throttles, limits and the guide view counter all leave it to the cache.
        warnings = [
            f"{r.name}: {r.getMessage()}"
            for r in caplog.records
            if r.levelno >= logging.WARNING and r.name.split(".")[0] in OUR_LOGGERS
        ]
        print(f"\n40 escalations with the cache down; warnings: {warnings}")
        assert len(warnings) == 1 and warnings[0].startswith("helpdesk.cache: "), warnings

        # A worker started while the cache is still down makes the tickets at once (the
        # broker is up), and runs the heartbeat (a cache write) and the sweeper.
        log = tmp_path / "worker.log"
        with running(worker_args(), worker_env(tmp_path, cache_redis), log):
            wait_for(lambda: Ticket.objects.count() >= 40, timeout=60, what="40 tickets", log=log)
            heartbeat.delay(sent_at="during the outage")
            sweep_escalations.delay(older_than_seconds=0)
            for task in ("helpdesk.tasks.heartbeat", "tickets.tasks.sweep_escalations"):
                wait_for(
                    lambda task=task: re.search(
                        rf"Task {re.escape(task)}\[[-0-9a-f]+\] succeeded",
                        log.read_text(errors="replace"),
                    ),
                    timeout=30, what=f"{task} to run", log=log,
                )  # fmt: skip
            worker_log = log.read_text(errors="replace")
            assert "Cache Redis" in worker_log and "unreachable" in worker_log
            assert " raised unexpected" not in worker_log

            cache_redis.start()
            # The worker's cache comes back by itself after its back-off (1 s here): a
            # heartbeat it runs within the back-off is lost, as beat's next one would not be.
            sent: list[float] = []

            def heartbeat_stored() -> bool:
                if (cache.get(HEARTBEAT_KEY) or {}).get("sent_at") == "after the outage":
                    return True
                if not sent or time.monotonic() - sent[-1] > 0.5:
                    heartbeat.delay(sent_at="after the outage")
                    sent.append(time.monotonic())
                return False

            # wait_for raises unless the heartbeat sent after the outage reached the cache.
            wait_for(heartbeat_stored, timeout=30, what="a heartbeat in the cache Redis", log=log)
            assert ticket_services.escalations_sweep(older_than=timedelta(0)) == 0
            assert " raised unexpected" not in log.read_text(errors="replace")

    assert Ticket.objects.count() == 40
    assert set(Ticket.objects.values_list("attempt_id", flat=True)) == escalated
