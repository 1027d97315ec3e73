"""Who is asking: the client address that per-address limits count against."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle


def client_address(request: HttpRequest) -> str:
    """The client's address exactly as DRF's throttles read it, so the status page and the API
    count one customer as one: REMOTE_ADDR, or behind REST_FRAMEWORK["NUM_PROXIES"] (set from
    TRUSTED_PROXY_COUNT) trusted proxies the entry the outermost one appended to
    X-Forwarded-For. An empty entry (a malformed header) falls back to REMOTE_ADDR."""
    # get_ident reads request.META only, which a plain Django request has.
    ident = BaseThrottle().get_ident(request)  # type: ignore[arg-type]
    return ident or request.META.get("REMOTE_ADDR") or "unknown"
