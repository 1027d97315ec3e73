"""The ticket list's filters: "my work" by default, then queue, assignee and SLA state, each a
fixed list or one small query, never a DISTINCT over the tickets table."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.options import IS_FACETS_VAR, IS_POPUP_VAR, TO_FIELD_VAR
from django.contrib.admin.views.main import ALL_VAR, ORDER_VAR, PAGE_VAR, SEARCH_VAR
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from guides.models import Company
from tickets import selectors
from tickets.models import AgentProfile, Queue, Ticket
from tickets.selectors import agent_queue_ids, user_sees_all_queues, work_list

# Query-string keys that are not a choice of tickets: the work view stays on with them.
_NOT_A_FILTER = {ORDER_VAR, PAGE_VAR, ALL_VAR, IS_POPUP_VAR, TO_FIELD_VAR, IS_FACETS_VAR, "e"}


def _other_filters_chosen(request: HttpRequest) -> bool:
    """Whether the agent asked for something (a filter or a search) beyond the default view."""
    keys = set(request.GET) - _NOT_A_FILTER - {WorkViewFilter.parameter_name, SEARCH_VAR}
    return bool(keys) or bool(request.GET.get(SEARCH_VAR, "").strip())


def agent_profile_of(user) -> AgentProfile | None:
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
