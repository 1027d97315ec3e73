"""Refuse requests that carry control characters where no client of ours ever sends them.

PostgreSQL cannot store or even compare a NUL character: a NUL that reaches a query (a ticket
reference in the URL, an admin list filter) fails inside the database driver, a 500. Django's
form and DRF's text fields refuse NUL already; URL path segments, query-string values and the
choice fields that look their value up in the database do not. Refusing here, before any view
runs, covers every route at once, the ones added later included.

- The path: no control character (C0 or DEL) at all; our paths are slugs, references, ids.
- Query-string and form values: no NUL. Other control characters are valid text to the
  database and to the forms (a description pasted from a terminal may hold an escape).
- Cookies: a cookie with a control character is dropped, not refused, so a browser holding
  one is not locked out; no cookie of ours ever holds one.

The API answers in its JSON error shape, the web with a plain page.

One more refusal happens on the way out: SQLite cannot bind an integer beyond 64 bits, and
Django checks the range only for integer fields' own lookups, not for a foreign key's (an
admin list filter such as ?company=99999999999999999999). That number names no row: 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils import translation
from django.utils.translation import gettext as _

from helpdesk.api.errors import error_body

PATH_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
COOKIE_CONTROL = PATH_CONTROL
FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _holds_nul(pairs: Iterable[tuple[str, list[str]]]) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in pairs)


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def refusal_reason(request: HttpRequest) -> str | None:
    """Why the request is refused (the part of it at fault), or None."""
    if PATH_CONTROL.search(request.path_info):
        return "path"
    if _holds_nul(request.GET.lists()):
        return "query"
    # The API parses its own bodies (JSON only: a form is a 415 there); reading one here
    # would consume the stream before DRF sees it.
    is_form = request.method == "POST" and request.content_type in FORM_CONTENT_TYPES
    if is_form and not _is_api(request) and _holds_nul(request.POST.lists()):
        return "form"
    return None


def _cookies_clean(request: HttpRequest) -> None:
    for name in [n for n, v in request.COOKIES.items() if COOKIE_CONTROL.search(n + v)]:
        del request.COOKIES[name]


def _refusal(request: HttpRequest, part: str) -> HttpResponse:
    if _is_api(request):
        detail = {
            "path": "The URL path holds a control character.",
            "query": "A query parameter holds a NUL character.",
            "form": "A form field holds a NUL character.",
            "number": "A number in the request is too large.",
        }[part]
        return JsonResponse(error_body(400, "invalid", detail), status=400)
    # This runs before the locale middleware: answer in the language the browser asks for.
    with translation.override(translation.get_language_from_request(request)):
        message = {
            "path": _("This address holds a control character. Check the link and try again."),
            "query": _("This address holds a NUL character. Check the link and try again."),
            "form": _("The form holds a NUL character. Remove it and send again."),
            "number": _("A number in this request is too large. Check it and try again."),
        }[part]
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


def _is_integer_overflow(exc: Exception) -> bool:
    # sqlite3's message when binding an int beyond 64 bits; any other OverflowError is a bug
    # and stays a 500.
    return isinstance(exc, OverflowError) and "too large to convert to SQLite" in str(exc)


class RequestGuard:
    """Middleware: see the module docstring. Placed before the session middleware, which
    looks its cookie up in the database."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        _cookies_clean(request)
        part = refusal_reason(request)
        if part is not None:
            return _refusal(request, part)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if _is_integer_overflow(exception):
            return _refusal(request, "number")
        return None
