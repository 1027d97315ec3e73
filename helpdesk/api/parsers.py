"""The API's one request parser: JSON, with limits on what a body may hold.

No request of this API needs more than a few levels of nesting, so a body nested deeper than
MAX_JSON_DEPTH is refused with a 400 instead of reaching the serializers (or, a thousand
levels deep, overflowing the decoder's recursion limit: a 500). Strings may not carry lone
UTF-16 surrogates (JSON's "\\ud800" escape): no text field can store or echo them, and the
error message that quoted one could not even be encoded. And a body is read only up to
DATA_UPLOAD_MAX_MEMORY_SIZE, the limit Django applies to form posts: DRF reads the request
stream itself, past Django's check, so without it any size would be read into memory.
"""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Deeper than any request body of the API (the deepest, a list of objects, is three levels).
MAX_JSON_DEPTH = 32
DEPTH_MESSAGE = "JSON parse error - nested deeper than %(depth)s levels."
TOO_LARGE_MESSAGE = "JSON parse error - the body is larger than %(limit)s bytes."
SURROGATE_MESSAGE = "JSON parse error - a string holds a lone surrogate (\\ud800-\\udfff)."


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def json_body_check(data: Any, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise ParseError when a decoded body nests deeper than max_depth or holds a string (or
    key) with a lone surrogate. Iterative, so checking costs no recursion of its own."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if _has_lone_surrogate(value):
                raise ParseError(SURROGATE_MESSAGE)
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > max_depth:
            raise ParseError(DEPTH_MESSAGE % {"depth": max_depth})
        if isinstance(value, dict):
            pending.extend((key, depth) for key in value)
            pending.extend((item, depth + 1) for item in value.values())
        else:
            pending.extend((item, depth + 1) for item in value)


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None:
            body = stream.read(limit + 1)
            if len(body) > limit:
                raise ParseError(TOO_LARGE_MESSAGE % {"limit": limit})
            stream = io.BytesIO(body)
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:  # the decoder's own limit: far deeper than MAX_JSON_DEPTH
            raise ParseError(DEPTH_MESSAGE % {"depth": MAX_JSON_DEPTH}) from None
        json_body_check(data)
        return data
