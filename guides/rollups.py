"""The self-help half of the statistics rollup: day tallies recomputed from the raw rows.

Customers' outcomes are plain INSERTs (guides.services.step_outcome_record); no counter row is
touched by them. The statistics read ``StepDayTally`` and ``GuideDayTally``, which this module
rewrites, one *day* at a time, entirely from the attempts and step outcomes of the customers who
started on that day. Recomputing a whole day, never adding to it, is what makes the rollup
idempotent: running it twice, or again after a run that died midway, writes the same rows.

The orchestration (which days changed, the watermark, the transaction, the tickets' columns)
is ``tickets.services.insights``: the tallies carry the tickets the escalated attempts became,
and this app never reads the tickets app. This module has the parts that need only guides, and
the SQL pieces both halves share (``Dialect``, ``attempts_cte``).

Definitions (docs/statistics.md has the formulas):

- An attempt belongs to the day it started (in UTC), to its guide version and its language.
  Attempts without a version (contact-form requests, attempts older than versions) are not
  counted.
- Its *current* outcome at a step is its latest there (recorded_at, then id); earlier ones are
  history. worked / did_not_work / could_not_do / skipped count current outcomes.
- *shown*: the attempts whose step order (``Attempt.step_order``) holds the step, or, for an
  attempt without one, every step of its version's snapshot.
- *abandoned_here*: abandoned attempts whose last outcome of all was at this step.
- *seconds_spent*: for each current outcome, the seconds since the attempt's previous outcome
  (at any step) or, for its first, since the attempt started; bucketed by SECONDS_BUCKETS.

Portable SQL: PostgreSQL in production, SQLite as the embedded default. The few differences
(dates, JSON arrays, intervals) are the ``Dialect``'s; everything else is plain SQL with
window functions, run as set-based INSERT … SELECT statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any

from django.db import connection
from django.db.models.functions import TruncDate

from guides.models import (
    SECONDS_BUCKETS,
    Attempt,
    AttemptStatus,
    Guide,
    GuideDayTally,
    GuideVersion,
    StepDayTally,
    StepOutcome,
)
from helpdesk.sql import quoted

TALLY_OUTCOMES = ("worked", "did_not_work", "could_not_do", "skipped")
# The funnel's columns that the self-help half writes (views are the view counter's).
FUNNEL_COLUMNS = ("attempts", "resolved", "abandoned", "escalated")
# The funnel's columns that the tickets half writes (tickets.services.insights).
TICKET_COLUMNS = ("tickets_solved", "tickets_reopened", "solve_seconds")


def seconds_bucket(seconds: float) -> int:
    """The index of the SECONDS_BUCKETS bucket that ``seconds`` falls in: the first whose upper
    bound it does not pass (the last bucket counts everything longer than the last bound)."""
    for index, bound in enumerate(SECONDS_BUCKETS):
        if seconds <= bound:
            return index
    return len(SECONDS_BUCKETS)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants a tally day starts and ends (its end is the next day's start)."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


class Dialect:
    """The SQL that differs between PostgreSQL and SQLite, as text to paste into statements."""

    def __init__(self) -> None:
        self.postgresql = connection.vendor == "postgresql"

    def day(self, column: str) -> str:
        """The UTC calendar day of a datetime column."""
        if self.postgresql:
            return f"(({column}) AT TIME ZONE 'UTC')::date"
        return f"date({column})"  # stored as UTC text by Django

    def seconds_between(self, later: str, earlier: str) -> str:
        if self.postgresql:
            return f"CAST(EXTRACT(EPOCH FROM ({later}) - ({earlier})) AS double precision)"
        # julianday() is a float of days, exact to some 50 µs here: 600 s came back as
        # 600.00004 and fell in the next bucket. Rounded to the millisecond.
        return f"ROUND((julianday({later}) - julianday({earlier})) * 86400.0, 3)"

    def json_array(self, items: Sequence[str]) -> str:
        function = "jsonb_build_array" if self.postgresql else "json_array"
        return f"{function}({', '.join(items)})"

    def array_length(self, column: str) -> str:
        """The length of a JSON array column; 0 for anything that is not an array."""
        if self.postgresql:
            return (
                f"(CASE WHEN jsonb_typeof({column}) = 'array'"
                f" THEN jsonb_array_length({column}) ELSE 0 END)"
            )
        return (
            f"(CASE WHEN json_type({column}) = 'array' THEN json_array_length({column}) ELSE 0 END)"
        )

    def array_elements(self, column: str, alias: str) -> str:
        """A FROM-clause item, to follow a table, giving one row per element of a JSON array
        column as ``{alias}.value`` (JSON text on SQLite, jsonb on PostgreSQL)."""
        if self.postgresql:
            return f"CROSS JOIN LATERAL jsonb_array_elements({column}) AS {alias}(value)"
        return f"CROSS JOIN json_each({column}) AS {alias}"

    def element_integer(self, alias: str, key: str | None = None) -> str:
        """An array element from ``array_elements`` (or its ``key`` member) as a bigint."""
        if self.postgresql:
            value = f"{alias}.value" if key is None else f"({alias}.value -> '{key}')"
            return f"CAST(({value}) #>> '{{}}' AS bigint)"
        if key is None:
            return f"CAST({alias}.value AS integer)"
        return f"CAST(json_extract({alias}.value, '$.{key}') AS integer)"

    def json_is_true(self, column: str, key: str) -> str:
        if self.postgresql:
            return f"(({column}) ->> '{key}') = 'true'"
        return f"json_extract({column}, '$.{key}') = 1"

    def histogram(self, value: str) -> str:
        """A JSON array of SECONDS_BUCKETS counts of the non-null ``value``s of a group."""
        return self.json_array(
            [
                f"SUM(CASE WHEN {value} IS NOT NULL AND {bucket_case(value)} = {index}"
                " THEN 1 ELSE 0 END)"
                for index in range(len(SECONDS_BUCKETS) + 1)
            ]
        )

    def histogram_empty(self) -> str:
        return self.json_array(["0"] * (len(SECONDS_BUCKETS) + 1))

    @cached_property
    def datetime_param(self):
        return connection.ops.adapt_datetimefield_value

    @cached_property
    def date_param(self):
        return connection.ops.adapt_datefield_value


def rows_written(cursor: Any) -> int:
    """The rows the cursor's last INSERT/UPDATE/DELETE wrote. SQLite's driver answers -1 for
    a statement that starts with WITH; its changes() still knows."""
    if cursor.rowcount >= 0:
        return cursor.rowcount
    cursor.execute("SELECT changes()")
    return cursor.fetchone()[0]


def bucket_case(value: str) -> str:
    """SQL for seconds_bucket(value)."""
    whens = " ".join(
        f"WHEN {value} <= {bound} THEN {index}" for index, bound in enumerate(SECONDS_BUCKETS)
    )
    return f"(CASE {whens} ELSE {len(SECONDS_BUCKETS)} END)"


def attempts_cte(dialect: Dialect, days: Sequence[date]) -> tuple[str, list[Any]]:
    """``att AS (...)``: the counted attempts (with a guide version) that started on ``days``,
    with the columns both halves need; and its parameters. The started_at range lets the
    attempt_started_idx index find them; the day list drops the days between."""
    a = quoted(Attempt)
    col = {name: f"a.{quoted(Attempt, name)}" for name in (
        "id", "guide", "guide_version", "language", "status", "started_at", "step_order",
        "escalation_requested_at",
    )}  # fmt: skip
    day = dialect.day(col["started_at"])
    first, _ = day_bounds(min(days))
    _, last = day_bounds(max(days))
    placeholders = ", ".join(["%s"] * len(days))
    sql = f"""att AS (
        SELECT {col["id"]} AS id, {col["guide"]} AS guide_id,
               {col["guide_version"]} AS version_id, {col["language"]} AS language,
               {col["status"]} AS status, {col["started_at"]} AS started_at,
               {col["step_order"]} AS step_order,
               {col["escalation_requested_at"]} AS escalation_requested_at, {day} AS day
        FROM {a} a
        WHERE {col["guide_version"]} IS NOT NULL AND {col["guide"]} IS NOT NULL
          AND {col["started_at"]} >= %s AND {col["started_at"]} < %s
          AND {day} IN ({placeholders})
    )"""  # noqa: S608 (the models' own table and column names)
    params = [
        dialect.datetime_param(first),
        dialect.datetime_param(last),
        *(dialect.date_param(day) for day in days),
    ]
    return sql, params


def _day_list(dialect: Dialect, days: Sequence[date]) -> tuple[str, list[Any]]:
    return ", ".join(["%s"] * len(days)), [dialect.date_param(day) for day in days]


def step_tallies_rebuild(*, days: Sequence[date]) -> int:
    """Replace the step tallies of ``days`` with ones recomputed from the attempts that started
    on them; returns the rows written. Call inside the rollup's transaction."""
    if not days:
        return 0
    dialect = Dialect()
    tally, outcome = quoted(StepDayTally), quoted(StepOutcome)
    placeholders, day_params = _day_list(dialect, days)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {tally} WHERE {quoted(StepDayTally, 'day')} IN ({placeholders})",  # noqa: S608
            day_params,
        )
    att, att_params = attempts_cte(dialect, days)
    o = {name: f"o.{quoted(StepOutcome, name)}" for name in (
        "id", "attempt", "step", "outcome", "recorded_at",
    )}  # fmt: skip
    latest_first = f"ORDER BY {o['recorded_at']} DESC, {o['id']} DESC"
    previous = (
        f"COALESCE(LAG({o['recorded_at']}) OVER (PARTITION BY {o['attempt']}"
        f" ORDER BY {o['recorded_at']}, {o['id']}), att.started_at)"
    )
    # The marks' columns: shown, the four outcomes, abandoned_here, seconds (named in the
    # first branch of the UNION, positional in the others).
    named_zeros = ", ".join(f"0 AS {name}" for name in (*TALLY_OUTCOMES, "abandoned_here"))
    zeros = ", ".join(["0"] * (len(TALLY_OUTCOMES) + 1))
    outcome_flags = ", ".join(
        f"CASE WHEN outc.outcome = '{kind}' THEN 1 ELSE 0 END" for kind in TALLY_OUTCOMES
    )
    version_steps = quoted(GuideVersion, "steps")
    columns = [
        "day", "guide", "version", "step_key", "language", "shown", *TALLY_OUTCOMES,
        "abandoned_here", "seconds_spent",
    ]  # fmt: skip
    column_list = ", ".join(quoted(StepDayTally, name) for name in columns)
    sums = ", ".join(f"SUM({name})" for name in ("shown", *TALLY_OUTCOMES, "abandoned_here"))
    sql = f"""
    WITH {att},
    outc AS (
        SELECT {o["attempt"]} AS attempt_id, {o["step"]} AS step_id, {o["outcome"]} AS outcome,
               ROW_NUMBER() OVER (PARTITION BY {o["attempt"]}, {o["step"]} {latest_first})
                   AS nth_at_step,
               ROW_NUMBER() OVER (PARTITION BY {o["attempt"]} {latest_first}) AS nth_of_attempt,
               {dialect.seconds_between(o["recorded_at"], previous)} AS seconds
        FROM {outcome} o JOIN att ON att.id = {o["attempt"]}
    ),
    marks AS (
        SELECT att.day, att.guide_id, att.version_id, {dialect.element_integer("shown")}
                   AS step_id, att.language, 1 AS shown, {named_zeros},
               CAST(NULL AS double precision) AS seconds
        FROM att {dialect.array_elements("att.step_order", "shown")}
        WHERE {dialect.array_length("att.step_order")} > 0
        UNION ALL
        SELECT att.day, att.guide_id, att.version_id, {dialect.element_integer("shown", "step")},
               att.language, 1, {zeros}, NULL
        FROM att JOIN {quoted(GuideVersion)} v ON v.{quoted(GuideVersion, "id")} = att.version_id
             {dialect.array_elements(f"v.{version_steps}", "shown")}
        WHERE {dialect.array_length("att.step_order")} = 0
        UNION ALL
        SELECT att.day, att.guide_id, att.version_id, outc.step_id, att.language, 0,
               {outcome_flags},
               CASE WHEN outc.nth_of_attempt = 1 AND att.status = '{AttemptStatus.ABANDONED}'
                    THEN 1 ELSE 0 END,
               outc.seconds
        FROM outc JOIN att ON att.id = outc.attempt_id
        WHERE outc.nth_at_step = 1 AND outc.step_id IS NOT NULL
    )
    INSERT INTO {tally} ({column_list})
    SELECT day, guide_id, version_id, step_id, language, {sums}, {dialect.histogram("seconds")}
    FROM marks
    WHERE step_id IS NOT NULL AND step_id >= 0
    GROUP BY day, guide_id, version_id, step_id, language
    """  # noqa: S608 (the models' own table and column names; values are parameters)
    with connection.cursor() as cursor:
        cursor.execute(sql, att_params)
        return rows_written(cursor)


def guide_tallies_rebuild(*, days: Sequence[date]) -> int:
    """Rewrite the self-help columns of the guide tallies of ``days`` (attempts and how they
    ended) from the attempts that started on them; returns the rows written. The views stay
    as the view counter left them, and the tickets' columns are reset to zero for the tickets
    half to fill (tickets.services.insights). Call inside the rollup's transaction."""
    if not days:
        return 0
    dialect = Dialect()
    tally = quoted(GuideDayTally)
    placeholders, day_params = _day_list(dialect, days)
    resets = ", ".join(
        [
            *(
                f"{quoted(GuideDayTally, name)} = 0"
                for name in (*FUNNEL_COLUMNS, *TICKET_COLUMNS[:2])
            ),
            f"{quoted(GuideDayTally, 'solve_seconds')} = {dialect.histogram_empty()}",
        ]
    )
    day_column = quoted(GuideDayTally, "day")
    att, att_params = attempts_cte(dialect, days)
    columns = [
        "day", "guide", "version", "company", "language", "views", *FUNNEL_COLUMNS,
        *TICKET_COLUMNS,
    ]  # fmt: skip
    column_list = ", ".join(quoted(GuideDayTally, name) for name in columns)
    ended = ", ".join(
        f"SUM(CASE WHEN att.status = '{status}' THEN 1 ELSE 0 END)"
        for status in (AttemptStatus.RESOLVED, AttemptStatus.ABANDONED, AttemptStatus.ESCALATED)
    )
    conflict = ", ".join(quoted(GuideDayTally, name) for name in ("version", "language", "day"))
    updates = ", ".join(
        f"{quoted(GuideDayTally, name)} = EXCLUDED.{quoted(GuideDayTally, name)}"
        for name in FUNNEL_COLUMNS
    )
    g = quoted(Guide)
    sql = f"""
    WITH {att}
    INSERT INTO {tally} ({column_list})
    SELECT att.day, att.guide_id, att.version_id, g.{quoted(Guide, "company")}, att.language,
           0, COUNT(*), {ended}, 0, 0, {dialect.histogram_empty()}
    FROM att JOIN {g} g ON g.{quoted(Guide, "id")} = att.guide_id
    WHERE true
    GROUP BY att.day, att.guide_id, att.version_id, g.{quoted(Guide, "company")}, att.language
    ON CONFLICT ({conflict}) DO UPDATE SET {updates}
    """  # noqa: S608 (the models' own table and column names; values are parameters)
    with connection.cursor() as cursor:
        # Zero first: a day's row whose attempts are gone (or moved to another version) must
        # not keep its old counts. Rows locked here in their key order, as the view counter
        # locks them (guides.view_counts), so the two never wait on each other in a cycle.
        cursor.execute(
            f"SELECT {quoted(GuideDayTally, 'id')} FROM {tally} WHERE {day_column} IN"  # noqa: S608
            f" ({placeholders}) ORDER BY {conflict}"
            + (" FOR UPDATE" if dialect.postgresql else ""),
            day_params,
        )
        cursor.execute(
            f"UPDATE {tally} SET {resets} WHERE {day_column} IN ({placeholders})",  # noqa: S608
            day_params,
        )
        cursor.execute(sql, att_params)
        return rows_written(cursor)


def guide_tallies_prune(*, days: Sequence[date]) -> int:
    """Delete the guide tallies of ``days`` left with nothing in them (no views, no attempts):
    the rows of a version whose attempts all went. Last step of a rollup."""
    if not days:
        return 0
    dialect = Dialect()
    placeholders, day_params = _day_list(dialect, days)
    empty = " AND ".join(
        f"{quoted(GuideDayTally, name)} = 0"
        for name in ("views", *FUNNEL_COLUMNS, "tickets_solved", "tickets_reopened")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {quoted(GuideDayTally)} WHERE {quoted(GuideDayTally, 'day')} IN"  # noqa: S608
            f" ({placeholders}) AND {empty}",
            day_params,
        )
        return cursor.rowcount


def days_changed_since(since: datetime | None) -> set[date]:
    """The start days of the counted attempts changed at or after ``since`` (all of them for
    None): every change of an attempt (a new one, an outcome, abandoning, escalating) moves
    its updated_at. attempt_updated_idx serves it."""
    attempts = Attempt.objects.filter(guide_version__isnull=False)
    if since is not None:
        attempts = attempts.filter(updated_at__gte=since)
    return set(
        attempts.order_by()
        .annotate(day=TruncDate("started_at", tzinfo=UTC))
        .values_list("day", flat=True)
        .distinct()
    )


def days_tallied() -> set[date]:
    """Every day that has a tally: a full rollup recomputes these too, so that tallies of
    attempts since deleted go."""
    return set(GuideDayTally.objects.order_by().values_list("day", flat=True).distinct()) | set(
        StepDayTally.objects.order_by().values_list("day", flat=True).distinct()
    )
