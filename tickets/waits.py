"""How long a customer can expect to wait for a person: what the guide page says next to
"Talk to a person" (tickets/templatetags/ticket_waits.py).

The wait is measured, not promised: the median time to the first response of the company's
tickets in that language created over the last WINDOW, once at least MIN_TICKETS of them
were answered. With fewer, the page says what we aim for instead: the first-response target
of the normal-priority SLA policy of the queue the company's latest ticket went to. With
neither, it says nothing about the wait.

Tickets still waiting for their first response are left out: the median is that of the
answered ones, a little optimistic while a queue is falling behind; the SLA check and the
agents' overview are where a growing backlog shows.

One query (two for the fallback) per company and language, kept in the default cache for
CACHE_SECONDS: the guide page shows it from its own cache (guides.page_cache), so the figure
a customer reads is at most CACHE_SECONDS + guides.page_cache.MAX_AGE old.
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.utils import timezone

from tickets.models import Priority, SLAPolicy, Ticket

logger = logging.getLogger(__name__)

WINDOW = timedelta(days=14)
MIN_TICKETS = 5  # fewer answered tickets say more about chance than about the queue
CACHE_SECONDS = 5 * 60
MAX_SAMPLE = 2000  # the latest answered tickets are enough for a median
_KEY = "tickets:expected-wait:{company_id}:{language}"


@dataclass(frozen=True)
class ExpectedWait:
    minutes: int
    # True: the median of recent first responses; False: the SLA's first-response target.
    measured: bool


def expected_wait_read(
    *, company_id: int, language: str, now: datetime | None = None
) -> ExpectedWait | None:
    """The expected wait for a request to this company in this language, read now."""
    now = now or timezone.now()
    answered = (
        Ticket.objects.filter(
            company_id=company_id,
            language=language,
            created_at__gte=now - WINDOW,
            first_responded_at__isnull=False,
        )
        .order_by("-created_at")
        .values_list("created_at", "first_responded_at")[:MAX_SAMPLE]
    )
    seconds = [
        max((responded - created).total_seconds(), 0)
        for created, responded in answered
        if responded is not None  # filtered above; the column is nullable
    ]
    if len(seconds) >= MIN_TICKETS:
        return ExpectedWait(minutes=max(1, round(statistics.median(seconds) / 60)), measured=True)
    latest_queue = (
        Ticket.objects.filter(company_id=company_id)
        .order_by("-created_at")
        .values_list("queue_id", flat=True)
        .first()
    )
    if latest_queue is None:
        return None
    target = (
        SLAPolicy.objects.filter(queue_id=latest_queue, priority=Priority.NORMAL)
        .values_list("first_response_minutes", flat=True)
        .first()
    )
    return ExpectedWait(minutes=target, measured=False) if target else None


def expected_wait(*, company_id: int, language: str) -> ExpectedWait | None:
    """expected_wait_read, kept in the cache for CACHE_SECONDS (read anew while the cache
    cannot be reached)."""
    key = _KEY.format(company_id=company_id, language=language)
    try:
        kept = cache.get(key)
    except Exception:
        logger.warning("Expected wait read without its cache", exc_info=True)
        kept = None
    if kept is not None:
        minutes, measured = kept
        return ExpectedWait(minutes=minutes, measured=measured) if minutes else None
    wait = expected_wait_read(company_id=company_id, language=language)
    try:
        # "No figure" is kept too (minutes 0): a company without tickets is not read each time.
        cache.set(key, (wait.minutes, wait.measured) if wait else (0, False), CACHE_SECONDS)
    except Exception:
        logger.warning("Expected wait not kept", exc_info=True)
    return wait
