"""/healthz and `manage.py health`: database, cache, broker, worker and beat, each with its status
and the worker's and beat's ages; 503 (exit 1) when one is down or stale."""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import timedelta
from http.client import HTTPConnection

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone

from helpdesk.health import BEAT_TICK_KEY, HEARTBEAT_KEY, worker_and_beat_checks
from tests.brokers import free_port, private_redis
from tests.processes import celery, process_env, running, wait_for, worker_args

NOW = timezone.now()


def seconds_ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).isoformat()


def checks(*, worker_age: float | None, beat_age: float | None):
    return worker_and_beat_checks(
        heartbeat=None if worker_age is None else {"consumed_at": seconds_ago(worker_age)},
        beat_tick=None if beat_age is None else {"ticked_at": seconds_ago(beat_age)},
        now=NOW,
        worker_max_age=90,
        beat_max_age=60,
    )


# --- the worker and beat from their records (pure logic, controlled times) --------------------


def test_it_reports_fresh_records_as_ok_with_their_ages():
    worker, beat = checks(worker_age=12.34, beat_age=2)
    assert worker == {"status": "ok", "age_seconds": 12.3, "max_age_seconds": 90}
    assert beat == {"status": "ok", "age_seconds": 2.0, "max_age_seconds": 60}


def test_it_reports_a_worker_silent_past_its_bound_as_stale():
    worker, beat = checks(worker_age=90.1, beat_age=2)
    assert worker["status"] == "stale"
    assert worker["age_seconds"] == 90.1
    assert beat["status"] == "ok"


def test_it_reports_a_stale_beat_and_does_not_blame_the_worker_for_it():
    worker, beat = checks(worker_age=300, beat_age=61)
    assert beat == {"status": "stale", "age_seconds": 61.0, "max_age_seconds": 60}
    assert worker["status"] == "unknown"  # no heartbeat was sent: nothing to say of it
    assert worker["age_seconds"] == 300.0


def test_it_reports_a_fresh_start_as_missing_not_as_ok():
    worker, beat = checks(worker_age=None, beat_age=None)
    assert beat == {"status": "missing", "age_seconds": None, "max_age_seconds": 60}
    assert worker["status"] == "unknown"
    worker, beat = checks(worker_age=None, beat_age=1)
    assert worker == {"status": "missing", "age_seconds": None, "max_age_seconds": 90}


def test_it_still_sees_a_worker_heartbeat_when_beat_just_stopped():
    worker, beat = checks(worker_age=5, beat_age=61)
    assert worker["status"] == "ok"
    assert beat["status"] == "stale"


# --- /healthz and the command, in process -------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_records_left_behind():
    """The test cache outlives a test: records written here must not make another's /healthz
    look fresh."""
    yield
    cache.delete_many([HEARTBEAT_KEY, BEAT_TICK_KEY])


def record(*, worker_age: float, beat_age: float) -> None:
    now = timezone.now()
    cache.set(HEARTBEAT_KEY, {"consumed_at": (now - timedelta(seconds=worker_age)).isoformat()})
    cache.set(BEAT_TICK_KEY, {"ticked_at": (now - timedelta(seconds=beat_age)).isoformat()})


def test_healthz_is_200_when_every_part_is_fresh(client, db, settings):
    settings.HEALTH_WORKER_MAX_AGE = settings.HEALTH_BEAT_MAX_AGE = 90
    record(worker_age=10, beat_age=1)

    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 200, body
    assert body["ok"] is True and body["failing"] == []
    for part in ("database", "cache", "broker", "worker", "beat"):
        assert body[part]["status"] == "ok", part
    assert 10 <= body["worker"]["age_seconds"] < 20
    assert body["beat"]["max_age_seconds"] == 90
    assert response["Cache-Control"].startswith("max-age=0")


def test_healthz_is_503_naming_a_stale_worker(client, db, settings):
    settings.HEALTH_WORKER_MAX_AGE = settings.HEALTH_BEAT_MAX_AGE = 90
    record(worker_age=95, beat_age=1)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["worker"]
    assert response.json()["worker"]["status"] == "stale"


def test_the_cache_check_is_not_fooled_by_a_cache_that_drops_writes(client, db, settings):
    # A fail-open cache answers None instead of raising; the dummy backend does the same.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["cache"]
    assert response.json()["cache"] == {"status": "down", "error": "CacheUnavailable"}
    # Their records are in the cache: neither is blamed for its outage.
    assert response.json()["worker"]["status"] == "unknown"
    assert response.json()["beat"]["status"] == "unknown"


def test_the_command_checks_only_what_is_required(db, settings, capsys):
    settings.HEALTH_WORKER_MAX_AGE = settings.HEALTH_BEAT_MAX_AGE = 90
    record(worker_age=95, beat_age=1)

    call_command("health", "--require", "beat")
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"ok", "failing", "beat"}
    assert report["ok"] is True

    with pytest.raises(CommandError, match="failing: worker") as failure:
        call_command("health", "--require", "worker")
    assert failure.value.returncode == 1


# --- real worker, beat, broker and web server ----------------------------------------------------


def healthz(port: int) -> tuple[int, dict] | None:
    connection = HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    except (OSError, ValueError):
        return None
    finally:
        connection.close()


@pytest.mark.worker
def test_healthz_follows_a_real_worker_beat_and_broker(tmp_path):
    port = free_port()
    with private_redis(tmp_path / "redis") as broker:
        env = process_env(
            tmp_path,
            CELERY_BROKER_URL=broker.url,
            HEARTBEAT_INTERVAL="1",
            HEALTH_WORKER_MAX_AGE="3",
            HEALTH_BEAT_MAX_AGE="3",
        )
        web_log, worker_log, beat_log = (
            tmp_path / f"{name}.log" for name in ("web", "worker", "beat")
        )
        web = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
        with (
            running(web, env, web_log),
            running(celery("beat", "--loglevel=INFO"), env, beat_log),
            running(worker_args(), env, worker_log) as worker,
        ):

            def answer(status: int, failing: list[str]):
                result = healthz(port)
                if result and result[0] == status and result[1]["failing"] == failing:
                    return result[1]
                return None

            body = wait_for(lambda: answer(200, []), timeout=30, what="all healthy", log=worker_log)
            assert 0 <= body["worker"]["age_seconds"] <= 3
            assert 0 <= body["beat"]["age_seconds"] <= 3
            assert body["broker"] == {"status": "ok"}

            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
            body = wait_for(
                lambda: answer(503, ["worker"]), timeout=15, what="the worker stale", log=web_log
            )
            assert body["worker"]["status"] == "stale"
            assert body["worker"]["age_seconds"] > 3
            assert body["beat"]["status"] == "ok"  # beat keeps ticking without a worker

            broker.stop()
            body = wait_for(
                lambda: answer(503, ["broker", "worker"]), timeout=15, what="the broker down",
                log=web_log,
            )  # fmt: skip
            assert body["broker"]["status"] == "down"
