"""Names for the few statements written as SQL text: a model's table or column, quoted for the
database in use, taken from the model so that a renamed field cannot leave a statement behind."""

from __future__ import annotations

from typing import Any


def quoted(model: Any, field: str | None = None) -> str:
    """A model's table, or the column of one of its fields (``"pk"`` for its primary key),
    quoted for this database."""
    from django.db import connection

    meta = model._meta
    if field is None:
        return connection.ops.quote_name(meta.db_table)
    column = meta.pk.column if field == "pk" else meta.get_field(field).column
    return connection.ops.quote_name(column)
