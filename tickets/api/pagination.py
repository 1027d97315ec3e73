"""Keyset ("cursor") pagination for the ticket list, over a total order of its own.

DRF's CursorPagination keys the cursor on the first ordering column only and walks ties by
OFFSET; the work order starts with a boolean (breached or not), so every page after the first
would scan all the rows before it. Here the cursor holds the last row's whole sort key and the
next page starts strictly after it, which the ordering's index serves directly, at any depth.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from operator import or_
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from helpdesk.api import inputs


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool = False

    @property
    def order_by(self) -> str:
        return f"-{self.field}" if self.descending else self.field


# The orderings a client may ask for; each ends with id, so the order is total (no row is
# skipped or repeated between pages). Both match an index column for column.
ORDERINGS: dict[str, tuple[SortKey, ...]] = {
    # ticket_newest_idx
    "newest": (SortKey("created_at", descending=True), SortKey("id", descending=True)),
    # ticket_work_order_idx (tickets.selectors.WORK_ORDER)
    "work": (
        SortKey("sla_breached", descending=True),
        SortKey("priority", descending=True),
        SortKey("created_at"),
        SortKey("id"),
    ),
}


def _invalid_cursor() -> ValidationError:
    return ValidationError({"cursor": ["Invalid cursor: use the next or previous link as is."]})


class TicketCursorPagination(BasePagination):
    page_size = 20
    max_page_size = 100
    page_size_query_param = "page_size"
    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset: QuerySet, request, view=None) -> list:
        self.request = request
        self.keys: tuple[SortKey, ...] = ORDERINGS[getattr(view, "ordering_name", "newest")]
        self.page_size = inputs.page_size(
            request,
            parameter=self.page_size_query_param,
            default=self.page_size,
            maximum=self.max_page_size,
        )
        backwards, after = self._cursor(request)
        keys = self.keys
        if backwards:
            keys = tuple(SortKey(k.field, not k.descending) for k in keys)
        if after is not None:
            queryset = queryset.filter(self._after(keys, after))
        rows = list(queryset.order_by(*(k.order_by for k in keys))[: self.page_size + 1])
        has_more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if backwards:
            rows.reverse()
        # Forwards, a previous page exists when we came from a cursor; backwards, a next one.
        self.has_next = has_more if not backwards else True
        self.has_previous = (after is not None) if not backwards else has_more
        self.rows = rows
        return rows

    def get_paginated_response(self, data) -> Response:
        return Response(
            {"next": self._link(backwards=False), "previous": self._link(backwards=True),
             "results": data}
        )  # fmt: skip

    def get_paginated_response_schema(self, schema: dict) -> dict:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where the page starts: take it from a `next` or `previous` link.",
                "schema": {"type": "string", "pattern": r"^[-A-Za-z0-9_]*$"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": "Tickets per page.",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                },
            },
        ]

    # --- internals ---------------------------------------------------------------------------

    def _cursor(self, request) -> tuple[bool, list[Any] | None]:
        """(backwards, the sort key to start after) from the cursor parameter."""
        raw = request.query_params.get(self.cursor_query_param, "")
        if not raw:
            return False, None
        try:
            padded = raw + "=" * (-len(raw) % 4)
            decoded = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        except (ValueError, binascii.Error, UnicodeError):
            raise _invalid_cursor() from None
        if not (
            isinstance(decoded, dict)
            and isinstance(decoded.get("b"), bool)
            and isinstance(decoded.get("k"), list)
            and len(decoded["k"]) == len(self.keys)
        ):
            raise _invalid_cursor()
        return decoded["b"], self._typed(decoded["k"])

    def _typed(self, values: list[Any]) -> list[Any]:
        typed: list[Any] = []
        for key, value in zip(self.keys, values, strict=True):
            if key.field == "created_at":
                when = parse_datetime(value) if isinstance(value, str) else None
                if when is None:
                    raise _invalid_cursor()
                typed.append(when)
            elif key.field == "sla_breached":
                if not isinstance(value, bool):
                    raise _invalid_cursor()
                typed.append(value)
            else:  # id, priority: whole numbers in the database's range
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**62:
                    raise _invalid_cursor()
                typed.append(value)
        return typed

    @staticmethod
    def _after(keys: tuple[SortKey, ...], values: list[Any]) -> Q:
        """Rows strictly after ``values`` in the order ``keys``: (a > x) or (a = x and b > y) …"""
        alternatives = []
        for position, key in enumerate(keys):
            equal = {k.field: v for k, v in zip(keys[:position], values[:position], strict=True)}
            lookup = "lt" if key.descending else "gt"
            alternatives.append(Q(**equal, **{f"{key.field}__{lookup}": values[position]}))
        return reduce(or_, alternatives)

    def _link(self, *, backwards: bool) -> str | None:
        if backwards and not (self.has_previous and self.rows):
            return None
        if not backwards and not (self.has_next and self.rows):
            return None
        row = self.rows[0] if backwards else self.rows[-1]
        values = [getattr(row, key.field) for key in self.keys]
        cursor = _cursor_encode(backwards, values)
        params = self.request.query_params.copy()
        params[self.cursor_query_param] = cursor
        path = self.request.build_absolute_uri(self.request.path)
        return f"{path}?{urlencode(params, doseq=True)}"


def _cursor_encode(backwards: bool, values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps({"b": backwards, "k": plain}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
