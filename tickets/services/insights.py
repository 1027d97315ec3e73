"""The statistics rollup: the day tallies the statistics pages and API read, kept up to date
from the attempts, their step outcomes and the tickets they became.

Why here: a guide's funnel ends with its tickets (solved, reopened, time to solve), and the
guides app never reads the tickets app. So the rollup is split along the apps and run from
this side in ONE transaction: ``guides.rollups`` rewrites what self-help alone knows (the step
tallies, and the attempts and how they ended), then ``_ticket_columns_rebuild`` below fills the
tickets' columns of the same rows. A reader never sees one half without the other.

How a run goes (``statistics_rollup``):

1. Lock the watermark row (``RollupWatermark``, name ``statistics``). Concurrent runs are
   serialized on it: the periodic task skips when another run holds it, the management
   command waits. Nothing else ever locks it, and no customer's write waits for a rollup:
   outcomes are INSERTs into step outcomes, which the rollup only reads.
2. Find the dirty days: the start days of the attempts, and of the attempts of the tickets,
   whose ``updated_at`` is at or after the watermark minus ``STATISTICS_ROLLUP_LAG`` (a
   transaction that stamped its rows before the last run began but committed after it is
   still seen, as long as it took less than the lag). ``full`` takes every day instead.
3. Recompute each dirty day entirely from the raw rows, in chunks of days (set-based
   INSERT … SELECT per chunk), replacing its tallies.
4. Move the watermark to the time the run started, in the same transaction.

A run killed anywhere (an exception, SIGKILL, a lost connection) commits nothing: the tallies
and the watermark stay as the last run left them, and the next run recomputes the same days
and more. Running twice writes the same tallies, as a day is always recomputed whole.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models.functions import TruncDate
from django.utils import timezone

from guides import rollups
from guides import services as guide_services
from guides.models import Guide, GuideDayTally, RollupWatermark, StepDayTally
from helpdesk.sql import quoted
from tickets.models import Ticket, TicketEvent

logger = logging.getLogger(__name__)

WATERMARK_NAME = "statistics"
# Days recomputed per statement: bounds the size of one statement's sorts and hashes, and
# gives a long full rollup points where a test can stop it midway.
DAYS_PER_CHUNK = 7
NEVER = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RollupResult:
    days: int
    step_rows: int
    guide_rows: int
    until: datetime
    seconds: float
    full: bool


def statistics_rollup(*, full: bool = False, wait: bool = True) -> RollupResult | None:
    """Bring the day tallies up to date (every day with ``full``); None when ``wait`` is False
    and another run holds the watermark (the periodic task's case: that run does the work)."""
    started = time.monotonic()
    with transaction.atomic(durable=True):
        watermark = _watermark_locked(wait=wait)
        if watermark is None:
            return None
        # Taken after the lock: a run that waited for another reads what that one committed.
        until = timezone.now()
        if full or watermark.until <= NEVER:
            days = sorted(rollups.days_changed_since(None) | rollups.days_tallied())
        else:
            since = watermark.until - timedelta(seconds=settings.STATISTICS_ROLLUP_LAG)
            days = sorted(rollups.days_changed_since(since) | _ticket_days_changed_since(since))
        step_rows = guide_rows = 0
        for start in range(0, len(days), DAYS_PER_CHUNK):
            chunk = days[start : start + DAYS_PER_CHUNK]
            step_rows += rollups.step_tallies_rebuild(days=chunk)
            guide_rows += rollups.guide_tallies_rebuild(days=chunk)
            _ticket_columns_rebuild(days=chunk)
            rollups.guide_tallies_prune(days=chunk)
        watermark.until = until
        watermark.save(update_fields=["until"])
        moved = set(StepDayTally.objects.filter(day__in=days).values_list("guide_id", flat=True))
    # After the commit, so that no cache holds numbers a rollback would take back: the
    # alternatives' orders of the guides whose tallies moved (guides.ordering, docs/learning.md).
    if moved:
        guide_services.alternatives_order_changed(moved)
    result = RollupResult(
        days=len(days),
        step_rows=step_rows,
        guide_rows=guide_rows,
        until=until,
        seconds=time.monotonic() - started,
        full=full,
    )
    logger.info(
        "Statistics rollup: %s days, %s step rows, %s guide rows in %.2f s",
        result.days, result.step_rows, result.guide_rows, result.seconds,
    )  # fmt: skip
    return result


def _watermark_locked(*, wait: bool) -> RollupWatermark | None:
    # Created on the first run (a conflict with another first run is no error), then locked.
    RollupWatermark.objects.bulk_create(
        [RollupWatermark(name=WATERMARK_NAME, until=NEVER)], ignore_conflicts=True
    )
    return (
        RollupWatermark.objects.select_for_update(skip_locked=not wait)
        .filter(name=WATERMARK_NAME)
        .first()
    )


def _ticket_days_changed_since(since: datetime) -> set[date]:
    """The start days of the attempts whose tickets changed at or after ``since`` (solved,
    reopened, anything that moves updated_at); ticket_updated_idx serves it."""
    return set(
        Ticket.objects.filter(updated_at__gte=since, attempt__guide_version__isnull=False)
        .order_by()
        .annotate(day=TruncDate("attempt__started_at", tzinfo=UTC))
        .values_list("day", flat=True)
        .distinct()
    )


def _ticket_columns_rebuild(*, days: Sequence[date]) -> int:
    """Fill the tickets' columns of the guide tallies of ``days`` (which guides.rollups just
    rewrote with zeros there): tickets solved, reopened (at least once), and the seconds from
    the escalation to the solving. Every counted escalated attempt has its row already; the
    upsert only updates."""
    dialect = rollups.Dialect()
    att, params = rollups.attempts_cte(dialect, days)
    t = {name: f"t.{quoted(Ticket, name)}" for name in ("id", "attempt", "solved_at", "created_at")}
    e = {name: f"e.{quoted(TicketEvent, name)}" for name in ("ticket", "kind", "change")}
    # The models' own table and column names, and constants.
    reopened = (
        f"EXISTS (SELECT 1 FROM {quoted(TicketEvent)} e WHERE {e['ticket']} = {t['id']}"  # noqa: S608
        f" AND {e['kind']} = '{TicketEvent.Kind.STATUS_CHANGED}'"
        f" AND {dialect.json_is_true(e['change'], 'reopened')})"
    )
    solve_seconds = dialect.seconds_between(
        t["solved_at"], f"COALESCE(att.escalation_requested_at, {t['created_at']})"
    )
    tally = quoted(GuideDayTally)
    columns = [
        "day", "guide", "version", "company", "language", "views", *rollups.FUNNEL_COLUMNS,
        *rollups.TICKET_COLUMNS,
    ]  # fmt: skip
    column_list = ", ".join(quoted(GuideDayTally, name) for name in columns)
    funnel_zeros = ", ".join(["0"] * len(rollups.FUNNEL_COLUMNS))
    conflict = ", ".join(quoted(GuideDayTally, name) for name in ("version", "language", "day"))
    updates = ", ".join(
        f"{quoted(GuideDayTally, name)} = EXCLUDED.{quoted(GuideDayTally, name)}"
        for name in rollups.TICKET_COLUMNS
    )
    company = f"g.{quoted(Guide, 'company')}"
    sql = f"""
    WITH {att},
    tk AS (
        SELECT att.day, att.guide_id, att.version_id, att.language,
               CASE WHEN {t["solved_at"]} IS NOT NULL THEN 1 ELSE 0 END AS solved,
               CASE WHEN {reopened} THEN 1 ELSE 0 END AS reopened,
               CASE WHEN {t["solved_at"]} IS NOT NULL THEN {solve_seconds} END AS seconds
        FROM att JOIN {quoted(Ticket)} t ON {t["attempt"]} = att.id
    )
    INSERT INTO {tally} ({column_list})
    SELECT tk.day, tk.guide_id, tk.version_id, {company}, tk.language, 0, {funnel_zeros},
           SUM(tk.solved), SUM(tk.reopened), {dialect.histogram("tk.seconds")}
    FROM tk JOIN {quoted(Guide)} g ON g.{quoted(Guide, "id")} = tk.guide_id
    WHERE true
    GROUP BY tk.day, tk.guide_id, tk.version_id, {company}, tk.language
    ON CONFLICT ({conflict}) DO UPDATE SET {updates}
    """  # noqa: S608 (the models' own table and column names; values are parameters)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return rollups.rows_written(cursor)


__all__ = ["WATERMARK_NAME", "RollupResult", "statistics_rollup"]
