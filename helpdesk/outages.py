"""A database that cannot be reached is an outage to wait out, not a server error.

Django turns an exception raised anywhere below a middleware (the view, DRF, the session or
authentication middleware loading ``request.user``, the session save in ``process_response``)
into a response at that level, so an outer middleware never sees the exception itself and a
middleware's ``process_exception`` only sees the view's. What every one of those paths does
is send ``got_request_exception`` while the exception is being handled: the receiver below
marks the request, and ``DatabaseOutageMiddleware``, the outermost, swaps whatever 500 was
built (the technical page with DEBUG on, ``handler500`` with it off) for a 503 with
``Retry-After``: the API's error shape under ``/api/``, a plain page elsewhere.

The plain page is rendered without the request, so no context processor loads the user or
the session from the database that is down.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext

from helpdesk.api.errors import error_body

logger = logging.getLogger(__name__)

_OUTAGE_ATTRIBUTE = "_helpdesk_database_outage"
# Once per this many seconds at most, whatever the number of refused requests.
LOG_INTERVAL = 60.0


def database_outage(exc: BaseException | None) -> BaseException | None:
    """The database error behind ``exc`` (itself, or one it was raised from or during)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OperationalError | InterfaceError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _note_outage(sender: object, request: HttpRequest | None = None, **kwargs: object) -> None:
    # Sent from inside the except block, so the exception being handled is the current one.
    error = database_outage(sys.exc_info()[1])
    if error is not None and request is not None:
        setattr(request, _OUTAGE_ATTRIBUTE, error)


class _OncePerInterval:
    """Says when to log again, and how many outages were answered silently meanwhile."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._last: float | None = None
        self._quiet = 0

    def due(self) -> int | None:
        """The number of outages not logged since the last log line, or None to stay quiet."""
        with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last < self.interval:
                self._quiet += 1
                return None
            self._last, quiet, self._quiet = now, self._quiet, 0
            return quiet


_log_limit = _OncePerInterval(LOG_INTERVAL)


def _log(request: HttpRequest, error: BaseException) -> None:
    quiet = _log_limit.due()
    if quiet is None:
        return
    logger.error(
        "Database unavailable, answering 503 (%s %s): %s: %s; %d more since the last report",
        request.method,
        request.path,
        error.__class__.__name__,
        str(error).strip().splitlines()[0] if str(error).strip() else "",
        quiet,
    )


class DatabaseOutageLogFilter(logging.Filter):
    """Keeps django.request from logging a traceback per refused request during an outage;
    ``_log`` reports the outage once per interval instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and database_outage(record.exc_info[1]))


def outage_response(request: HttpRequest) -> HttpResponse:
    retry_after = settings.DATABASE_OUTAGE_RETRY_AFTER
    detail = gettext("The service is briefly unavailable. Please try again in a moment.")
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body(503, "service_unavailable", detail), status=503)
    else:
        response = HttpResponse(
            render_to_string("503.html", {"detail": detail, "retry_after": retry_after}),
            status=503,
        )
    response["Retry-After"] = str(retry_after)
    add_never_cache_headers(response)
    return response


class DatabaseOutageMiddleware:
    """First in MIDDLEWARE, so every layer below it is covered (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        got_request_exception.connect(_note_outage, dispatch_uid="helpdesk.outages")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        error = getattr(request, _OUTAGE_ATTRIBUTE, None)
        if error is None:
            return response
        _log(request, error)
        return outage_response(request)
