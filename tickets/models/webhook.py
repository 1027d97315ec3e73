"""Webhooks out: the endpoints integrations register, and the log of each event's delivery to
each of them (tickets.services.webhooks sends them; docs/webhooks.md is the integrator's side)."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk.text import OneLineCharField


class WebhookEventType(models.TextChoices):
    ESCALATION_REQUESTED = "escalation.requested", _("Escalation requested")
    TICKET_CREATED = "ticket.created", _("Ticket created")
    TICKET_ASSIGNED = "ticket.assigned", _("Ticket assigned")
    TICKET_STATUS_CHANGED = "ticket.status_changed", _("Ticket status changed")
    TICKET_REPLIED = "ticket.replied", _("Ticket replied")
    TICKET_RATED = "ticket.rated", _("Satisfaction received")


class WebhookEndpoint(models.Model):
    """Where a supervisor asked events to be posted, signed with a secret they hold too.

    The secret is kept in clear, unlike an API token's key: every delivery signs with it. A
    rotation keeps the previous secret until ``previous_secret_expires_at``, and deliveries
    meanwhile carry both signatures, so the receiver can switch at its own pace.
    """

    SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret

    name = OneLineCharField(
        _("name"), max_length=100, help_text=_("What receives it, e.g. 'CRM sync'.")
    )
    url = models.URLField(_("URL"), max_length=500)
    # A list of WebhookEventType values (tickets.services.webhooks checks them).
    events = models.JSONField(_("events"), default=list)
    secret = models.CharField(_("secret"), max_length=100, editable=False)
    previous_secret = models.CharField(
        _("previous secret"), max_length=100, blank=True, editable=False
    )
    previous_secret_expires_at = models.DateTimeField(
        _("previous secret expires at"), null=True, blank=True, editable=False
    )
    is_active = models.BooleanField(_("active"), default=True)
    disabled_reason = models.CharField(_("disabled because"), max_length=300, blank=True)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True)
    # Failed tries in a row, over all its deliveries; a success sets it back to zero.
    consecutive_failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        constraints = [
            # A previous secret lives only with its expiry.
            models.CheckConstraint(
                condition=Q(previous_secret="", previous_secret_expires_at__isnull=True)
                | (~Q(previous_secret="") & Q(previous_secret_expires_at__isnull=False)),
                name="webhook_previous_secret_expires",
            ),
            models.CheckConstraint(
                condition=Q(is_active=False) | Q(disabled_at__isnull=True),
                name="webhook_active_not_disabled",
            ),
        ]
        indexes = [
            # "Any active endpoint for this event?" on every recorded ticket event
            # (tickets.services.webhooks): a tiny partial index, usually empty.
            models.Index(fields=["id"], condition=Q(is_active=True), name="webhook_active_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def secret_new(cls) -> str:
        return cls.SECRET_PREFIX + secrets.token_urlsafe(32)

    def signing_secrets(self, now=None) -> list[str]:
        """The secrets a delivery is signed with now: the current one, and the previous one
        while the rotation's overlap lasts."""
        now = now or timezone.now()
        found = [self.secret]
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and now < expires:
            found.append(self.previous_secret)
        return found


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event for one endpoint, and how its tries went. Written in the transaction of the
    change it tells about; sent after commit, and again until it succeeds or its schedule ends.

    ``next_retry_at`` is when a pending delivery is due; a try that starts moves it past the
    try's end (a lease), so a second worker or the retry sweep leave it alone meanwhile, and a
    try whose worker died is due again once the lease ends."""

    Status = WebhookDeliveryStatus

    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("endpoint"),
    )
    # The event's id, the same for every endpoint; the receiver's Webhook-Id.
    event_id = models.UUIDField(_("event id"), default=uuid.uuid4, editable=False)
    event_type = models.CharField(_("event type"), max_length=40, choices=WebhookEventType.choices)
    # The body as posted: {"id", "type", "created_at", "data"}.
    payload = models.JSONField(_("payload"))
    attempts = models.PositiveSmallIntegerField(_("tries"), default=0)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=WebhookDeliveryStatus.choices,
        default=WebhookDeliveryStatus.PENDING,
    )
    last_status_code = models.PositiveSmallIntegerField(
        _("last HTTP status"), null=True, blank=True
    )
    last_response = models.CharField(_("last response"), max_length=500, blank=True)
    last_attempt_at = models.DateTimeField(_("last try at"), null=True, blank=True)
    next_retry_at = models.DateTimeField(_("next try at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            # One delivery per event per endpoint, whatever retries happen upstream.
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="webhook_delivery_event_unique"
            ),
            models.CheckConstraint(
                condition=Q(status__in=WebhookDeliveryStatus.values),
                name="webhook_delivery_status_known",
            ),
            models.CheckConstraint(
                condition=Q(event_type__in=WebhookEventType.values),
                name="webhook_delivery_type_known",
            ),
            models.CheckConstraint(
                condition=~Q(status=WebhookDeliveryStatus.DELIVERED)
                | Q(delivered_at__isnull=False),
                name="webhook_delivered_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status=WebhookDeliveryStatus.PENDING) | Q(next_retry_at__isnull=False),
                name="webhook_pending_has_next_try",
            ),
        ]
        indexes = [
            # The retry sweep (webhook_deliveries_due): pending deliveries by due time.
            models.Index(
                fields=["next_retry_at"],
                condition=Q(status="pending"),
                name="webhook_delivery_due_idx",
            ),
            # An endpoint's deliveries, newest first (admin inline, API list).
            models.Index(
                "endpoint",
                models.F("created_at").desc(),
                models.F("id").desc(),
                name="webhook_delivery_endpoint_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"
