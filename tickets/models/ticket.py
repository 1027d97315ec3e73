"""Tickets, what a failed self-help attempt becomes, and their events: the thread, the
changes and the SLA history of each."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from guides.models import Attempt, Company, Guide, Language, text_direction
from helpdesk.text import OneLineCharField, PlainTextField
from tickets.models.routing import AgentProfile, Priority, Queue, RoutingRule

# Crockford-style alphabet without look-alikes (0/O, 1/I/L), so a reference read out over the
# phone survives; 10 characters = 50 random bits, never sequential.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERENCE_LENGTH = 10


def ticket_reference_new() -> str:
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def status_token_of(reference: str, key_version: int = 1) -> str:
    """The secret of the customer's status link: an HMAC of the reference under the
    SECRET_KEY (160 bits), so nothing guessable is stored and a version bump revokes it.
    A reference reserved at escalation has its link at once: version 1, the new ticket's."""
    return salted_hmac(
        "tickets.status-link", f"{reference}:{key_version}", algorithm="sha256"
    ).hexdigest()[:40]


class TicketStatus(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending")
    SOLVED = "solved", _("Solved")
    CLOSED = "closed", _("Closed")


# A ticket someone still has to work on: every "open" filter, count and partial index (the
# indexes' conditions compare equal to the plain strings in their migrations) uses this.
OPEN_TICKET_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)

# The longest message each side may write, the same on every surface (admin, status page, API).
# Agents paste instructions and logs; a customer's message is what the contact form allows.
STAFF_MESSAGE_MAX_LENGTH = 20_000
CUSTOMER_MESSAGE_MAX_LENGTH = 5_000

# The status workflow. Every change of status goes through tickets.services.ticket_transition,
# which refuses anything not listed here. "closed" is final: a customer who writes after it
# starts a new escalation.
# Share of an SLA target after which a ticket is "at risk".
SLA_AT_RISK_SHARE = 0.75


def sla_target_at_risk(*, created_at: datetime, due_at: datetime, now: datetime) -> bool:
    """Whether SLA_AT_RISK_SHARE of the time between creation and a due time has passed: the
    one rule for "at risk", used by the SLA check and by the pages that colour the clocks."""
    total = (due_at - created_at).total_seconds()
    return total > 0 and (now - created_at).total_seconds() >= SLA_AT_RISK_SHARE * total


TICKET_TRANSITIONS: dict[str, tuple[str, ...]] = {
    TicketStatus.NEW: (TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.SOLVED),
    TicketStatus.OPEN: (TicketStatus.PENDING, TicketStatus.SOLVED),
    TicketStatus.PENDING: (TicketStatus.OPEN, TicketStatus.SOLVED),
    TicketStatus.SOLVED: (TicketStatus.OPEN, TicketStatus.CLOSED),
    TicketStatus.CLOSED: (),
}

# A solved ticket reopens on a customer's reply within this window; after it the ticket is
# closed (tickets.services.tickets_close_solved) and the customer starts a new escalation.
REOPEN_WINDOW = timedelta(days=7)


class Ticket(models.Model):
    Status = TicketStatus

    reference = models.CharField(
        _("reference"), max_length=16, unique=True, default=ticket_reference_new, editable=False
    )
    # Rotating it invalidates the customer's status link (see status_token).
    status_key_version = models.PositiveSmallIntegerField(_("status key version"), default=1)
    # One ticket per attempt, whatever retries or races happen upstream.
    attempt = models.OneToOneField(
        Attempt, on_delete=models.PROTECT, related_name="ticket", verbose_name=_("attempt")
    )
    # Both empty for a request from the contact form without a guide (or a company).
    company = models.ForeignKey(
        Company,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("company"),
    )
    guide = models.ForeignKey(
        Guide,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("guide"),
    )
    language = models.CharField(_("language"), max_length=8, choices=Language.choices)
    subject = OneLineCharField(_("subject"), max_length=300)
    description = PlainTextField(_("description"))
    requester_name = OneLineCharField(_("requester name"), max_length=200, blank=True)
    requester_email = models.EmailField(_("requester e-mail"), blank=True)
    # What the customer tried, copied at creation and never updated: later guide edits do not
    # change what the agent reads. Each item: position, title, kind, outcome, note, recorded_at.
    tried_steps = models.JSONField(_("tried steps"), default=list, editable=False)
    queue = models.ForeignKey(
        Queue, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("queue")
    )
    assignee = models.ForeignKey(
        AgentProfile,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        # ticket_assignee_queue_idx below leads with this column and serves its lookups.
        db_index=False,
        related_name="tickets",
        verbose_name=_("assignee"),
    )
    # Who last gave the ticket back to the queue: automatic assignment passes them over, or
    # the ticket would bounce straight back to the least-loaded agent, often the same one.
    # Never queried by, so no index (each index is one more write per claim).
    handed_back_by = models.ForeignKey(
        AgentProfile,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_index=False,
        related_name="+",
        verbose_name=_("handed back by"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=TicketStatus.choices, default="new"
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    routing_rule = models.ForeignKey(
        RoutingRule,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("routing rule"),
    )
    routing_reason = models.CharField(_("routing reason"), max_length=500)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    first_response_due_at = models.DateTimeField(_("first response due at"), null=True, blank=True)
    resolution_due_at = models.DateTimeField(_("resolution due at"), null=True, blank=True)
    first_responded_at = models.DateTimeField(_("first responded at"), null=True, blank=True)
    solved_at = models.DateTimeField(_("solved at"), null=True, blank=True)
    sla_at_risk_at = models.DateTimeField(_("SLA at risk at"), null=True, blank=True)
    # When each target becomes "at risk" (SLA_AT_RISK_SHARE of its time, working time on a
    # queue with a business schedule), worked out when the due time is set and moved with it
    # on leaving pending: the SLA check compares them with now instead of running a calendar
    # per ticket. Null on tickets from before they existed; the check reckons those itself.
    first_response_at_risk_from = models.DateTimeField(
        _("first response at risk from"), null=True, blank=True
    )
    resolution_at_risk_from = models.DateTimeField(
        _("resolution at risk from"), null=True, blank=True
    )
    # Set while the ticket is pending: the customer has it, so the resolution clock stands
    # still. Leaving pending moves resolution_due_at on so that the (working) time that was
    # left when it stopped is left again.
    sla_paused_at = models.DateTimeField(_("SLA paused at"), null=True, blank=True)
    first_response_breached = models.BooleanField(_("first response breached"), default=False)
    resolution_breached = models.BooleanField(_("resolution breached"), default=False)
    # Either target missed. Kept beside the two flags (by the SLA check, in the same UPDATE) so
    # that "breached first" is a plain column the work-list indexes can be sorted on.
    sla_breached = models.BooleanField(_("SLA breached"), default=False)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # Set once the customer's "a person has your request" e-mail went out: a redelivered
    # task does not send it twice, and the sweeper re-sends it if a worker died first.
    customer_notified_at = models.DateTimeField(_("customer notified at"), null=True, blank=True)
    # A duplicate merged into another ticket (tickets.services.ticket_merge): closed, and its
    # thread continues there. Read from the duplicate only, so no index.
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_index=False,
        related_name="merged_tickets",
        verbose_name=_("merged into"),
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=TicketStatus.values), name="ticket_status_known"
            ),
            models.CheckConstraint(
                condition=Q(priority__in=Priority.values), name="ticket_priority_known"
            ),
            models.CheckConstraint(
                condition=Q(language__in=Language.values), name="ticket_language_known"
            ),
        ]
        indexes = [
            # Claim next (tickets.selectors.claim_next_candidate): unassigned open tickets of
            # one queue in one language, breached first, then priority, then oldest. Each
            # (queue, language) pair of the agent is one short index scan in work order.
            models.Index(
                "queue",
                "language",
                models.F("sla_breached").desc(),
                models.F("priority").desc(),
                "created_at",
                "id",
                condition=Q(assignee__isnull=True, status__in=list(OPEN_TICKET_STATUSES)),
                name="ticket_claim_next_idx",
            ),
            # "My open tickets" (the agent's work list and the assignee filter), in work order.
            models.Index(
                "assignee",
                models.F("sla_breached").desc(),
                models.F("priority").desc(),
                "created_at",
                "id",
                condition=Q(status__in=list(OPEN_TICKET_STATUSES)),
                name="ticket_assignee_open_idx",
            ),
            # "Assignee: me" over an agent's whole history (closed tickets included), which is
            # always scoped to their queues: the changelist's bounded count and the API's
            # filter read it index-only. With the plain assignee index PostgreSQL ANDed two
            # bitmaps over ~20k tickets per agent at a million tickets (57 ms → 0.3 ms).
            models.Index(fields=["assignee", "queue"], name="ticket_assignee_queue_idx"),
            # An agent's list of open tickets by status (the admin's status filter, the API's
            # ?status=): open tickets of a few queues, in work order.
            models.Index(
                "queue",
                "status",
                models.F("sla_breached").desc(),
                models.F("priority").desc(),
                "created_at",
                "id",
                condition=Q(status__in=list(OPEN_TICKET_STATUSES)),
                name="ticket_queue_open_idx",
            ),
            # The supervisor's work list over every queue (tickets.selectors.WORK_ORDER).
            models.Index(
                models.F("sla_breached").desc(),
                models.F("priority").desc(),
                "created_at",
                "id",
                name="ticket_work_order_idx",
            ),
            # The ticket API's cursor pagination: newest first.
            models.Index(
                models.F("created_at").desc(), models.F("id").desc(), name="ticket_newest_idx"
            ),
            # The SLA sweep: open tickets with a clock still running.
            models.Index(
                fields=["resolution_due_at"],
                condition=Q(status__in=list(OPEN_TICKET_STATUSES)),
                name="ticket_sla_open_idx",
            ),
            # The SLA check's "at risk" sweep (tickets_sla_check): the open tickets not marked
            # yet whose running target reached its at-risk instant, one range scan per target.
            models.Index(
                fields=["first_response_at_risk_from"],
                condition=Q(
                    status__in=list(OPEN_TICKET_STATUSES),
                    sla_at_risk_at__isnull=True,
                    first_responded_at__isnull=True,
                ),
                name="ticket_first_response_risk_idx",
            ),
            models.Index(
                fields=["resolution_at_risk_from"],
                condition=Q(
                    status__in=list(OPEN_TICKET_STATUSES),
                    sla_at_risk_at__isnull=True,
                    sla_paused_at__isnull=True,
                ),
                name="ticket_resolution_risk_idx",
            ),
            # The same sweep for tickets from before those instants were stored, reckoned one by
            # one: few, and none made since, so this index stays nearly empty; without it the
            # sweep read every open ticket's row to find none (60 ms at a million tickets).
            models.Index(
                fields=["resolution_due_at"],
                condition=Q(
                    status__in=list(OPEN_TICKET_STATUSES),
                    first_response_at_risk_from__isnull=True,
                    resolution_at_risk_from__isnull=True,
                ),
                name="ticket_sla_unreckoned_idx",
            ),
            # Closing solved tickets after the reopen window (tickets_close_solved).
            models.Index(
                fields=["solved_at"], condition=Q(status="solved"), name="ticket_solved_idx"
            ),
            # Admin and API search by the customer's address, exactly and case-insensitively.
            models.Index(Upper("requester_email"), name="ticket_requester_email_idx"),
            # The statistics rollup (tickets.services.insights): the days whose tickets changed
            # since its watermark.
            models.Index(fields=["updated_at"], name="ticket_updated_idx"),
        ]
        permissions = [
            ("view_all_queues", "Can see and work the tickets of every queue"),
            ("claim_ticket", "Can claim the next ticket of their queues"),
            ("reassign_ticket", "Can assign tickets to other agents and move them between queues"),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.subject}"

    @property
    def text_direction(self) -> str:
        return text_direction(self.language)

    def status_token(self) -> str:
        """The secret of the customer's status link (status_token_of)."""
        return status_token_of(self.reference, self.status_key_version)

    def accepts_customer_replies(self, now: datetime | None = None) -> bool:
        """Whether the customer may still write on the ticket: not closed, and if solved, solved
        within REOPEN_WINDOW. The status page and the API offer the reply form by this rule;
        tickets.services.ticket_customer_reply enforces it on the locked row."""
        if self.status == TicketStatus.CLOSED:
            return False
        if self.status == TicketStatus.SOLVED:
            now = now or timezone.now()
            return self.solved_at is not None and now - self.solved_at <= REOPEN_WINDOW
        return True

    def sla_state(self) -> str:
        """breached, at_risk, on_track or met (tickets.selectors.SLA_STATES), from the flags the
        SLA check keeps: the same answer as the admin's SLA filter and the API's sla field."""
        if self.sla_breached:
            return "breached"
        if self.status not in OPEN_TICKET_STATUSES:
            return "met"
        return "at_risk" if self.sla_at_risk_at is not None else "on_track"

    def sla_at_risk(self, now: datetime) -> bool:
        """Whether a running target (resolution unless paused, first response until answered)
        is past its at-risk share at ``now``; the SLA check flags the ticket when it is."""
        targets = [self.resolution_due_at] if self.sla_paused_at is None else []
        if self.first_responded_at is None:
            targets.append(self.first_response_due_at)
        return any(
            sla_target_at_risk(created_at=self.created_at, due_at=due, now=now)
            for due in targets
            if due is not None
        )


class TicketEvent(models.Model):
    """The ticket's thread: messages, notes and what the system did, in order."""

    class Kind(models.TextChoices):
        CUSTOMER_MESSAGE = "customer_message", _("Customer message")
        AGENT_REPLY = "agent_reply", _("Agent reply")
        INTERNAL_NOTE = "internal_note", _("Internal note")
        CREATED = "created", _("Created")
        ROUTED = "routed", _("Routed")
        ASSIGNED = "assigned", _("Assigned")
        SLA_AT_RISK = "sla_at_risk", _("SLA at risk")
        SLA_BREACHED = "sla_breached", _("SLA breached")
        REROUTED = "rerouted", _("Re-routed")
        PRIORITY_CHANGED = "priority_changed", _("Priority changed")
        STATUS_CHANGED = "status_changed", _("Status changed")
        UNASSIGNED = "unassigned", _("Unassigned")
        # The agent proposed the ticket's fix as a step of its guide (guides.StepProposal).
        FIX_PROPOSED = "fix_proposed", _("Fix proposed for the guide")
        # The customer rated the solved ticket (tickets.TicketRating), or changed their rating.
        RATED = "rated", _("Rated by the customer")
        # A duplicate was merged: on the duplicate (into) and on the ticket it joined (from).
        MERGED_INTO = "merged_into", _("Merged into another ticket")
        MERGED_FROM = "merged_from", _("Merged from another ticket")

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="events", verbose_name=_("ticket")
    )
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("author"),
    )
    body = PlainTextField(_("body"), blank=True)
    # What changed, for changes: {"from": ..., "to": ...} (status, priority, queue, assignee).
    change = models.JSONField(_("change"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")
        indexes = [models.Index(fields=["ticket", "created_at"], name="ticket_event_thread_idx")]

    def __str__(self) -> str:
        return f"{self.ticket.reference} {self.kind}"
