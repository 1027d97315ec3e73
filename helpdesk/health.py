"""Health of every moving part: database, cache, broker, worker and beat.

The worker and beat cannot be asked directly on every transport (the file-system broker has
no broadcast), so each leaves a timestamp in the shared cache and health reads its age:

- beat records its own tick (``helpdesk.beat.Scheduler``) and sends ``helpdesk.tasks.heartbeat``
  every HEARTBEAT_INTERVAL; a worker records when it ran that task. A fresh worker heartbeat
  therefore proves the whole path beat → broker → worker → cache.
- A worker heartbeat can only be as fresh as beat keeps it: while beat is failing, a stale
  worker heartbeat says nothing about the worker, so the worker is reported ``unknown`` (not
  failing) and the failure is put on beat alone.

Each check is a dict with ``status``: ``ok``, ``down`` (unreachable, with ``error``),
``stale`` (older than its bound), ``missing`` (never recorded: a fresh start, or a cache that
was emptied) or ``unknown`` (the worker while beat fails; both while the cache, where their
records live, is down). Everything but ``ok`` and ``unknown`` fails the check.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from helpdesk.cache import cache_probe

HEARTBEAT_KEY = "health:worker-heartbeat"
BEAT_TICK_KEY = "health:beat-tick"
CHECKS = ("database", "cache", "broker", "worker", "beat")
# Seconds the broker check may take, whatever the transport's own retry settings.
BROKER_TIMEOUT = 2.0

Check = dict[str, Any]


# --- what the worker and beat record -----------------------------------------------------------


def worker_heartbeat_record(*, sent_at: str | None) -> None:
    cache.set(
        HEARTBEAT_KEY,
        {"sent_at": sent_at, "consumed_at": timezone.now().isoformat()},
        timeout=None,
    )


def beat_tick_record() -> None:
    cache.set(BEAT_TICK_KEY, {"ticked_at": timezone.now().isoformat()}, timeout=None)


def _recorded_at(value: object, field: str) -> datetime | None:
    if not isinstance(value, dict) or not value.get(field):
        return None
    try:
        return datetime.fromisoformat(str(value[field]))
    except ValueError:
        return None


# --- the checks -----------------------------------------------------------------------------------


def _down(exc: BaseException) -> Check:
    return {"status": "down", "error": exc.__class__.__name__}


def database_check() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "down" for a health probe
        return _down(exc)
    return {"status": "ok"}


def cache_check() -> Check:
    # Strict on purpose: the Redis cache fails open (answers "nothing cached" instead of
    # raising), so ask it past its back-off whether it really answers (helpdesk.cache).
    try:
        cache_probe()
    except Exception as exc:
        return _down(exc)
    return {"status": "ok"}


def broker_check() -> Check:
    from helpdesk.celery import app

    # The Redis socket timeouts bound a broker that accepts connections and never answers.
    options = {
        **(app.conf.broker_transport_options or {}),
        "socket_timeout": BROKER_TIMEOUT,
        "socket_connect_timeout": BROKER_TIMEOUT,
    }
    try:
        with app.connection_for_write(transport_options=options) as conn:
            conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT)
            # Opening a channel talks to the server (Redis answers a PING).
            conn.default_channel  # noqa: B018
            if conn.transport.driver_type == "filesystem":  # kombu's, or helpdesk.broker's
                _filesystem_broker_writable(conn.transport_options)
    except Exception as exc:
        return _down(exc)
    return {"status": "ok"}


def _filesystem_broker_writable(options: dict[str, Any]) -> None:
    folder = options.get("data_folder_out")
    if folder and not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{folder} is not writable")


def _age_check(recorded: datetime | None, *, now: datetime, max_age: float) -> Check:
    if recorded is None:
        return {"status": "missing", "age_seconds": None, "max_age_seconds": max_age}
    age = round((now - recorded).total_seconds(), 1)
    return {
        "status": "ok" if age <= max_age else "stale",
        "age_seconds": age,
        "max_age_seconds": max_age,
    }


def worker_and_beat_checks(
    *,
    heartbeat: object,
    beat_tick: object,
    now: datetime,
    worker_max_age: float,
    beat_max_age: float,
) -> tuple[Check, Check]:
    """The worker's and beat's checks from what they recorded (pure: times are arguments)."""
    worker = _age_check(_recorded_at(heartbeat, "consumed_at"), now=now, max_age=worker_max_age)
    beat = _age_check(_recorded_at(beat_tick, "ticked_at"), now=now, max_age=beat_max_age)
    if worker["status"] != "ok" and beat["status"] != "ok":
        worker = {**worker, "status": "unknown", "reason": "beat sends no heartbeats"}
    return worker, beat


def _recorded_checks(now: datetime) -> tuple[Check, Check]:
    try:
        heartbeat, beat_tick = cache.get(HEARTBEAT_KEY), cache.get(BEAT_TICK_KEY)
    except Exception as exc:
        return _down(exc) | {"status": "unknown"}, _down(exc) | {"status": "unknown"}
    return worker_and_beat_checks(
        heartbeat=heartbeat,
        beat_tick=beat_tick,
        now=now,
        worker_max_age=settings.HEALTH_WORKER_MAX_AGE,
        beat_max_age=settings.HEALTH_BEAT_MAX_AGE,
    )


def failing(check: Check) -> bool:
    return check["status"] not in {"ok", "unknown"}


def status(*, require: Collection[str] = CHECKS) -> dict[str, Any]:
    """The checks named in ``require`` (all by default), each with its status and, for the
    worker and beat, the age of their last record; ``ok`` is true when none of them fails."""
    unknown = set(require) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown health checks: {', '.join(sorted(unknown))}")
    result: dict[str, Any] = {}
    if "database" in require:
        result["database"] = database_check()
    records_needed = "worker" in require or "beat" in require
    if "cache" in require or records_needed:
        cache_status = cache_check()
        if "cache" in require:
            result["cache"] = cache_status
    if "broker" in require:
        result["broker"] = broker_check()
    if records_needed:
        if failing(cache_status):
            # The records live in the cache: a cache outage is not the worker's or beat's, and
            # a cache that fails open would otherwise make both look missing.
            unreadable = {"status": "unknown", "reason": "the cache is down"}
            worker, beat = unreadable, unreadable
        else:
            worker, beat = _recorded_checks(timezone.now())
        if "worker" in require:
            result["worker"] = worker
        if "beat" in require:
            result["beat"] = beat
    names = [name for name in CHECKS if name in result and failing(result[name])]
    return {"ok": not names, "failing": names, **result}
