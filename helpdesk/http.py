"""Who is asking: the client address that per-address limits count against."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The client's address, as DRF's throttles see it (REST_FRAMEWORK["NUM_PROXIES"] is the
    same setting), so the status page and the API count one customer as one.

    With no trusted proxy, REMOTE_ADDR. Behind N proxies, each appends the address it got the
    request from to X-Forwarded-For, so the N-th entry from the right is the client as our
    outermost proxy saw it. Entries further left were written by the client and can be
    forged, so they are never read."""
    remote = request.META.get("REMOTE_ADDR") or "unknown"
    proxies = settings.TRUSTED_PROXY_COUNT
    if not proxies:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    if not hops:
        return remote
    return hops[-min(proxies, len(hops))]
