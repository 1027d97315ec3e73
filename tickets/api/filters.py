"""The ticket list's filters: the admin changelist's, as query parameters.

Every value is validated: an unknown status, a malformed agent id or a slug with spaces is a
400 naming the parameter, never an empty page that looks like "no tickets".
"""

from __future__ import annotations

import django_filters
from django import forms
from django.core.validators import RegexValidator
from django.db.models import QuerySet

from guides.models import Language
from helpdesk.api.inputs import SlugFilter
from tickets import selectors
from tickets.models import AgentProfile, Priority, Queue, Ticket

# A database id as a query parameter: digits, small enough for any backend's integer.
ID_PATTERN = r"[1-9][0-9]{0,8}"
SLUG_OR_ID_PATTERN = r"^[-a-zA-Z0-9_]*$"
ASSIGNEE_PATTERN = rf"^(|me|none|{ID_PATTERN})$"
SEARCH_PATTERN = r"^[^\u0000]{0,200}$"

SLA_STATES = [(value, str(label)) for value, label in selectors.SLA_STATES]


class _SlugField(forms.CharField):
    default_validators = [RegexValidator(SLUG_OR_ID_PATTERN, "Enter a slug or an id.")]


class _AssigneeField(forms.CharField):
    default_validators = [RegexValidator(ASSIGNEE_PATTERN, "Enter “me”, “none” or an agent id.")]


class _SlugOrIdFilter(django_filters.CharFilter):
    field_class = _SlugField


class _AssigneeFilter(django_filters.CharFilter):
    field_class = _AssigneeField


class TicketFilter(django_filters.FilterSet):
    queue = _SlugOrIdFilter(method="filter_queue")
    # distinct=False: these test a column of the ticket itself, so there is no join to
    # de-duplicate, and django-filter's default SELECT DISTINCT made PostgreSQL sort every
    # open ticket before returning a page of 20.
    status = django_filters.MultipleChoiceFilter(choices=Ticket.Status.choices, distinct=False)
    priority = django_filters.TypedMultipleChoiceFilter(
        choices=[(str(value), label) for value, label in Priority.choices],
        coerce=int,
        distinct=False,
    )
    assignee = _AssigneeFilter(method="filter_assignee")
    sla = django_filters.ChoiceFilter(choices=SLA_STATES, method="filter_sla")
    language = django_filters.ChoiceFilter(choices=Language.choices)
    company = SlugFilter(field_name="company__slug")
    q = django_filters.CharFilter(method="filter_search", max_length=200)

    class Meta:
        model = Ticket
        fields = ["queue", "status", "priority", "assignee", "sla", "language", "company", "q"]

    def filter_queue(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        if value.isdigit() and len(value) <= 9:
            return queryset.filter(queue_id=int(value))
        # The slug is resolved to the queue's id first (one small query): filtering through
        # the join let PostgreSQL read and sort a whole queue's tickets for a page of 20.
        queue_id = Queue.objects.filter(slug=value).values_list("pk", flat=True).first()
        return queryset.none() if queue_id is None else queryset.filter(queue_id=queue_id)

    def filter_assignee(
        self, queryset: QuerySet[Ticket], name: str, value: str
    ) -> QuerySet[Ticket]:
        if value == "me":
            # By the profile's id, which the assignee indexes serve; through the user it was a
            # join the planner could not use them for. No profile (a supervisor): no tickets.
            profile_id = (
                AgentProfile.objects.filter(user_id=self.request.user.pk)
                .values_list("pk", flat=True)
                .first()
            )
            return (
                queryset.none() if profile_id is None else queryset.filter(assignee_id=profile_id)
            )
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        return queryset.filter(assignee_id=int(value))

    def filter_sla(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        return selectors.tickets_in_sla_state(queryset, value)

    def filter_search(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        return selectors.tickets_matching(queryset, value)
