"""A task sent through the broker is executed by a real worker process (and beat sends one)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import redis
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache

from helpdesk.health import HEARTBEAT_KEY
from tests.processes import (
    celery,
    manage,
    process_env,
    running,
    skip_or_fail,
    wait_for,
    worker_args,
)

pytestmark = pytest.mark.worker

REDIS_TEST_URL = "redis://127.0.0.1:6379/14"  # this test's own database number

SEND_HEARTBEAT = "from helpdesk.tasks import heartbeat; heartbeat.delay(sent_at={token!r})"


def send_heartbeat(env: dict[str, str], token: str) -> None:
    # Sent from a separate process, as the web server would.
    result = manage("shell", "-c", SEND_HEARTBEAT.format(token=token), env=env)
    assert result.returncode == 0, result.stderr


def heartbeat_token(cache) -> str | None:
    value = cache.get(HEARTBEAT_KEY)
    return value.get("sent_at") if value else None


def run_worker_and_send_one_task(env: dict[str, str], cache, log: Path) -> None:
    """Start a worker, send it a heartbeat from another process, wait until it ran."""
    token = uuid.uuid4().hex
    with running(worker_args(), env, log):
        send_heartbeat(env, token)
        consumed = wait_for(lambda: heartbeat_token(cache), timeout=45, what="the task", log=log)
    assert consumed == token


def test_a_worker_executes_a_task_sent_through_the_filesystem_broker(tmp_path):
    cache = FileBasedCache(str(tmp_path / "cache"), {"KEY_PREFIX": "helpdesk"})
    log = tmp_path / "worker.log"

    run_worker_and_send_one_task(process_env(tmp_path), cache, log)

    assert "Task helpdesk.tasks.heartbeat" in log.read_text()
    assert "succeeded" in log.read_text()


def test_beat_sends_the_heartbeat_and_the_worker_runs_it(tmp_path):
    env = process_env(tmp_path, HEARTBEAT_INTERVAL="1")
    cache = FileBasedCache(str(tmp_path / "cache"), {"KEY_PREFIX": "helpdesk"})
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    beat = celery("beat", "--loglevel=INFO")

    with running(worker_args(), env, worker_log), running(beat, env, beat_log):
        value = wait_for(
            lambda: cache.get(HEARTBEAT_KEY), timeout=45, what="a scheduled heartbeat",
            log=beat_log,
        )  # fmt: skip

    assert value["sent_at"] is None  # beat's schedule sends it without arguments
    assert "Scheduler: Sending due task heartbeat" in beat_log.read_text()


@pytest.fixture
def redis_prefix():
    """This test's own prefix for every key, the broker's and the cache's: two runs (the two
    suites of .ci/run run at the same time) share database 14 without seeing each other."""
    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        skip_or_fail("Redis is not reachable at 127.0.0.1:6379")
    prefix = f"worker-test-{uuid.uuid4().hex[:8]}"
    yield prefix
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_a_worker_executes_a_task_sent_through_redis(tmp_path, redis_prefix):
    prefix = redis_prefix
    env = process_env(
        tmp_path,
        CELERY_BROKER_URL=REDIS_TEST_URL,
        TEST_BROKER_KEYPREFIX=f"{prefix}:",  # read by tests/settings.py
        REDIS_URL=REDIS_TEST_URL,
        CACHE_KEY_PREFIX=prefix,
    )
    cache = RedisCache(REDIS_TEST_URL, {"KEY_PREFIX": prefix})
    log = tmp_path / "worker.log"

    run_worker_and_send_one_task(env, cache, log)

    assert "transport:   redis://:**@127.0.0.1:6379/14" in log.read_text()
