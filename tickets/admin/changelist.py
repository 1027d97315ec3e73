"""The ticket list: its paging without an unbounded COUNT(*), its order, and ``TicketAdmin``,
which puts the list together with the work page (tickets.admin.work_page) and the bulk
actions (tickets.admin.bulk_actions)."""

from __future__ import annotations

from typing import cast

from django.contrib import admin
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.core.paginator import EmptyPage, Page, Paginator
from django.db import connections
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from tickets import selectors
from tickets.admin.bulk_actions import BulkActionsMixin
from tickets.admin.filters import (
    AssigneeFilter,
    CompanyFilter,
    QueueFilter,
    SLAStateFilter,
    WorkViewFilter,
    agent_profile_of,
)
from tickets.admin.work_page import WorkPageMixin
from tickets.models import Ticket
from tickets.presentation import sla_summary
from tickets.selectors import (
    WORK_ORDER,
    ticket_visible_to,
    tickets_listed_for,
    user_sees_all_queues,
)


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


@admin.register(Ticket)
class TicketAdmin(WorkPageMixin, BulkActionsMixin, admin.ModelAdmin):
    """The agent's workspace. Tickets are created only by the escalation path and change only
    through the ticket services (which write the event and move the agent's capacity and the
    SLA clocks together), so there is no add, edit or delete form: the change page is a work
    page whose buttons post to small views calling one service each (WorkPageMixin, in
    tickets.admin.work_page); the list's bulk actions are BulkActionsMixin's. This class is
    the list: its columns, filters, search, order and who sees which tickets.

    Every read goes through tickets_visible_to (here its list form, tickets_listed_for): an
    agent's list, change page, actions and the autocomplete see the tickets of their queues and
    nothing else.
    """

    # What an agent scans for first (the clock, urgency, state, owner) before what they read.
    # The company and the language are read under the subject (subject_display): as columns
    # of their own they made the list 920 px wide in the 717 px left at 1366 px between the
    # admin's two sidebars, clipped. On a phone the rows become cards (tickets/admin.css).
    list_display = [
        "reference", "subject_display", "sla", "priority_display", "status_display", "assignee",
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
                agent_profile_of(request.user)
                if request.user.has_perm("tickets.claim_ticket")
                else None
            ),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    # --- columns ---

    @admin.display(description=_("Subject"), ordering="subject")
    def subject_display(self, ticket: Ticket) -> str:
        # The company comes joined (list_select_related) and the language is a column of the
        # row: no query per row.
        subject = format_html('<span class="ticket-subject" dir="auto">{}</span>', ticket.subject)
        if ticket.company is None:  # a contact-form request without a guide
            return format_html(
                '{}<span class="ticket-more">{}</span>', subject, ticket.get_language_display()
            )
        return format_html(
            '{}<span class="ticket-more"><span dir="auto">{}</span> · {}</span>',
            subject,
            ticket.company.name,
            ticket.get_language_display(),
        )

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
            f"{clock.label}: {clock.due_text} {clock.time_zone}".rstrip(),
            clock.text,
        )
