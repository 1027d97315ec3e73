"""Plain text typed by people (customers, agents, authors): what is kept and what is not.

Bidi *override* and *isolate* controls (U+202A–U+202E, U+2066–U+2069) re-order the characters
around them when displayed: "gnp.exe" written after U+202E shows as "exe.png", a subject can
seem to say what it does not. Plain text has no use for them, so they are removed on input.
What legitimate right-to-left text needs stays: Arabic letters carry their own direction, and
the implicit marks LRM/RLM (U+200E/U+200F) cannot reorder a whole run.

Where: in the model fields below, the deepest point every path shares. The web forms, the API
serializers, the admin, the guide importer, the services and ``QuerySet.update`` all end in a
model field, so they all get the same cleaning without each remembering to call it (a form or
serializer base field would miss the admin's model forms, the importer and the services).
Two places clean earlier as well, only so that a value made of controls alone is refused with
a message rather than reaching the database as "" (and a check constraint): the customer
forms' fields (PlainTextFormField) and the services that refuse empty text. Markdown written
by authors (guide summaries, step bodies) is not plain text and keeps plain model fields: its
renderer and sanitiser deal with it. Rows stored before these fields are cleaned by the data
migrations guides/0009 and tickets/0011 (stored_text_clean).

On output, pages still isolate user text (``<bdi>``, ``dir="auto"``): an Arabic name beside
English labels (or the reverse) must not reorder its neighbours, which needs no control at all.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django import forms
from django.db import models

# LRE, RLE, PDF, LRO, RLO and LRI, RLI, FSI, PDI.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI_CONTROLS_RE = re.compile(f"[{BIDI_CONTROLS}]")


def plain_text(value: str) -> str:
    """The text without bidi override and isolate controls; everything else as typed."""
    return _BIDI_CONTROLS_RE.sub("", value)


def one_line(value: str) -> str:
    """Plain text on one line: line breaks, tabs and other control characters become one
    space, runs of spaces one space, and the ends are trimmed. For names and subjects, which
    end up in e-mail greetings and headers, where a line break would start a new line."""
    characters = (
        " " if unicodedata.category(character) in ("Cc", "Zl", "Zp") else character
        for character in plain_text(value)
    )
    return " ".join("".join(characters).split())


class PlainTextFormField(forms.CharField):
    """A form field of plain text: bidi controls removed before the required and length
    checks, so a value made only of them is "required" here rather than empty text refused
    deeper down (or stored)."""

    clean_text = staticmethod(plain_text)

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        if not isinstance(value, str) or value == self.empty_value:
            return value
        value = self.clean_text(value)
        if self.strip:
            value = value.strip()
        return value or self.empty_value


class OneLineFormField(PlainTextFormField):
    """A form field of plain text on one line (names): see one_line."""

    clean_text = staticmethod(one_line)


class _CleanedTextMixin:
    """Cleans a string on every way in: form and admin validation (to_python), saving the
    instance (pre_save, which also updates the instance so it matches the row) and
    QuerySet.update()/bulk_update() and lookups (get_prep_value).

    deconstruct() reports the parent Django field: the column is exactly the same, so the
    migration state keeps the plain field and no migration (and no SQL) is needed. Historical
    models in migrations therefore do not clean, which is what a migration wants anyway.
    """

    clean_text = staticmethod(plain_text)
    form_class: type[forms.CharField] = PlainTextFormField
    parent_path: str

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)  # type: ignore[misc]
        return self.clean_text(value) if isinstance(value, str) else value

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)  # type: ignore[misc]
        return self.clean_text(value) if isinstance(value, str) else value

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = super().pre_save(model_instance, add)  # type: ignore[misc]
        if isinstance(value, str):
            value = self.clean_text(value)
            setattr(model_instance, self.attname, value)  # type: ignore[attr-defined]
        return value

    def formfield(
        self,
        form_class: type[forms.Field] | None = None,
        choices_form_class: type[forms.ChoiceField] | None = None,
        **kwargs: Any,
    ) -> forms.Field | None:
        # The admin's forms: a title of bidi controls alone is "required", as typed.
        return super().formfield(  # type: ignore[misc]
            form_class=form_class or self.form_class,
            choices_form_class=choices_form_class,
            **kwargs,
        )

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()  # type: ignore[misc]
        return name, self.parent_path, args, kwargs


class PlainTextField(_CleanedTextMixin, models.TextField):
    """A TextField of plain text (descriptions, notes, messages): bidi controls removed."""

    parent_path = "django.db.models.TextField"


class PlainCharField(_CleanedTextMixin, models.CharField):
    """A CharField of plain text: bidi controls removed."""

    parent_path = "django.db.models.CharField"


class OneLineCharField(PlainCharField):
    """A CharField of plain text on one line (names, titles, subjects): see one_line."""

    clean_text = staticmethod(one_line)
    form_class = OneLineFormField


# --- rows stored before the cleaning ----------------------------------------------------------

_LINE_BREAKS = ("\n", "\r", "\t", "\x0b", "\x0c", "\x85", "\u2028", "\u2029")


def stored_text_clean(model: type[models.Model], fields: dict[str, Any], batch: int = 500) -> int:
    """Clean rows written before these fields existed (for a data migration, with its
    historical model, whose fields are plain): ``fields`` maps a field name to plain_text or
    one_line. Only rows holding a bidi control (or, for one_line, a line break) are read.
    A value that would become empty is left as it is: the column may require text.
    Returns the number of rows changed."""
    changed = 0
    for name, clean in fields.items():
        needles = BIDI_CONTROLS + ("".join(_LINE_BREAKS) if clean is one_line else "")
        condition = models.Q()
        for needle in needles:
            condition |= models.Q(**{f"{name}__contains": needle})
        rows = []
        for row in model._default_manager.filter(condition).only("pk", name).iterator(batch):
            value = getattr(row, name)
            cleaned = clean(value)
            if cleaned and cleaned != value:
                setattr(row, name, cleaned)
                rows.append(row)
            if len(rows) >= batch:
                model._default_manager.bulk_update(rows, [name])
                changed, rows = changed + len(rows), []
        if rows:
            model._default_manager.bulk_update(rows, [name])
            changed += len(rows)
    return changed
