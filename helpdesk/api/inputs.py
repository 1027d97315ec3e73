"""Reading a request's input, the same way in every app's API: a body through a serializer,
a page size, a slug filter. A bad value is a 400 in the error shape, on the field it concerns."""

from __future__ import annotations

import django_filters
from django import forms
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

# An empty filter value means "no filter", as django-filter treats it.
SLUG_PATTERN = r"^[-a-zA-Z0-9_]*$"


def validated(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    """The request body checked by ``serializer_class``: its validated data, or a 400."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def page_size(request: Request, *, parameter: str, default: int, maximum: int) -> int:
    """The page size asked for in ``parameter``, ``default`` without one; anything but a
    whole number from 1 to ``maximum`` (in ASCII digits) is a 400, not silently ignored."""
    raw = request.query_params.get(parameter)
    if raw is None:
        return default
    size = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 6 else 0
    if not 1 <= size <= maximum:
        raise ValidationError({parameter: [f"Must be a whole number from 1 to {maximum}."]})
    return size


class SlugFilter(django_filters.CharFilter):
    """A filter on a slug: a value that cannot be a slug is a 400 rather than no match."""

    field_class = forms.SlugField
