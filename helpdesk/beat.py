"""Celery beat's scheduler, recording each tick for /healthz (CELERY_BEAT_SCHEDULER).

A beat process that hangs or dies stops sending every scheduled task without a word; the tick
it leaves in the cache lets health report its age. Beat otherwise behaves as the stock
PersistentScheduler (its schedule file keeps the last run times across restarts).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery.beat import PersistentScheduler
from django.conf import settings

from helpdesk import health

logger = logging.getLogger(__name__)


class Scheduler(PersistentScheduler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Wake often enough that a quiet schedule never looks like a dead beat, and record
        # at most every few seconds: ticks come in bursts when several tasks are due.
        stock = float(self.max_interval)  # type: ignore[has-type]  # untyped in celery
        self.max_interval = min(stock, settings.HEALTH_BEAT_MAX_AGE / 3)
        self.record_every = min(5.0, settings.HEALTH_BEAT_MAX_AGE / 6)
        self._recorded_at: float | None = None
        self._record_failed = False

    def tick(self, *args: Any, **kwargs: Any) -> float:
        delay = super().tick(*args, **kwargs)
        now = time.monotonic()
        if self._recorded_at is None or now - self._recorded_at >= self.record_every:
            self._recorded_at = now
            self._record_tick()
        return delay

    def _record_tick(self) -> None:
        # A cache outage must not stop the schedule: log the first failure, carry on.
        try:
            health.beat_tick_record()
        except Exception:
            if not self._record_failed:
                logger.warning("Beat could not record its tick for /healthz", exc_info=True)
            self._record_failed = True
        else:
            self._record_failed = False
