"""Writing generated rows fast: COPY on PostgreSQL, bulk_create elsewhere; then the counters
the services keep (AgentProfile.open_tickets) recounted, and the planner's statistics."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from django.db import connection, models
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from guides.models import Attempt
from tickets.generation.setup import GenerationError
from tickets.models import OPEN_TICKET_STATUSES, AgentProfile, Ticket, TicketEvent


class Table:
    """The columns of one model's table that a batch writes, the model's default for the rest."""

    def __init__(self, model: type[models.Model], columns: Sequence[str]) -> None:
        self.model = model
        self.name = model._meta.db_table
        fields = {f.column: f for f in model._meta.concrete_fields}
        unknown = set(columns) - set(fields)
        if unknown:
            raise GenerationError(f"{self.name} has no columns {sorted(unknown)}")
        self.extra = [f for f in fields.values() if f.column not in columns and not f.primary_key]
        for extra in self.extra:
            if (
                extra.has_default()
                and callable(extra.default)
                and extra.default not in (dict, list)
            ):
                raise GenerationError(f"{self.name}.{extra.column} needs a generated value")
        self.columns = [*columns, *(f.column for f in self.extra)]
        self.attnames = [fields[c].attname for c in self.columns]
        self.json_positions = [
            i for i, c in enumerate(self.columns) if isinstance(fields[c], models.JSONField)
        ]
        self.extra_values = tuple(f.get_default() for f in self.extra)

    def rows(self, rows: list[tuple]) -> Iterator[tuple]:
        extra = self.extra_values
        for row in rows:
            yield row + extra


ATTEMPTS = Table(
    Attempt,
    [
        "id", "guide_id", "company_id", "token_hash", "language", "status", "started_at",
        "updated_at", "finished_at", "contact_name", "contact_email", "description",
        "escalation_requested_at", "escalation_deliveries",
    ],
)  # fmt: skip
TICKETS = Table(
    Ticket,
    [
        "id", "reference", "attempt_id", "company_id", "guide_id", "language", "subject",
        "description", "requester_name", "requester_email", "tried_steps", "queue_id",
        "assignee_id", "status", "priority", "routing_reason", "created_at", "updated_at",
        "first_response_due_at", "resolution_due_at", "first_responded_at", "solved_at",
        "closed_at", "first_response_breached", "resolution_breached", "sla_breached",
        "customer_notified_at", "sla_paused_at", "first_response_at_risk_from",
        "resolution_at_risk_from",
    ],
)  # fmt: skip
EVENTS = Table(TicketEvent, ["ticket_id", "kind", "author_id", "body", "change", "created_at"])


class CopyWriter:
    """PostgreSQL: ids reserved from the table's sequence, rows streamed with COPY."""

    def ids_reserve(self, model: type[models.Model], count: int) -> int:
        table = model._meta.db_table
        with connection.cursor() as cursor:
            # One statement: nextval() and the jump are not interleaved with another session's
            # nextval() in between in practice; a concurrent insert would at worst fail on the
            # primary key, never corrupt a row.
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'),"
                " nextval(pg_get_serial_sequence(%s, 'id')) + %s - 1)",
                [table, table, count],
            )
            last = cursor.fetchone()[0]
        return last - count + 1

    def write(self, table: Table, rows: list[tuple]) -> None:
        columns = ", ".join(connection.ops.quote_name(c) for c in table.columns)
        json_positions = table.json_positions
        dumps = json.dumps
        sql = f"COPY {connection.ops.quote_name(table.name)} ({columns}) FROM STDIN"
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(sql) as copy:
                for row in table.rows(rows):
                    if json_positions:
                        values = list(row)
                        for i in json_positions:
                            values[i] = dumps(values[i], ensure_ascii=False)
                        copy.write_row(values)
                    else:
                        copy.write_row(row)


class BulkWriter:
    """Other databases (SQLite): explicit ids after the current maximum, bulk_create."""

    def ids_reserve(self, model: type[models.Model], count: int) -> int:
        current = model._default_manager.aggregate(top=models.Max("pk"))["top"] or 0
        return current + 1

    def write(self, table: Table, rows: list[tuple]) -> None:
        model = table.model
        attnames = table.attnames
        objects = [model(**dict(zip(attnames, row, strict=True))) for row in table.rows(rows)]
        model._default_manager.bulk_create(objects, batch_size=2_000)


def open_tickets_recount() -> int:
    """Set every agent's open_tickets to their assigned open tickets, in one UPDATE."""
    open_assigned = (
        Ticket.objects.filter(assignee=OuterRef("pk"), status__in=OPEN_TICKET_STATUSES)
        .order_by()
        .values("assignee")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return AgentProfile.objects.update(open_tickets=Coalesce(Subquery(open_assigned), 0))


def analyze() -> None:
    """PostgreSQL: fresh statistics (and visibility map) for the tables just filled."""
    if connection.vendor != "postgresql":
        return
    tables = [Attempt._meta.db_table, Ticket._meta.db_table, TicketEvent._meta.db_table]
    with connection.cursor() as cursor:
        # VACUUM also fills the visibility map, so index-only scans work at once (as they
        # would after autovacuum's first pass); it cannot run inside a transaction.
        verb = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        for table in tables:
            cursor.execute(f"{verb} {connection.ops.quote_name(table)}")
