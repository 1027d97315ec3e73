"""Webhooks out: supervisors register endpoints; what happens to tickets is posted to them,
signed, at least once.

Recording: an event is recorded in the transaction of the change it tells about, as one
WebhookDelivery per subscribed active endpoint (a rolled-back change posts nothing), and the
deliveries are announced (signals.webhook_deliveries_recorded) so tickets.tasks sends each one
after commit. Ticket events come from the one event writer (services._common._event); the
escalation and the new ticket from the worker's batch (services.escalation). Both read "is any
endpoint active?" in the statement that locks their rows (webhooks_active), so a desk without
endpoints pays no statement for webhooks, the customer's escalate request none at all.

Sending: webhook_delivery_attempt claims a due delivery with one conditional UPDATE (a lease
past the try's end), posts it with the timeout, and records the outcome: delivered, or the
next try after WEBHOOK_RETRY_SCHEDULE (jittered), or failed when the schedule is spent. Tries
due soon are sent with a countdown; later ones, and any a lost task or dead worker left, by
beat's sweep (webhook_deliveries_due). After WEBHOOK_DISABLE_AFTER failed tries in a row the
endpoint is switched off and the supervisors told.

Targets (SSRF): only http and https, and no private, loopback, link-local or reserved address
unless WEBHOOK_ALLOW_PRIVATE_TARGETS; checked when the URL is given and again at each try, on
the addresses the try then connects to (a name that resolved to a public address at
registration may resolve to an internal one later).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import random
import re
import socket
import ssl
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.text import one_line, plain_text
from tickets import signals
from tickets.models import (
    Ticket,
    TicketEvent,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
from tickets.services.exceptions import TicketError

if TYPE_CHECKING:
    from guides.models import Attempt
    from tickets.models import AgentProfile
    from tickets.services._common import Actor

logger = logging.getLogger(__name__)

# The longest a registration waits for the target's name to resolve: a form or an API call
# must answer, and a name that takes longer is as good as unknown.
DNS_CHECK_TIMEOUT = 2.0
# How much of the receiver's answer the log keeps.
RESPONSE_EXCERPT_LENGTH = 500
USER_AGENT = "Helpdesk-Webhooks/1"


class WebhookError(TicketError):
    code = "webhook_error"


class WebhookEndpointDisabled(WebhookError):
    code = "endpoint_disabled"
    status = 409
    field = None


# --- the target's address (SSRF) ---------------------------------------------------------------

# A DNS name as it may appear in a URL: letters, digits and hyphens in dot-separated labels.
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
# Names that only mean something inside a network: never looked up when private targets are
# refused.
_INTERNAL_SUFFIXES = (
    "localhost",
    ".localhost",
    ".local",
    ".internal",
    ".localdomain",
    ".home.arpa",
)

# getaddrinfo has no timeout of its own: it runs here, and the caller waits a bounded time.
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def _address_allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        return True
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return address.is_global and not address.is_multicast


def _target(url: str) -> Target:
    """The URL's parts, or a WebhookError saying what is wrong with it; no DNS."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise WebhookError(_("Enter a valid URL."), field="url") from None
    if parts.scheme not in ("http", "https"):
        raise WebhookError(_("Only http and https URLs can receive webhooks."), field="url")
    if parts.username is not None or parts.password is not None:
        raise WebhookError(
            _("Put no user name or password in the URL: the signature proves the sender."),
            field="url",
        )
    host = (parts.hostname or "").lower()
    if not host:
        raise WebhookError(_("Enter a valid URL."), field="url")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME.match(host.rstrip(".")):
            raise WebhookError(_("Enter a valid URL."), field="url") from None
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    default_port = 443 if parts.scheme == "https" else 80
    return Target(scheme=parts.scheme, host=host, port=port or default_port, path=path)


def _addresses(target: Target, *, timeout: float) -> list[str]:
    """The addresses the target's host stands for, each one allowed; a WebhookError when the
    host is refused, does not resolve within ``timeout``, or resolves to a refused address."""
    refused = WebhookError(
        _("This URL points to a private or local address; webhooks are not sent there."),
        field="url",
    )
    try:
        literal = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        if not _address_allowed(literal):
            raise refused
        return [str(literal)]
    name = target.host.rstrip(".")
    if not settings.WEBHOOK_ALLOW_PRIVATE_TARGETS and (
        name == "localhost" or name.endswith(_INTERNAL_SUFFIXES)
    ):
        raise refused
    future = _resolver.submit(
        socket.getaddrinfo, name, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    try:
        found = future.result(timeout=timeout)
    except (FutureTimeout, OSError, UnicodeError):
        future.cancel()
        raise WebhookError(_("The host of this URL could not be found."), field="url") from None
    addresses = []
    for _family, _type, _proto, _name, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if not _address_allowed(address):
            raise refused
        addresses.append(str(address))
    if not addresses:
        raise WebhookError(_("The host of this URL could not be found."), field="url")
    return addresses


def webhook_url_check(url: str) -> str:
    """The URL as it will be stored, once it is http(s) and its host is allowed (SSRF); a
    WebhookError on ``url`` otherwise. Resolving a name waits DNS_CHECK_TIMEOUT at most."""
    url = url.strip()
    _addresses(_target(url), timeout=DNS_CHECK_TIMEOUT)
    return url


# --- endpoints -----------------------------------------------------------------------------------


def _events_checked(events: list[str]) -> list[str]:
    unknown = [event for event in events if event not in WebhookEventType.values]
    if unknown or not events:
        raise WebhookError(
            _("Choose one or more of: %(types)s.") % {"types": ", ".join(WebhookEventType.values)},
            field="events",
        )
    return sorted(set(events))


def _manage_check(actor: Actor | None, permission: str) -> None:
    if actor is not None and not actor.has_perm(permission):
        raise WebhookError(
            _("Only supervisors manage webhooks."), code="not_permitted", status=403, field=None
        )


def _name_checked(name: str) -> str:
    name = one_line(plain_text(name)).strip()
    if not name:
        raise WebhookError(_("Give the endpoint a name."), field="name")
    return name[:100]


@transaction.atomic
def webhook_endpoint_register(
    *, name: str, url: str, events: list[str], actor: Actor | None
) -> tuple[WebhookEndpoint, str]:
    """A new active endpoint and its secret, which the caller shows once."""
    _manage_check(actor, "tickets.add_webhookendpoint")
    # The URL last: its check may wait on DNS, worth it only for an otherwise valid request.
    name, events = _name_checked(name), _events_checked(events)
    endpoint = WebhookEndpoint(
        name=name, events=events, url=webhook_url_check(url),
        secret=WebhookEndpoint.secret_new(),
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )  # fmt: skip
    endpoint.save()
    return endpoint, endpoint.secret


@transaction.atomic
def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: Actor | None,
    name: str | None = None,
    url: str | None = None,
    events: list[str] | None = None,
    is_active: bool | None = None,
) -> WebhookEndpoint:
    """Change what an endpoint receives, or switch it on or off. Switching on starts its
    failure count again; deliveries that failed meanwhile are redelivered by hand."""
    _manage_check(actor, "tickets.change_webhookendpoint")
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    fields = ["updated_at"]
    if name is not None:
        endpoint.name = _name_checked(name)
        fields.append("name")
    if url is not None and url.strip() != endpoint.url:
        endpoint.url = webhook_url_check(url)
        fields.append("url")
    if events is not None:
        endpoint.events = _events_checked(events)
        fields.append("events")
    if is_active is not None and is_active != endpoint.is_active:
        if is_active:
            endpoint.is_active, endpoint.disabled_at, endpoint.disabled_reason = True, None, ""
            endpoint.consecutive_failures = 0
            fields += ["is_active", "disabled_at", "disabled_reason", "consecutive_failures"]
        else:
            _endpoint_off(endpoint, reason=_("Switched off by %(user)s.") % {"user": actor})
            return endpoint
    endpoint.updated_at = timezone.now()
    endpoint.save(update_fields=fields)
    return endpoint


@transaction.atomic
def webhook_secret_rotate(*, endpoint: WebhookEndpoint, actor: Actor | None) -> str:
    """A new secret, returned once. The one it replaces still signs, beside it, for
    WEBHOOK_ROTATION_OVERLAP seconds, so receivers can switch without losing a delivery."""
    _manage_check(actor, "tickets.change_webhookendpoint")
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    now = timezone.now()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + timedelta(seconds=settings.WEBHOOK_ROTATION_OVERLAP)
    endpoint.secret = WebhookEndpoint.secret_new()
    endpoint.updated_at = now
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    return endpoint.secret


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: Actor | None) -> None:
    """Remove an endpoint and its delivery log; tries under way find nothing to record."""
    _manage_check(actor, "tickets.delete_webhookendpoint")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()


def _endpoint_off(endpoint: WebhookEndpoint, *, reason: str) -> bool:
    """Switch the endpoint off with ``reason``; its pending deliveries fail (they can be
    redelivered once it is on again). False when it was off already."""
    now = timezone.now()
    switched = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False, disabled_at=now, disabled_reason=reason[:300], updated_at=now
    )
    if switched:
        endpoint.is_active, endpoint.disabled_at, endpoint.disabled_reason = False, now, reason
        WebhookDelivery.objects.filter(
            endpoint=endpoint, status=WebhookDelivery.Status.PENDING
        ).update(status=WebhookDelivery.Status.FAILED, next_retry_at=None)
    return bool(switched)


@transaction.atomic
def webhook_redeliver(*, delivery: WebhookDelivery, actor: Actor | None) -> WebhookDelivery:
    """Send a delivery again now, whatever became of it, with a fresh schedule of tries. The
    event keeps its id: a receiver that already handled it recognises it (Webhook-Id)."""
    _manage_check(actor, "tickets.change_webhookendpoint")
    delivery = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("endpoint")
        .get(pk=delivery.pk)
    )
    if not delivery.endpoint.is_active:
        raise WebhookEndpointDisabled(_("The endpoint is switched off; switch it on first."))
    delivery.status = WebhookDelivery.Status.PENDING
    delivery.attempts, delivery.next_retry_at = 0, timezone.now()
    delivery.save(update_fields=["status", "attempts", "next_retry_at"])
    signals.webhook_deliveries_recorded.send(sender=WebhookDelivery, delivery_ids=[delivery.pk])
    return delivery


# --- recording events ----------------------------------------------------------------------------


def webhooks_active() -> Exists:
    """Whether any endpoint is active, as an expression for a statement the caller makes
    anyway (the row lock of a ticket or of escalations): no statement of its own."""
    return Exists(WebhookEndpoint.objects.filter(is_active=True))


# The ticket events integrations hear about; internal notes and system events never leave.
TICKET_EVENT_TYPES = {
    TicketEvent.Kind.ASSIGNED: WebhookEventType.TICKET_ASSIGNED,
    TicketEvent.Kind.STATUS_CHANGED: WebhookEventType.TICKET_STATUS_CHANGED,
    TicketEvent.Kind.AGENT_REPLY: WebhookEventType.TICKET_REPLIED,
    TicketEvent.Kind.CUSTOMER_MESSAGE: WebhookEventType.TICKET_REPLIED,
    TicketEvent.Kind.RATED: WebhookEventType.TICKET_RATED,
}


def _subscriptions() -> dict[str, list[int]]:
    """The active endpoints wanting each event type, in one read."""
    wanted: dict[str, list[int]] = {event_type: [] for event_type in WebhookEventType.values}
    for pk, events in WebhookEndpoint.objects.filter(is_active=True).values_list("pk", "events"):
        for event_type in events or []:
            if event_type in wanted:
                wanted[event_type].append(pk)
    return wanted


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _agent_data(agent: AgentProfile | None) -> dict[str, Any] | None:
    return None if agent is None else {"id": agent.pk, "name": str(agent)}


def _ticket_data(ticket: Ticket) -> dict[str, Any]:
    """What every ticket event says about its ticket."""
    company = ticket.company
    return {
        "reference": ticket.reference,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "language": ticket.language,
        "queue": {"slug": ticket.queue.slug, "name": ticket.queue.name},
        "assignee": _agent_data(ticket.assignee),
        "company": None if company is None else {"slug": company.slug, "name": company.name},
        "requester": {"name": ticket.requester_name, "email": ticket.requester_email},
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "first_response_due_at": _iso(ticket.first_response_due_at),
        "resolution_due_at": _iso(ticket.resolution_due_at),
        "url": settings.SITE_URL + reverse("admin:tickets_ticket_change", args=[ticket.pk]),
    }


@dataclass(frozen=True)
class _Event:
    type: str
    data: dict[str, Any]
    occurred_at: datetime
    endpoints: list[int]


def _record(events: list[_Event]) -> list[WebhookDelivery]:
    """One delivery per event and subscribed endpoint, in one INSERT, announced to be sent
    after commit. An event has one id, whichever endpoints it goes to."""
    now = timezone.now()
    deliveries = []
    for event in events:
        event_id = uuid.uuid4()
        payload = {
            "id": str(event_id), "type": event.type,
            "created_at": event.occurred_at.isoformat(), "data": event.data,
        }  # fmt: skip
        deliveries += [
            WebhookDelivery(
                endpoint_id=endpoint_id,
                event_id=event_id,
                event_type=event.type,
                payload=payload,
                next_retry_at=now,
                created_at=now,
            )
            for endpoint_id in event.endpoints
        ]
    if not deliveries:
        return []
    WebhookDelivery.objects.bulk_create(deliveries)
    signals.webhook_deliveries_recorded.send(
        sender=WebhookDelivery, delivery_ids=[delivery.pk for delivery in deliveries]
    )
    return deliveries


def ticket_event_publish(*, event: TicketEvent, ticket: Ticket) -> list[WebhookDelivery]:
    """Record the webhook deliveries of a ticket event, if it is one integrations hear about
    and an endpoint wants it. ``ticket`` may carry ``webhooks_on`` from its lock statement
    (webhooks_active); without it, one read of the endpoints answers."""
    event_type = TICKET_EVENT_TYPES.get(event.kind)  # type: ignore[call-overload]
    if event_type is None or getattr(ticket, "webhooks_on", None) is False:
        return []
    endpoints = _subscriptions()[event_type]
    if not endpoints:
        return []
    data: dict[str, Any] = {"ticket": _ticket_data(ticket)}
    change = event.change or {}
    if event_type == WebhookEventType.TICKET_STATUS_CHANGED:
        data.update(
            {"from": change.get("from"), "to": change.get("to"),
             "by_customer": bool(change.get("by_customer"))}
        )  # fmt: skip
    elif event_type == WebhookEventType.TICKET_REPLIED:
        by_agent = event.kind == TicketEvent.Kind.AGENT_REPLY
        author = event.author.get_full_name() or event.author.get_username() if event.author else ""
        data["message"] = {
            "id": event.pk, "by": "agent" if by_agent else "customer",
            "author": author if by_agent else ticket.requester_name, "body": event.body,
            "created_at": _iso(event.created_at),
        }  # fmt: skip
    elif event_type == WebhookEventType.TICKET_RATED:
        data["rating"] = {
            "score": change.get("score"), "previous_score": change.get("from"),
            "comment": change.get("note", ""),
        }  # fmt: skip
    return _record([_Event(event_type, data, event.created_at, endpoints)])


def tickets_created_publish(
    *, attempts: list[Attempt], tickets: list[Ticket], agents: list[AgentProfile | None]
) -> None:
    """The escalation worker's events of a batch: for each new ticket, the customer's request
    (escalation.requested, dated when they asked), the ticket (ticket.created) and, when it
    was assigned as it was made, ticket.assigned. Called only when webhooks_active said so."""
    wanted = _subscriptions()
    worker_types = (
        WebhookEventType.ESCALATION_REQUESTED, WebhookEventType.TICKET_CREATED,
        WebhookEventType.TICKET_ASSIGNED,
    )  # fmt: skip
    if not any(wanted[event_type] for event_type in worker_types):
        return
    events: list[_Event] = []
    for attempt, ticket, agent in zip(attempts, tickets, agents, strict=True):
        summary = _ticket_data(ticket)
        guide = attempt.guide
        request = {
            "attempt": attempt.pk,
            "reference": ticket.reference,
            "guide": None if guide is None else {"id": guide.pk, "title": guide.title},
            "language": attempt.language,
            "description": attempt.description,
            "contact": {"name": attempt.contact_name, "email": attempt.contact_email},
            "tried_steps": ticket.tried_steps,
            "requested_at": _iso(attempt.escalation_requested_at),
        }
        events += [
            _Event(
                WebhookEventType.ESCALATION_REQUESTED, request,
                attempt.escalation_requested_at or ticket.created_at,
                wanted[WebhookEventType.ESCALATION_REQUESTED],
            ),
            _Event(
                WebhookEventType.TICKET_CREATED, {"ticket": summary}, ticket.created_at,
                wanted[WebhookEventType.TICKET_CREATED],
            ),
        ]  # fmt: skip
        if agent is not None:
            events.append(
                _Event(
                    WebhookEventType.TICKET_ASSIGNED,
                    {"ticket": summary},
                    ticket.created_at,
                    wanted[WebhookEventType.TICKET_ASSIGNED],
                )
            )
    _record(events)


# --- sending -------------------------------------------------------------------------------------


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
        target = _target(url)
        addresses = _addresses(target, timeout=timeout)
    except WebhookError as refused:
        return TryOutcome(None, _excerpt(f"Refused: {refused.message}"))
    address = addresses[0]
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


def _retry_delay(tries: int) -> float | None:
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
    delay = _retry_delay(delivery.attempts)
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
            if _endpoint_off(delivery.endpoint, reason=reason):
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
