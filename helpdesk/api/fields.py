"""Input fields that accept exactly the JSON type the schema documents.

DRF's own fields coerce (0 becomes "0", "true" becomes True, "5" becomes 5); the API promises
its schema, so a value of the wrong JSON type is a 400 naming the field.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from rest_framework import serializers

# The column every e-mail address is stored in (Django's EmailField, RFC 5321's 254); the
# address validator alone allows 320, which the database then refuses.
EMAIL_MAX_LENGTH = models.EmailField().max_length


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "Not a valid string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictEmailField(serializers.EmailField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", EMAIL_MAX_LENGTH)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictChoiceField(serializers.ChoiceField):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class StrictIntegerChoiceField(serializers.ChoiceField):
    """A choice among integers that must arrive as a JSON integer (not "3", not true)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)
