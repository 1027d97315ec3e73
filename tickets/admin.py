"""The supervisor's tools: queues, agents, routing rules, SLA policies, and a read-only view of
the tickets the escalation path creates."""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.template.defaultfilters import linebreaksbr
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from guides.models import Language, StepKind, StepOutcomeKind
from tickets.models import (
    OPEN_TICKET_STATUSES,
    AgentProfile,
    Queue,
    RoutingRule,
    SLAPolicy,
    Ticket,
    TicketEvent,
)

# --- languages as choices, not free JSON --------------------------------------------------------


class LanguagesField(forms.MultipleChoiceField):
    """The JSON list of language codes, ticked from the languages we serve.

    Routing compares these codes with the ticket's language exactly: a typed "arabic" or "AR"
    would silently make an agent or queue unreachable, so no free text here.
    """

    def __init__(self) -> None:
        super().__init__(
            choices=Language.choices,
            required=False,
            widget=forms.CheckboxSelectMultiple,
            help_text=_("None ticked means any language."),
        )


def _languages_display(codes: list[str]) -> str:
    labels = dict(Language.choices)
    return ", ".join(str(labels.get(code, code)) for code in codes) or str(_("any"))


# --- queues and SLA policies ---------------------------------------------------------------------


class SLAPolicyInline(admin.TabularInline):
    model = SLAPolicy
    extra = 0
    ordering = ["-priority"]
    fields = ["priority", "first_response_minutes", "resolution_minutes"]


class QueueForm(forms.ModelForm):
    languages = LanguagesField()

    class Meta:
        model = Queue
        fields = ["name", "slug", "languages", "is_fallback", "members", "supervisors"]

    def clean_is_fallback(self) -> bool:
        is_fallback = self.cleaned_data["is_fallback"]
        if is_fallback:
            # One fallback only (a partial unique constraint); name the current one instead of
            # the constraint's generic message.
            current = Queue.objects.filter(is_fallback=True).exclude(pk=self.instance.pk).first()
            if current is not None:
                raise forms.ValidationError(
                    _("“%(queue)s” is the fallback queue; untick it there first."),
                    params={"queue": current.name},
                )
        return is_fallback


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    form = QueueForm
    list_display = ["name", "slug", "languages_display", "member_count", "is_fallback"]
    list_filter = ["is_fallback"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["members", "supervisors"]
    inlines = [SLAPolicyInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Queue]:
        return super().get_queryset(request).annotate(member_count=Count("members"))

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "members":
            # An agent's name is its user's: join it, or the widget reads one user per member.
            kwargs["queryset"] = AgentProfile.objects.select_related("user")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @admin.display(description=_("Languages"))
    def languages_display(self, queue: Queue) -> str:
        return _languages_display(queue.languages)

    @admin.display(description=_("Members"), ordering="member_count")
    def member_count(self, queue: Queue) -> int:
        return queue.member_count  # type: ignore[attr-defined]


# --- agents --------------------------------------------------------------------------------------


class AgentProfileForm(forms.ModelForm):
    languages = LanguagesField()

    class Meta:
        model = AgentProfile
        fields = ["user", "languages", "skills", "capacity", "is_available"]


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    form = AgentProfileForm
    list_display = [
        "name", "user", "languages_display", "load", "is_available", "last_assigned_at",
    ]  # fmt: skip
    list_filter = ["is_available", ("queues", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "user__email"]
    autocomplete_fields = ["user"]
    # The assignment services keep these in step with the agent's tickets (one conditional
    # UPDATE claims a slot); a hand edit would let an agent go over capacity or never get work.
    readonly_fields = ["open_tickets", "last_assigned_at"]
    fields = [
        "user", "languages", "skills", "capacity", "is_available", "open_tickets",
        "last_assigned_at",
    ]  # fmt: skip

    def get_queryset(self, request: HttpRequest) -> QuerySet[AgentProfile]:
        return super().get_queryset(request).select_related("user")

    @admin.display(description=_("Agent"), ordering="user__username")
    def name(self, agent: AgentProfile) -> str:
        return str(agent)

    @admin.display(description=_("Languages"))
    def languages_display(self, agent: AgentProfile) -> str:
        return _languages_display(agent.languages)

    @admin.display(description=_("Open / capacity"), ordering="open_tickets")
    def load(self, agent: AgentProfile) -> str:
        return f"{agent.open_tickets} / {agent.capacity}"


# --- routing rules -------------------------------------------------------------------------------


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = [
        "position", "name", "is_active", "company", "tag", "language", "keywords", "queue",
        "priority",
    ]  # fmt: skip
    list_display_links = ["name"]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active", "queue", "language", "priority"]
    list_select_related = ["company", "tag", "queue"]
    search_fields = ["name", "keywords"]
    ordering = ["position", "pk"]
    autocomplete_fields = ["company", "tag", "queue"]
    fieldsets = [
        (None, {"fields": ["position", "name", "is_active"]}),
        (
            _("When the escalation matches (empty conditions match everything)"),
            {"fields": ["company", "tag", "language", "keywords"]},
        ),
        (_("Then"), {"fields": ["queue", "priority"]}),
    ]


# --- tickets -------------------------------------------------------------------------------------


def _when(value: datetime | None, fmt: str = "SHORT_DATETIME_FORMAT") -> str:
    return date_format(timezone.localtime(value), fmt) if value is not None else "—"


def _choice_label(choices: type[models.TextChoices], value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:  # a kind or outcome retired since the snapshot: show it as stored
        return value


def tried_steps_html(steps: list[dict]) -> SafeString:
    """The customer's self-help history as an ordered list, in the order it happened.

    Everything in the snapshot came from the guide or the customer, so every value goes
    through format_html's escaping; dir="auto" lets an Arabic note read right to left inside
    an English page (and the other way round).
    """
    if not steps:
        return format_html("<p>{}</p>", _("The customer asked for a person without trying a step."))

    def item(step: dict) -> tuple:
        kind, outcome = str(step.get("kind") or "?"), str(step.get("outcome") or "?")
        raw_time = str(step.get("recorded_at") or "")
        recorded_at = parse_datetime(raw_time)
        note = str(step.get("note") or "")
        return (
            _("Step %(position)s") % {"position": step.get("position", "?")},
            str(step.get("title") or ""),
            _choice_label(StepKind, kind),
            _choice_label(StepOutcomeKind, outcome),
            raw_time,
            _when(recorded_at, "DATETIME_FORMAT") if recorded_at else raw_time,
            format_html('<p class="tried-step-note" dir="auto">{}</p>', note) if note else "",
        )

    rows = format_html_join(
        "",
        '<li class="tried-step">{} · <bdi dir="auto">{}</bdi> · {} · <strong>{}</strong>'
        ' · <time datetime="{}">{}</time>{}</li>',
        (item(step) for step in steps),
    )
    return format_html('<ol class="tried-steps">{}</ol>', rows)


def sla_state(ticket: Ticket) -> str:
    """What the supervisor needs from the clocks in one phrase: which target broke, or the
    next one due."""
    is_open = ticket.status in OPEN_TICKET_STATUSES
    # The sweep watches open tickets only: one solved late between two sweeps has no flag.
    solved_late = (
        not is_open
        and ticket.solved_at is not None
        and ticket.resolution_due_at is not None
        and ticket.solved_at > ticket.resolution_due_at
    )
    breached = [
        label
        for label, missed in [
            (_("first response"), ticket.first_response_breached),
            (_("resolution"), ticket.resolution_breached or solved_late),
        ]
        if missed
    ]
    if breached:
        return str(_("Breached: %(targets)s")) % {"targets": ", ".join(str(b) for b in breached)}
    if not is_open:
        return str(_("Met")) if ticket.resolution_due_at else "—"
    if ticket.first_responded_at is None and ticket.first_response_due_at is not None:
        label, due = _("First response due"), ticket.first_response_due_at
    elif ticket.resolution_due_at is not None:
        label, due = _("Resolution due"), ticket.resolution_due_at
    else:
        return str(_("No SLA policy"))
    at_risk = format_html(" <strong>{}</strong>", _("at risk")) if ticket.sla_at_risk_at else ""
    return format_html(
        '{}{}<br><time datetime="{}">{}</time>', label, at_risk, due.isoformat(), _when(due)
    )


class AssigneeListFilter(admin.RelatedFieldListFilter):
    """The assignee filter, naming agents with their users joined in (the default reads one
    user per agent)."""

    def field_choices(self, field, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [(agent.pk, str(agent)) for agent in AgentProfile.objects.select_related("user")]


class TicketEventFormSet(BaseInlineFormSet):
    def _construct_form(self, i: int, **kwargs):
        form = super()._construct_form(i, **kwargs)  # type: ignore[misc]  # not in the stubs
        # Each row is titled with str(event), which reads event.ticket: hand it the ticket
        # already loaded instead of one query per event.
        form.instance.ticket = self.instance
        return form


class TicketEventInline(admin.TabularInline):
    """The thread, as it happened: written only by the ticket services."""

    model = TicketEvent
    formset = TicketEventFormSet
    extra = 0
    can_delete = False
    ordering = ["created_at", "pk"]
    readonly_fields = ("created_at", "kind", "author", "message")
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[TicketEvent]:
        return super().get_queryset(request).select_related("author")

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=_("Body"))
    def message(self, event: TicketEvent) -> str:
        return format_html('<div dir="auto">{}</div>', linebreaksbr(event.body, autoescape=True))


_HEADER = ("reference", "subject_display", "status", "priority", "queue", "assignee")
_CUSTOMER = (
    "company", "guide", "language", "attempt", "requester_name", "requester_email",
    "description_display",
)  # fmt: skip
_SLA = (
    "sla", "first_response_due_at", "first_responded_at", "resolution_due_at", "solved_at",
    "sla_at_risk_at", "first_response_breached", "resolution_breached",
)  # fmt: skip


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """Tickets are created only by the escalation path and change only through the ticket
    services, which write the event, move the agent's capacity and the SLA clocks together.

    So this page is read-only for now: re-routing, re-prioritising and re-assigning (each with
    its event) come with their services in a later change, as admin actions calling them.
    """

    list_display = [
        "reference", "subject_display", "company", "language", "queue", "assignee", "status",
        "priority", "sla", "created_at",
    ]  # fmt: skip
    # Every related name the list prints, joined in one query whatever the page size.
    list_select_related = ["company", "queue", "assignee__user"]
    list_filter = [
        "queue", "status", "priority", "language", ("assignee", AssigneeListFilter),
    ]  # fmt: skip
    # The reference exactly (case-insensitive: it is read out over the phone); the rest in part.
    search_fields = ["=reference", "requester_email", "subject"]
    # A full COUNT(*) on every page load is the slow part of a big changelist.
    show_full_result_count = False
    # Listed even though the page is view-only: when edits arrive as actions, the fields stay
    # read-only, and tried_steps (the customer's record) is never a form field at all.
    readonly_fields = (
        *_HEADER, *_CUSTOMER, "routing_rule", "routing_reason", "tried_steps_timeline", *_SLA,
        "created_at", "updated_at",
    )  # fmt: skip
    fieldsets = [
        (None, {"fields": _HEADER}),
        (_("Customer"), {"fields": _CUSTOMER}),
        (_("Routing"), {"fields": ["routing_rule", "routing_reason"]}),
        (_("What the customer tried"), {"fields": ["tried_steps_timeline"]}),
        (_("SLA"), {"fields": _SLA}),
        (_("Dates"), {"fields": ["created_at", "updated_at"]}),
    ]
    inlines = [TicketEventInline]

    class Media:
        css = {"all": ["tickets/admin.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # A deleted ticket would leave its agent's open_tickets counted, and the escalation
        # sweeper would create it again from its attempt. Tickets end solved or closed.
        return False

    @admin.display(description=_("Subject"), ordering="subject")
    def subject_display(self, ticket: Ticket) -> str:
        return format_html('<span dir="auto">{}</span>', ticket.subject)

    @admin.display(description=_("Description"))
    def description_display(self, ticket: Ticket) -> str:
        return format_html(
            '<div dir="auto">{}</div>', linebreaksbr(ticket.description, autoescape=True)
        )

    @admin.display(description=_("SLA"), ordering="resolution_due_at")
    def sla(self, ticket: Ticket) -> str:
        return sla_state(ticket)

    @admin.display(description=_("Tried steps"))
    def tried_steps_timeline(self, ticket: Ticket) -> str:
        return tried_steps_html(ticket.tried_steps)
