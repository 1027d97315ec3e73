"""Sending: claim a due delivery, post it signed within the timeout, record the outcome and
schedule the next try (or give up, or switch the endpoint off)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import random
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from tickets import signals
from tickets.models import WebhookDelivery, WebhookEndpoint
from tickets.services.exceptions import WebhookError
from tickets.services.webhooks.endpoints import endpoint_off
from tickets.services.webhooks.targets import addresses, target_of

# How much of the receiver's answer the log keeps.
RESPONSE_EXCERPT_LENGTH = 500
USER_AGENT = "Helpdesk-Webhooks/1"


def webhook_signature(*, secrets: list[str], timestamp: int, body: bytes) -> str:
    """The Webhook-Signature header: "v1=" and the hex HMAC-SHA256 of "<timestamp>.<body>"
    under each secret, comma-separated (two during a rotation's overlap)."""
    signed = f"{timestamp}.".encode() + body
    return ",".join(
        "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest() for secret in secrets
    )


@dataclass(frozen=True)
class TryOutcome:
    status_code: int | None
    excerpt: str

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _excerpt(text: str) -> str:
    return " ".join(text.split())[:RESPONSE_EXCERPT_LENGTH]


def _post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> TryOutcome:
    """POST ``body`` to ``url`` within ``timeout`` seconds overall (name lookup, connection,
    sending, the answer's status and first bytes); redirects are not followed (a 3xx fails)."""
    deadline = time.monotonic() + timeout
    try:
        target = target_of(url)
        found = addresses(target, timeout=timeout)
    except WebhookError as refused:
        return TryOutcome(None, _excerpt(f"Refused: {refused.message}"))
    address = found[0]
    remaining = max(deadline - time.monotonic(), 0.01)
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = http.client.HTTPSConnection(
            target.host, target.port, timeout=remaining, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=remaining)

    # Connect to the address just checked, not to whatever the name resolves to next (DNS
    # rebinding); TLS still checks the certificate against the host name.
    def connect(_address: Any, timeout: Any = None, source_address: Any = None) -> socket.socket:
        return socket.create_connection((address, target.port), timeout, source_address)

    connection._create_connection = connect  # type: ignore[attr-defined]

    # The socket timeout bounds each wait; this bounds them all together (a receiver that
    # dribbles its answer a byte at a time).
    def abort() -> None:
        sock = connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(remaining, abort)
    timer.daemon = True
    timer.start()
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read(RESPONSE_EXCERPT_LENGTH * 4).decode("utf-8", errors="replace")
        return TryOutcome(response.status, _excerpt(text))
    except (OSError, http.client.HTTPException) as error:
        if time.monotonic() >= deadline:
            return TryOutcome(None, _excerpt(f"No answer within {timeout:g} s"))
        return TryOutcome(None, _excerpt(f"{type(error).__name__}: {error}"))
    finally:
        timer.cancel()
        connection.close()


def retry_delay(tries: int) -> float | None:
    """Seconds before the next try after ``tries`` failed ones, jittered; None when spent."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if tries > len(schedule):
        return None
    delay = float(schedule[tries - 1])
    # Up to a quarter more, at random: the retries of a burst that failed together spread out.
    return delay * (1 + random.random() / 4)  # noqa: S311 - jitter, not a secret


def webhook_delivery_attempt(*, delivery_id: int) -> str | None:
    """Try a due delivery once and record how it went; the delivery's status after the try,
    or None when it was not due (delivered, failed, its endpoint off, or a try under way)."""
    now = timezone.now()
    timeout = float(settings.WEBHOOK_TIMEOUT)
    # The lease: long enough for the try (DNS, connection and answer are all within the
    # timeout) and its record; a worker that dies mid-try leaves it due again after that.
    lease = now + timedelta(seconds=2 * timeout + 30)
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id,
        status=WebhookDelivery.Status.PENDING,
        next_retry_at__lte=now,
        endpoint__is_active=True,
    ).update(attempts=F("attempts") + 1, last_attempt_at=now, next_retry_at=lease)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:  # its endpoint was removed since the claim
        return None
    endpoint = delivery.endpoint
    body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Webhook-Id": str(delivery.event_id),
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": webhook_signature(
            secrets=endpoint.signing_secrets(), timestamp=timestamp, body=body
        ),
    }
    outcome = _post(endpoint.url, body=body, headers=headers, timeout=timeout)
    return _outcome_record(delivery, outcome)


def _outcome_record(delivery: WebhookDelivery, outcome: TryOutcome) -> str:
    now = timezone.now()
    changes: dict[str, Any] = {
        "last_status_code": outcome.status_code, "last_response": outcome.excerpt,
    }  # fmt: skip
    endpoint = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
    if outcome.delivered:
        status = WebhookDelivery.Status.DELIVERED
        changes.update(status=status, delivered_at=now, next_retry_at=None)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**changes)
        endpoint.filter(consecutive_failures__gt=0).update(consecutive_failures=0)
        return status
    delay = retry_delay(delivery.attempts)
    if delay is None:
        status = WebhookDelivery.Status.FAILED
        changes.update(status=status, next_retry_at=None)
    else:
        status = WebhookDelivery.Status.PENDING
        changes.update(next_retry_at=now + timedelta(seconds=delay))
    # Only while the try still holds it: the endpoint may have been switched off meanwhile.
    WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.PENDING).update(
        **changes
    )
    endpoint.update(consecutive_failures=F("consecutive_failures") + 1)
    failures = endpoint.values_list("consecutive_failures", flat=True).first() or 0
    if failures >= settings.WEBHOOK_DISABLE_AFTER:
        reason = _("%(count)d failed tries in a row; the last: %(last)s") % {
            "count": failures, "last": outcome.excerpt or outcome.status_code,
        }  # fmt: skip
        with transaction.atomic():
            if endpoint_off(delivery.endpoint, reason=reason):
                signals.webhook_endpoint_disabled.send(
                    sender=WebhookEndpoint, endpoint_id=delivery.endpoint_id
                )
        return WebhookDelivery.Status.FAILED
    if delay is not None and delay < settings.WEBHOOK_RETRY_SWEEP_INTERVAL:
        # Sooner than beat's sweep would find it: sent with a countdown (short, well inside
        # the broker's visibility timeout). The sweep still finds it if this send is lost.
        signals.webhook_retry_due.send(
            sender=WebhookDelivery, delivery_id=delivery.pk, countdown=delay
        )
    return status


def webhook_deliveries_due(*, limit: int = 500) -> list[int]:
    """The pending deliveries of active endpoints whose next try is due, oldest first."""
    return list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING,
            next_retry_at__lte=timezone.now(),
            endpoint__is_active=True,
        )
        .order_by("next_retry_at")
        .values_list("pk", flat=True)[:limit]
    )
