"""Queues, agents, routing rules and SLA policies: who answers a ticket, and by when."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from guides.models import Company, Language, Tag
from helpdesk.text import OneLineCharField


class Priority(models.IntegerChoices):
    LOW = 1, _("Low")
    NORMAL = 2, _("Normal")
    HIGH = 3, _("High")
    URGENT = 4, _("Urgent")


class Queue(models.Model):
    name = OneLineCharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    # Languages the queue serves; empty means any.
    languages = models.JSONField(_("languages"), default=list, blank=True)
    members: models.ManyToManyField = models.ManyToManyField(
        "AgentProfile", related_name="queues", blank=True, verbose_name=_("members")
    )
    supervisors = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="supervised_queues",
        blank=True,
        verbose_name=_("supervisors"),
    )
    is_fallback = models.BooleanField(
        _("is fallback"), default=False, help_text=_("Tickets no routing rule matches land here.")
    )
    auto_assign = models.BooleanField(
        _("assign automatically"),
        default=True,
        help_text=_(
            "Give each new ticket to the member with the fewest open tickets. Untick to let "
            "the members pick their next ticket with “Claim next ticket” instead."
        ),
    )
    schedule = models.ForeignKey(
        "BusinessSchedule",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="queues",
        verbose_name=_("business schedule"),
        help_text=_(
            "The working hours and holidays the SLA targets count. Empty: around the clock."
        ),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("queue")
        verbose_name_plural = _("queues")
        constraints = [
            models.UniqueConstraint(
                fields=["is_fallback"], condition=Q(is_fallback=True), name="queue_one_fallback"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AgentProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="agent_profile",
        verbose_name=_("user"),
    )
    languages = models.JSONField(_("languages"), default=list, blank=True)
    skills = models.JSONField(_("skills"), default=list, blank=True)
    capacity = models.PositiveSmallIntegerField(
        _("capacity"), default=10, help_text=_("Most open tickets.")
    )
    is_available = models.BooleanField(_("is available"), default=True)
    last_assigned_at = models.DateTimeField(_("last assigned at"), null=True, blank=True)
    # Kept in step with the agent's open tickets by the assignment services, so that "under
    # capacity" is one conditional UPDATE (see tickets.services.agent_claim_slot).
    open_tickets = models.PositiveIntegerField(_("open tickets"), default=0)

    class Meta:
        ordering = ["user__username"]
        verbose_name = _("agent profile")
        verbose_name_plural = _("agent profiles")
        constraints = [
            models.CheckConstraint(
                condition=Q(open_tickets__gte=0), name="agent_open_tickets_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()


class RoutingRule(models.Model):
    """Conditions on an escalation; the first active rule (by position) that matches wins."""

    position = models.PositiveIntegerField(_("position"), default=100)
    name = OneLineCharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("is active"), default=True)
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("company")
    )
    tag = models.ForeignKey(
        Tag, on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("tag")
    )
    language = models.CharField(_("language"), max_length=8, choices=Language.choices, blank=True)
    keywords = OneLineCharField(
        _("keywords"),
        max_length=300,
        blank=True,
        help_text=_("Comma-separated; any one in the description."),
    )
    queue = models.ForeignKey(
        Queue, on_delete=models.CASCADE, related_name="routing_rules", verbose_name=_("queue")
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        constraints = [
            models.CheckConstraint(
                condition=Q(priority__in=Priority.values), name="routing_rule_priority_known"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SLAPolicy(models.Model):
    queue = models.ForeignKey(
        Queue, on_delete=models.CASCADE, related_name="sla_policies", verbose_name=_("queue")
    )
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices)
    first_response_minutes = models.PositiveIntegerField(_("first response minutes"))
    resolution_minutes = models.PositiveIntegerField(_("resolution minutes"))

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        constraints = [
            models.UniqueConstraint(fields=["queue", "priority"], name="sla_one_per_priority"),
            models.CheckConstraint(
                condition=Q(first_response_minutes__gt=0, resolution_minutes__gt=0),
                name="sla_targets_positive",
            ),
            models.CheckConstraint(
                condition=Q(resolution_minutes__gte=models.F("first_response_minutes")),
                name="sla_resolution_after_first_response",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.queue} · {self.get_priority_display()}"


class RoutingVersion(models.Model):
    """One row whose token changes, in the same transaction, with every change of what routing
    reads: routing rules, queues, SLA policies, tags. The workers keep the routing table per
    process and read the token with each attempt (tickets.services.routing.routing_table), so a
    change is seen by every process from its commit on, with no extra query per ticket."""

    token = models.BigIntegerField(_("token"), default=0)

    class Meta:
        verbose_name = _("routing version")
        verbose_name_plural = _("routing versions")

    def __str__(self) -> str:
        return str(self.token)
