"""The staff's tools: the agents' ticket workspace (work list, claim next, the work page, bulk
actions), and the supervisor's queues, agents, routing rules, SLA policies and API tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IS_FACETS_VAR, IS_POPUP_VAR, TO_FIELD_VAR
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ALL_VAR, ORDER_VAR, PAGE_VAR, SEARCH_VAR, ChangeList
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import EmptyPage, Page, Paginator
from django.db import connections
from django.db.models import Count, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from guides.models import Company, Language
from tickets import events, selectors, services
from tickets.models import (
    STAFF_MESSAGE_MAX_LENGTH,
    TICKET_TRANSITIONS,
    AgentProfile,
    ApiToken,
    Priority,
    Queue,
    RoutingRule,
    SLAPolicy,
    Ticket,
    TicketEvent,
    TicketStatus,
    api_token_key_hash,
)
from tickets.presentation import duration, sla_clocks, sla_summary, tried_steps, when
from tickets.selectors import (
    WORK_ORDER,
    agent_queue_ids,
    ticket_thread,
    ticket_visible_to,
    tickets_listed_for,
    user_sees_all_queues,
    work_list,
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
        fields = [
            "name", "slug", "languages", "auto_assign", "is_fallback", "members", "supervisors"
        ]  # fmt: skip

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
    list_display = [
        "name", "slug", "languages_display", "member_count", "auto_assign", "is_fallback"
    ]  # fmt: skip
    list_filter = ["auto_assign", "is_fallback"]
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


# --- tickets: the changelist filters -------------------------------------------------------------

# Query-string keys that are not a choice of tickets: the work view stays on with them.
_NOT_A_FILTER = {ORDER_VAR, PAGE_VAR, ALL_VAR, IS_POPUP_VAR, TO_FIELD_VAR, IS_FACETS_VAR, "e"}


def _other_filters_chosen(request: HttpRequest) -> bool:
    """Whether the agent asked for something (a filter or a search) beyond the default view."""
    keys = set(request.GET) - _NOT_A_FILTER - {WorkViewFilter.parameter_name, SEARCH_VAR}
    return bool(keys) or bool(request.GET.get(SEARCH_VAR, "").strip())


def _agent_profile_of(user) -> AgentProfile | None:
    """The user's agent profile, or None (supervisors and authors have none). Read through the
    one-to-one accessor, as the API does: cached on the user, and its ``user`` is this one."""
    return getattr(user, "agent_profile", None)


def _agent_profile_id_of(user) -> int | None:
    """The id of the user's agent profile, or None (one small query on a unique column).

    "Assigned to me" filters on this id rather than through the user: `assignee_id = 42` is
    served by the assignee indexes, while a join or an IN (subquery) through the profile made
    PostgreSQL count a whole queue's history at a million tickets (docs/performance.md)."""
    return AgentProfile.objects.filter(user_id=user.pk).values_list("pk", flat=True).first()


class WorkViewFilter(admin.SimpleListFilter):
    """ "My work" (the default): my open tickets, then my queues' unassigned ones, in work order
    (tickets.selectors.work_list). Any other filter or a search looks at every visible ticket,
    so a solved ticket found by reference is not hidden by the default."""

    title = _("view")
    parameter_name = "view"
    ALL = "all"

    def __init__(self, request: HttpRequest, params, model, model_admin) -> None:
        # choices() is handed the changelist only and needs the request; a filter is built
        # per request, so it keeps its own (never on the ModelAdmin, which all requests share).
        self.request = request
        super().__init__(request, params, model, model_admin)

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [(self.ALL, _("All visible tickets"))]

    def is_work_view(self, request: HttpRequest) -> bool:
        return self.value() != self.ALL and not _other_filters_chosen(request)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        if self.value() == self.ALL or _other_filters_chosen(request):
            return queryset
        # work_list scopes to the visible tickets itself and brings its own order ("mine"
        # first), which TicketChangeList keeps.
        return work_list(user=request.user)

    def choices(self, changelist):
        request = self.request
        yield {
            "selected": self.is_work_view(request),
            "query_string": "?",
            "display": _("My work"),
        }
        yield {
            "selected": not self.is_work_view(request),
            "query_string": changelist.get_query_string({self.parameter_name: self.ALL}),
            "display": _("All visible tickets"),
        }


class QueueFilter(admin.SimpleListFilter):
    """Only the queues the user can see: an agent is not told which other queues exist."""

    title = _("queue")
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        queues = Queue.objects.only("pk", "name").order_by("name")
        if not user_sees_all_queues(request.user):
            queues = queues.filter(pk__in=agent_queue_ids(request.user))
        return [(str(queue.pk), queue.name) for queue in queues]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(queue_id=int(value)) if value.isdigit() else queryset.none()


class AssigneeFilter(admin.SimpleListFilter):
    """Me, nobody, or one of the agents of the user's queues (their users joined in)."""

    title = _("assignee")
    parameter_name = "assignee"
    ME, NOBODY = "me", "nobody"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        agents = AgentProfile.objects.select_related("user")
        if not user_sees_all_queues(request.user):
            # The members of my queues, without a DISTINCT over the join.
            memberships = Queue.members.through.objects.filter(
                queue_id__in=agent_queue_ids(request.user)
            )
            agents = agents.filter(pk__in=memberships.values("agentprofile_id"))
        return [
            (self.ME, _("Me")),
            (self.NOBODY, _("Unassigned")),
            *((str(agent.pk), str(agent)) for agent in agents),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        value = self.value()
        if value is None:
            return queryset
        if value == self.ME:
            profile_id = _agent_profile_id_of(request.user)
            return (
                queryset.none() if profile_id is None else queryset.filter(assignee_id=profile_id)
            )
        if value == self.NOBODY:
            return queryset.filter(assignee__isnull=True)
        return queryset.filter(assignee_id=int(value)) if value.isdigit() else queryset.none()


class SLAStateFilter(admin.SimpleListFilter):
    """The SLA sweep's flags, not a computation per row: each choice is an indexed column test."""

    title = _("SLA")
    parameter_name = "sla"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return list(selectors.SLA_STATES)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        value = self.value()
        if value is None:
            return queryset
        if value not in dict(selectors.SLA_STATES):
            return queryset.none()
        return selectors.tickets_in_sla_state(queryset, value)


class CompanyFilter(admin.RelatedFieldListFilter):
    """Companies by name, one small query; never a DISTINCT over the tickets table."""

    def field_choices(self, field, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [(company.pk, company.name) for company in Company.objects.only("pk", "name")]


# --- tickets: the changelist's paging and order ---------------------------------------------------


class EstimatedCountPaginator(Paginator):
    """Pages without an unbounded COUNT(*) over the tickets table.

    On PostgreSQL no list is counted past what an agent pages through:

    - A supervisor's unfiltered list takes the planner's row estimate (pg_class.reltuples,
      kept current by autovacuum's ANALYZE) instead of reading every row to print "page 1 of
      20,000". The trade-off: the page count can be off by the rows written since the last
      ANALYZE, so the last page link may show a short or empty page.
    - A filtered list (an agent's queues, a filter, a search) counts at most ``count_cap`` + 1
      rows (``SELECT COUNT(*) FROM (… LIMIT 1001)``). Below the cap the count is exact; above
      it the list says "1,000+" and offers the first pages: nobody pages through 30,000 breached
      tickets, they add a filter. An exact count of "assigned to me" over two years of history
      or of every breached ticket of a queue took 0.7–1.5 s at a million tickets.

    Other databases (SQLite, the embedded default for small desks) count exactly.
    """

    # Below this many rows a real COUNT(*) of the whole table costs nothing worth saving.
    estimate_from = 50_000
    # Rows a filtered list counts at most: 20 pages of 50.
    count_cap = 1_000

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Set by count: the number is a lower bound ("1,000+"), or the planner's estimate.
        self.count_is_capped = False
        self.count_is_estimate = False

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if not isinstance(rows, QuerySet) or connections[rows.db].vendor != "postgresql":
            return super().count
        if not rows.query.where:
            estimate = _table_row_estimate(rows)
            if estimate is not None and estimate >= self.estimate_from:
                self.count_is_estimate = True
                return estimate
        # No ORDER BY inside the LIMITed subquery: any cap + 1 rows will do, unsorted.
        counted = rows.order_by()[: self.count_cap + 1].count()
        if counted > self.count_cap:
            self.count_is_capped = True
            return self.count_cap
        return counted

    def validate_number(self, number) -> int:
        # Past a capped count or an estimate, a page is whatever rows are there (maybe none),
        # not an error page.
        try:
            return super().validate_number(number)
        except EmptyPage:
            if (isinstance(number, int) or str(number).isdigit()) and int(number) >= 1:
                return int(number)
            raise

    def page(self, number) -> Page:
        number = self.validate_number(number)
        if not (self.count_is_capped or self.count_is_estimate):
            return super().page(number)
        # The count is not the end of the list: slice a full page, never clamp to the count.
        bottom = (number - 1) * self.per_page
        return Page(self.object_list[bottom : bottom + self.per_page], number, self)


def _table_row_estimate(rows: QuerySet) -> int | None:
    connection = connections[rows.db]
    if connection.vendor != "postgresql":
        return None
    table = connection.ops.quote_name(rows.model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", [table]
        )
        found = cursor.fetchone()
    # -1: never analysed yet (PostgreSQL 14+); count instead.
    return int(found[0]) if found and found[0] >= 0 else None


class TicketChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        # What the pagination and the search box print: "1,000+ tickets" past the cap.
        paginator = cast(EstimatedCountPaginator, self.paginator)
        count = number_format(self.result_count, force_grouping=True)
        capped = getattr(paginator, "count_is_capped", False)
        self.result_count_text = f"{count}+" if capped else count

    def get_ordering(self, request: HttpRequest, queryset: QuerySet) -> list:
        # Unless a column header was clicked, keep the order the view brought: the work list's
        # "mine first" then WORK_ORDER, or WORK_ORDER for every visible ticket. The default
        # would put the model's "-created_at" in front of it.
        if not self.params.get(ORDER_VAR) and queryset.query.order_by:
            return list(queryset.query.order_by)
        return super().get_ordering(request, queryset)


# --- tickets: forms of the workspace --------------------------------------------------------------


def _transition_choices(ticket: Ticket) -> list[tuple[str, str]]:
    """The statuses the workflow allows from the ticket's, with their labels."""
    return [(s, str(Ticket.Status(s).label)) for s in TICKET_TRANSITIONS[ticket.status]]


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Reply to the customer"),
        max_length=STAFF_MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6, "dir": "auto"}),
    )
    status_after = forms.ChoiceField(label=_("and set status"), required=False)

    def __init__(self, *args, ticket: Ticket, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["status_after"]).choices = [
            ("", _("(leave as it is)")),
            *_transition_choices(ticket),
        ]


class NoteForm(forms.Form):
    body = forms.CharField(
        label=_("Internal note (staff only)"),
        max_length=STAFF_MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "dir": "auto"}),
    )


class TransitionForm(forms.Form):
    # Every status, not only the allowed ones: the service says why a move is refused.
    to_status = forms.ChoiceField(choices=TicketStatus.choices)


class PriorityForm(forms.Form):
    priority = forms.TypedChoiceField(label=_("Priority"), choices=Priority.choices, coerce=int)


class AssigneeForm(forms.Form):
    """ "me", "nobody" (back to the queue) or an agent's id; the service checks who may."""

    assignee = forms.CharField(label=_("Assignee"), max_length=20)

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_assignee(self) -> AgentProfile | None:
        value = self.cleaned_data["assignee"].strip()
        if value == AssigneeFilter.NOBODY:
            return None
        if value == AssigneeFilter.ME:
            own = _agent_profile_of(self.user)
            if own is None:
                raise forms.ValidationError(_("You have no agent profile to take tickets with."))
            return own
        agent = (
            AgentProfile.objects.filter(pk=int(value)).select_related("user").first()
            if value.isdigit()
            else None
        )
        if agent is None:
            raise forms.ValidationError(_("Choose an agent from the list."))
        return agent


class QueueMoveForm(forms.Form):
    queue = forms.ModelChoiceField(label=_("Queue"), queryset=Queue.objects.all())


def _form_errors_text(form: forms.Form) -> str:
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else None
        text = " ".join(str(e) for e in errors)
        parts.append(f"{label}: {text}" if label else text)
    return " ".join(parts)


def _valid(form: forms.Form) -> dict:
    if not form.is_valid():
        raise forms.ValidationError(_form_errors_text(form))
    return form.cleaned_data


# --- tickets: the admin ---------------------------------------------------------------------------

_THREAD_CLASSES = {
    TicketEvent.Kind.CUSTOMER_MESSAGE: "event-customer",
    TicketEvent.Kind.AGENT_REPLY: "event-reply",
    TicketEvent.Kind.INTERNAL_NOTE: "event-note",
}


WORK_ACTIONS = ("reply", "note", "status", "priority", "assign", "queue")


def _draft_key(ticket: Ticket, kind: str) -> str:
    return f"tickets.draft.{ticket.pk}.{kind}"


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """The agent's workspace. Tickets are created only by the escalation path and change only
    through the ticket services (which write the event and move the agent's capacity and the
    SLA clocks together), so there is no add, edit or delete form: the change page is a work
    page whose buttons post to small views calling one service each.

    Every read goes through tickets_visible_to (here its list form, tickets_listed_for): an
    agent's list, change page, actions and the autocomplete see the tickets of their queues and
    nothing else.
    """

    # What an agent scans for first (the clock, urgency, state, owner) before what they read;
    # on a narrow screen the last columns are the ones scrolled away.
    list_display = [
        "reference", "subject_display", "sla", "priority_display", "status_display", "assignee",
        "company", "language",
    ]  # fmt: skip
    list_display_links = ["reference"]
    # Every related name the list prints, joined in one query whatever the page size.
    list_select_related = ["company", "queue", "assignee__user"]
    # Fixed choices (or one small query each): none of them runs a DISTINCT over tickets.
    list_filter = [
        WorkViewFilter, QueueFilter, "status", "priority", AssigneeFilter, SLAStateFilter,
        "language", ("company", CompanyFilter),
    ]  # fmt: skip
    # Shown in the search box's help and required by the autocomplete; the matching itself is
    # get_search_results below.
    search_fields = ["=reference", "=requester_email", "subject"]
    search_help_text = _("A reference, a customer's e-mail address, or words of the subject.")
    ordering = WORK_ORDER  # type: ignore[assignment]  # expressions: the stubs say names only
    # A full COUNT(*) on every page load is the slow part of a big changelist; facets are one
    # more count per filter choice.
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    paginator = EstimatedCountPaginator
    change_list_template = "admin/tickets/ticket/change_list.html"
    actions = [
        "assign_to_me", "assign_to_agent", "change_priority", "move_to_queue", "solve",
    ]  # fmt: skip

    class Media:
        css = {"all": ["tickets/admin.css"]}

    # --- who sees what ---

    def get_queryset(self, request: HttpRequest) -> QuerySet[Ticket]:
        return tickets_listed_for(user=request.user, queryset=super().get_queryset(request))

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        allowed = super().has_view_permission(request, obj)
        return allowed and (obj is None or ticket_visible_to(user=request.user, ticket=obj))

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or ticket_visible_to(user=request.user, ticket=obj))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # A deleted ticket would leave its agent's open_tickets counted, and the escalation
        # sweeper would create it again from its attempt. Tickets end solved or closed.
        return False

    def has_reassign_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("tickets.reassign_ticket")

    def get_changelist(self, request: HttpRequest, **kwargs):
        return TicketChangeList

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        return selectors.tickets_matching(queryset, search_term), False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        context = {
            "can_claim_next": request.user.has_perm("tickets.claim_ticket"),
            "can_see_overview": user_sees_all_queues(request.user),
            "own_profile": (
                _agent_profile_of(request.user)
                if request.user.has_perm("tickets.claim_ticket")
                else None
            ),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    # --- columns ---

    @admin.display(description=_("Subject"), ordering="subject")
    def subject_display(self, ticket: Ticket) -> str:
        return format_html('<span dir="auto">{}</span>', ticket.subject)

    @admin.display(description=_("Priority"), ordering="priority")
    def priority_display(self, ticket: Ticket) -> str:
        return format_html(
            '<span class="priority priority-{}">{}</span>',
            ticket.priority,
            ticket.get_priority_display(),
        )

    @admin.display(description=_("Status"), ordering="status")
    def status_display(self, ticket: Ticket) -> str:
        return format_html(
            '<span class="status status-{}">{}</span>', ticket.status, ticket.get_status_display()
        )

    @admin.display(description=_("SLA"), ordering="sla_breached")
    def sla(self, ticket: Ticket) -> str:
        clock = sla_summary(ticket, now=timezone.now())
        if clock.due_at is None:
            return format_html('<span class="sla sla-{}">{}</span>', clock.state, clock.text)
        return format_html(
            '<span class="sla sla-{}" title="{}">{}</span>',
            clock.state,
            f"{clock.label}: {when(clock.due_at)}",
            clock.text,
        )

    # --- the work page ---

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        own = [
            path(
                "claim-next/",
                self.admin_site.admin_view(self.claim_next_view),
                name="{}_{}_claim_next".format(*info),
            ),
            path(
                "<path:object_id>/work/<slug:action>/",
                self.admin_site.admin_view(self.work_view),
                name="{}_{}_work".format(*info),
            ),
            path(
                "overview/",
                self.admin_site.admin_view(self.overview_view),
                name="{}_{}_overview".format(*info),
            ),
            path(
                "availability/",
                self.admin_site.admin_view(self.availability_view),
                name="{}_{}_availability".format(*info),
            ),
        ]
        return own + super().get_urls()

    def overview_view(self, request: HttpRequest) -> HttpResponse:
        """The supervisor's view of the desk: each queue's open work and each agent's load."""
        if not user_sees_all_queues(request.user):
            raise PermissionDenied
        now = timezone.now()
        changelist = reverse("admin:tickets_ticket_changelist")
        queues = [
            {
                "load": load,
                "url": f"{changelist}?queue={load.queue.pk}",
                "waiting_for": (
                    duration(now - load.oldest_waiting_since)
                    if load.oldest_waiting_since is not None
                    else ""
                ),
            }
            for load in selectors.queue_loads()
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Queue overview"),
            "subtitle": None,
            "opts": self.opts,
            "queues": queues,
            "agents": selectors.agent_loads(),
        }
        return TemplateResponse(request, "admin/tickets/ticket/overview.html", context)

    def _ticket_for(self, request: HttpRequest, object_id: str) -> Ticket | None:
        """The ticket if the user may see it; None for a foreign, missing or malformed id.

        It comes through get_queryset, so it is visible already: the callers then ask for the
        model permissions only (obj=None), not for ticket_visible_to's query once more."""
        tickets = self.get_queryset(request).select_related(
            "queue", "assignee__user", "company", "guide__company"
        )
        try:
            return tickets.get(pk=int(unquote(object_id)))
        except (Ticket.DoesNotExist, ValueError):
            return None

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        ticket = self._ticket_for(request, object_id)
        if ticket is None:
            return self._get_obj_does_not_exist_redirect(  # type: ignore[attr-defined]
                request, self.opts, object_id
            )
        if not self.has_view_permission(request):
            raise PermissionDenied
        return TemplateResponse(
            request,
            "admin/tickets/ticket/workspace.html",
            {**self.admin_site.each_context(request), **self._workspace_context(request, ticket)},
        )

    def _workspace_context(self, request: HttpRequest, ticket: Ticket) -> dict:
        user = request.user
        can_work = self.has_change_permission(request)  # visible: it came from _ticket_for
        can_reassign = user.has_perm("tickets.reassign_ticket")
        session = request.session
        thread = [
            (
                event,
                _THREAD_CLASSES.get(event.kind, "event-system"),  # type: ignore[call-overload]
                events.event_text(event),  # system events in the agent's language
            )
            for event in ticket_thread(ticket=ticket)
        ]
        routed = [text for event, _css, text in thread if event.kind == TicketEvent.Kind.ROUTED]
        guide = ticket.guide
        guide_url = guide.public_path() if guide is not None else None
        return {
            "title": f"{ticket.reference}: {ticket.subject}",
            "subtitle": None,
            "opts": self.opts,
            "has_view_permission": True,
            "ticket": ticket,
            "tried_steps": tried_steps(ticket),
            "thread": thread,
            "thread_has_request": any(
                event.kind == TicketEvent.Kind.CUSTOMER_MESSAGE for event, _css, _text in thread
            ),
            "routing": routed[0] if routed else ticket.routing_reason,
            "clocks": sla_clocks(ticket, now=timezone.now()),
            "guide_url": guide_url,
            "guide_admin_url": (
                reverse("admin:guides_guide_change", args=[guide.pk])
                if guide is not None and user.has_perm("guides.view_guide")
                else None
            ),
            "can_work": can_work,
            "can_reassign": can_reassign,
            "is_mine": ticket.assignee is not None and ticket.assignee.user_id == user.pk,
            "reply_form": ReplyForm(
                ticket=ticket, initial={"body": session.pop(_draft_key(ticket, "reply"), "")}
            ),
            "note_form": NoteForm(initial={"body": session.pop(_draft_key(ticket, "note"), "")}),
            "priority_form": PriorityForm(initial={"priority": ticket.priority}),
            "transitions": _transition_choices(ticket),
            "members": (
                list(ticket.queue.members.select_related("user"))
                if can_work and can_reassign
                else []
            ),
            "queues": list(Queue.objects.only("pk", "name")) if can_work and can_reassign else [],
            "urls": {
                action: reverse("admin:tickets_ticket_work", args=[ticket.pk, action])
                for action in WORK_ACTIONS
            },
            "note_max_length": STAFF_MESSAGE_MAX_LENGTH,
        }

    def work_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """One button of the work page: validate, call the service, report, back to the page
        (post/redirect/get). A refusal is the service's own message, never an error page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        handler = {  # the keys are WORK_ACTIONS
            "reply": self._work_reply,
            "note": self._work_note,
            "status": self._work_status,
            "priority": self._work_priority,
            "assign": self._work_assign,
            "queue": self._work_queue,
        }.get(action)
        ticket = self._ticket_for(request, object_id)
        if handler is None or ticket is None:
            raise Http404(_("No such ticket or action."))
        if not self.has_change_permission(request):
            raise PermissionDenied
        try:
            done = handler(request, ticket)
        except services.TicketError as error:
            self._draft_keep(request, ticket, action)
            messages.error(request, error.message)
        except forms.ValidationError as error:
            self._draft_keep(request, ticket, action)
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, done)
        return redirect("admin:tickets_ticket_change", ticket.pk)

    def _draft_keep(self, request: HttpRequest, ticket: Ticket, action: str) -> None:
        # A refused reply must not cost the agent what they typed: it comes back in the form.
        if action in ("reply", "note"):
            request.session[_draft_key(ticket, action)] = request.POST.get("body", "")[
                :STAFF_MESSAGE_MAX_LENGTH
            ]

    def _work_reply(self, request: HttpRequest, ticket: Ticket) -> str:
        data = _valid(ReplyForm(request.POST, ticket=ticket))
        services.ticket_reply(
            ticket=ticket, author=request.user, body=data["body"], public=True,
            status_after=data["status_after"] or None,
        )  # fmt: skip
        return str(_("Reply sent to the customer."))

    def _work_note(self, request: HttpRequest, ticket: Ticket) -> str:
        data = _valid(NoteForm(request.POST))
        services.ticket_note(ticket=ticket, author=request.user, body=data["body"])
        return str(_("Internal note added."))

    def _work_status(self, request: HttpRequest, ticket: Ticket) -> str:
        data = _valid(TransitionForm(request.POST))
        ticket = services.ticket_transition(
            ticket=ticket, to_status=data["to_status"], actor=request.user
        )
        return str(_("Status is now %(status)s.")) % {"status": ticket.get_status_display()}

    def _work_priority(self, request: HttpRequest, ticket: Ticket) -> str:
        data = _valid(PriorityForm(request.POST))
        ticket = services.ticket_priority_change(
            ticket=ticket, priority=data["priority"], actor=request.user
        )
        return str(_("Priority is now %(priority)s.")) % {"priority": ticket.get_priority_display()}

    def _work_assign(self, request: HttpRequest, ticket: Ticket) -> str:
        agent = _valid(AssigneeForm(request.POST, user=request.user))["assignee"]
        services.ticket_assign_to(ticket=ticket, agent=agent, actor=request.user)
        if agent is None:
            return str(_("The ticket is back in its queue, unassigned."))
        return str(_("Assigned to %(agent)s.")) % {"agent": agent}

    def _work_queue(self, request: HttpRequest, ticket: Ticket) -> str:
        queue = _valid(QueueMoveForm(request.POST))["queue"]
        services.ticket_move_queue(ticket=ticket, queue=queue, actor=request.user)
        return str(_("Moved to the queue %(queue)s.")) % {"queue": queue}

    # --- claim next ---

    def availability_view(self, request: HttpRequest) -> HttpResponse:
        """The agent's own switch on the ticket list: available for new tickets, or away."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        agent = _agent_profile_of(request.user)
        if agent is None or not request.user.has_perm("tickets.claim_ticket"):
            raise PermissionDenied
        available = request.POST.get("available") == "1"
        services.agent_availability_set(agent=agent, available=available, actor=request.user)
        if available:
            messages.success(request, _("You are available: new tickets can come to you."))
        else:
            messages.success(
                request, _("You are away: no new tickets come to you until you are back.")
            )
        return redirect("admin:tickets_ticket_changelist")

    def claim_next_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("tickets.claim_ticket"):
            raise PermissionDenied
        changelist = redirect("admin:tickets_ticket_changelist")
        agent = _agent_profile_of(request.user)
        if agent is None:
            messages.error(request, _("Only agents claim tickets: you have no agent profile."))
            return changelist
        try:
            ticket = services.ticket_claim_next(agent=agent)
        except services.TicketError as error:
            messages.error(request, error.message)
            return changelist
        if ticket is None:
            messages.info(
                request,
                _("Nothing to claim: your queues have no waiting ticket in your languages."),
            )
            return changelist
        claimed = f"{ticket.reference}: {ticket.subject}"
        messages.success(request, _("You claimed %(ticket)s.") % {"ticket": claimed})
        return redirect("admin:tickets_ticket_change", ticket.pk)

    # --- bulk actions ---

    def response_action(self, request: HttpRequest, queryset: QuerySet):
        # Django filters pk__in=<the posted ids> as given: a non-number would be a 500.
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if any(not value.isdigit() for value in selected):
            self.message_user(request, _("Tickets are selected by number."), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)

    def _bulk(
        self, request: HttpRequest, queryset: QuerySet[Ticket], work: Callable[[Ticket], object]
    ) -> None:
        """Run ``work`` (a service call) for each ticket, each in its own transaction, and
        report what was done and what was refused, with the services' reasons."""
        tickets = list(queryset.select_related(None).only("pk", "reference"))
        done, refused = 0, []
        for ticket in tickets:
            try:
                work(ticket)
            except services.TicketError as error:
                refused.append(f"{ticket.reference}: {error.message}")
            else:
                done += 1
        if request.POST.get("select_across") not in ("1", "True", "true"):
            # Ids posted for tickets outside the user's queues were dropped by get_queryset.
            unseen = len(set(request.POST.getlist(helpers.ACTION_CHECKBOX_NAME))) - len(tickets)
            refused += [str(_("not found among your tickets"))] * unseen
        text = ngettext("%(done)d ticket done", "%(done)d tickets done", done) % {"done": done}
        if refused:
            text += ngettext(
                ", %(count)d refused: %(reasons)s", ", %(count)d refused: %(reasons)s", len(refused)
            ) % {"count": len(refused), "reasons": "; ".join(refused)}
        self.message_user(request, text, messages.WARNING if refused else messages.SUCCESS)

    def _bulk_choice(
        self, request: HttpRequest, queryset: QuerySet[Ticket], *, action: str, title: str,
        form_class: type[forms.Form], form_kwargs: dict | None = None,
        work: Callable[[Ticket, dict], object],
    ) -> TemplateResponse | None:  # fmt: skip
        """A bulk action that needs one choice (an agent, a priority, a queue): the first post
        shows a page asking for it, the second applies it."""
        form_kwargs = form_kwargs or {}
        if "apply" in request.POST:
            form = form_class(request.POST, **form_kwargs)
            if form.is_valid():
                self._bulk(request, queryset, lambda ticket: work(ticket, form.cleaned_data))
                return None
        else:
            form = form_class(**form_kwargs)
        return TemplateResponse(
            request,
            "admin/tickets/ticket/bulk_choice.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": self.opts,
                "action": action,
                "form": form,
                "tickets": list(queryset.select_related(None).only("pk", "reference", "subject")),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "select_across": request.POST.get("select_across", "0"),
            },
        )

    @admin.action(description=_("Assign to me"), permissions=["change"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        agent = _agent_profile_of(request.user)
        if agent is None:
            self.message_user(
                request, _("You have no agent profile to take tickets with."), messages.ERROR
            )
            return
        self._bulk(
            request,
            queryset,
            lambda ticket: services.ticket_assign_to(
                ticket=ticket, agent=agent, actor=request.user
            ),
        )

    @admin.action(description=_("Assign to an agent…"), permissions=["reassign"])
    def assign_to_agent(self, request: HttpRequest, queryset: QuerySet[Ticket]):
        return self._bulk_choice(
            request, queryset, action="assign_to_agent", title=str(_("Assign tickets to an agent")),
            form_class=BulkAgentForm,
            work=lambda ticket, data: services.ticket_assign_to(
                ticket=ticket, agent=data["agent"], actor=request.user
            ),
        )  # fmt: skip

    @admin.action(description=_("Change priority…"), permissions=["change"])
    def change_priority(self, request: HttpRequest, queryset: QuerySet[Ticket]):
        return self._bulk_choice(
            request, queryset, action="change_priority",
            title=str(_("Change the priority of tickets")),
            form_class=PriorityForm,
            work=lambda ticket, data: services.ticket_priority_change(
                ticket=ticket, priority=data["priority"], actor=request.user
            ),
        )  # fmt: skip

    @admin.action(description=_("Move to a queue…"), permissions=["reassign"])
    def move_to_queue(self, request: HttpRequest, queryset: QuerySet[Ticket]):
        return self._bulk_choice(
            request, queryset, action="move_to_queue", title=str(_("Move tickets to a queue")),
            form_class=QueueMoveForm,
            work=lambda ticket, data: services.ticket_move_queue(
                ticket=ticket, queue=data["queue"], actor=request.user
            ),
        )  # fmt: skip

    @admin.action(description=_("Solve"), permissions=["change"])
    def solve(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._bulk(
            request, queryset,
            lambda ticket: services.ticket_transition(
                ticket=ticket, to_status=Ticket.Status.SOLVED, actor=request.user
            ),
        )  # fmt: skip


class BulkAgentForm(forms.Form):
    agent = forms.ModelChoiceField(
        label=_("Agent"), queryset=AgentProfile.objects.select_related("user")
    )


# --- API tokens ----------------------------------------------------------------------------------


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["user", "name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens for the ticket API. The key is made here, shown once in the message after saving,
    and only its SHA-256 and first characters are kept; a token is revoked, never deleted, so
    an audit can still follow what used it."""

    form = ApiTokenForm
    list_display = [
        "name", "user", "prefix", "created_at", "created_by", "last_used_at", "revoked_at",
    ]  # fmt: skip
    list_select_related = ["user", "created_by"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username"]
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj=None) -> tuple[str, ...]:
        if obj is None:
            return ("user", "name")
        return ("user", "name", "prefix", "created_at", "created_by", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> tuple[str, ...]:
        if obj is None:
            return ()
        # The user is fixed once the key exists: moving a key to someone else would hand them
        # whatever already holds it.
        return ("user", "prefix", "created_at", "created_by", "last_used_at", "revoked_at")

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "user":
            users = get_user_model().objects.filter(is_active=True).order_by("username")
            if not request.user.is_superuser:
                # A token acts as its user: a supervisor must not mint one for a superuser.
                users = users.filter(is_superuser=False)
            kwargs["queryset"] = users
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        key = ApiToken.key_new()
        obj.key_hash = api_token_key_hash(key)
        obj.prefix = key[:8]
        obj.created_by = request.user  # type: ignore[assignment]
        obj.save()
        # The only time the key exists outside the client that will use it.
        messages.success(
            request,
            format_html(
                str(_("The key of “{}”, shown only this once — copy it now: {}")),
                obj.name,
                format_html('<code class="api-token-key">{}</code>', key),
            ),
        )

    @admin.action(description=_("Revoke"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(
            request,
            ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", revoked)
            % {"count": revoked},
        )
