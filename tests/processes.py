"""Real processes for tests: Celery workers, beat and management commands with their own env."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")

# Variables that point a process at shared services (each test sets its own) or that only the
# test run itself should have.
_DROPPED_VARIABLES = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "CACHE_KEY_PREFIX",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "SECURE_SSL_REDIRECT",
    # pytest-xdist's: a started process is not a test worker; it is told its broker prefix
    # explicitly (configured_broker_env), or tests/settings.py would derive its own.
    "PYTEST_XDIST_WORKER",
    "PYTEST_XDIST_WORKER_COUNT",
    "PYTEST_XDIST_TESTRUNUID",
    "TEST_BROKER_KEYPREFIX",
)


def test_database_url() -> str:
    """DATABASE_URL of the database this test run uses, for worker processes to share it
    (tests doing so need transactional_db, so what they write is committed)."""
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or ""
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    port = f":{settings['PORT']}" if settings.get("PORT") else ""
    return f"postgres://{auth}{settings.get('HOST') or ''}{port}/{settings['NAME']}"


test_database_url.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def configured_broker_env() -> dict[str, str]:
    """Environment for a started process to use this run's configured broker, the one this test
    process publishes into: its folder on the file-system broker (tests/conftest.py gives each
    run and each xdist worker its own), its key prefix on Redis (tests/settings.py), and this
    test process's cache: the Redis cache with this worker's key prefix, or the file cache's
    folder."""
    from django.conf import settings

    env = {"CELERY_BROKER_URL": settings.CELERY_BROKER_URL}
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        env["CELERY_BROKER_DIR"] = str(Path(str(options["data_folder_in"])).parent)
    elif options.get("global_keyprefix"):
        env["TEST_BROKER_KEYPREFIX"] = str(options["global_keyprefix"])
    cache = settings.CACHES["default"]
    env["CACHE_KEY_PREFIX"] = cache["KEY_PREFIX"]
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    else:
        env["CACHE_DIR"] = cache["LOCATION"]
    return env


def skip_or_fail(reason: str) -> None:
    """Skip, unless the run demands every test (CI sets HELPDESK_REQUIRE_ALL_TESTS=1)."""
    if os.environ.get("HELPDESK_REQUIRE_ALL_TESTS") == "1":
        pytest.fail(f"required test cannot run: {reason}")
    pytest.skip(reason)


def process_env(var_dir: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_VARIABLES}
    env.update(
        HELPDESK_VAR_DIR=str(var_dir),
        DEBUG="true",
        SECRET_KEY="test-only-secret-key-for-subprocesses-0123456789abcdefghij",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


@contextmanager
def running(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Run a long-lived process for the duration of the block, then stop it and its children."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=5)


def celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "helpdesk", *args]


def worker_args(*extra: str) -> list[str]:
    return celery(
        "worker",
        "--loglevel=INFO",
        "--concurrency=1",
        "--without-mingle",
        "--without-gossip",
        *extra,
    )


def manage(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_for(probe: Callable[[], T | None], *, timeout: float, what: str, log: Path) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; log:\n{tail}")


def worker_ready(log: Path, *, timeout: float = 60) -> None:
    """Wait until the Celery worker logging to ``log`` says it is ready to consume."""
    wait_for(
        lambda: log.exists() and " ready." in log.read_text(errors="replace"),
        timeout=timeout, what=f"{log.name} to be ready", log=log,
    )  # fmt: skip


@contextmanager
def web_server(env: dict[str, str], log: Path, *, timeout: float = 60) -> Iterator[str]:
    """``manage.py runserver`` on a free port; yields its base URL once the API answers."""
    from tests.brokers import free_port

    port = free_port()
    args = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    base_url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"{base_url}/api/v1/guides/", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    with running(args, env, log):
        wait_for(answers, timeout=timeout, what="the web server", log=log)
        yield base_url
