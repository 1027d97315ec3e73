"""Liveness of the moving parts, kept in the shared cache so every process sees the same."""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

HEARTBEAT_KEY = "health:worker-heartbeat"


def worker_heartbeat_record(*, sent_at: str | None) -> None:
    cache.set(
        HEARTBEAT_KEY,
        {"sent_at": sent_at, "consumed_at": timezone.now().isoformat()},
        timeout=None,
    )


def worker_heartbeat_last() -> dict[str, str | None] | None:
    value = cache.get(HEARTBEAT_KEY)
    return value if isinstance(value, dict) else None


def status() -> dict[str, object]:
    """Database and cache reachability plus the age of the worker's last heartbeat."""
    checks: dict[str, object] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "down" for a health probe
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        cache.set("health:probe", 1, timeout=10)
        checks["cache"] = "ok" if cache.get("health:probe") == 1 else "error: read back failed"
    except Exception as exc:
        checks["cache"] = f"error: {exc.__class__.__name__}"
    try:
        beat = worker_heartbeat_last()
    except Exception:
        beat = None
    if beat and beat.get("consumed_at"):
        consumed = datetime.fromisoformat(str(beat["consumed_at"]))
        checks["worker_heartbeat_age_seconds"] = round(
            (timezone.now() - consumed).total_seconds(), 1
        )
    else:
        checks["worker_heartbeat_age_seconds"] = None
    checks["ok"] = checks["database"] == "ok" and checks["cache"] == "ok"
    return checks
