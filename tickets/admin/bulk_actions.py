"""The ticket list's bulk actions: each ticket goes through the same service as on its work
page, in its own transaction, and the message says what was done and what was refused."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tickets import services
from tickets.admin.filters import agent_profile_of
from tickets.admin.forms import BulkAgentForm, PriorityForm, QueueMoveForm
from tickets.models import Ticket


class BulkActionsMixin(admin.ModelAdmin):
    """TicketAdmin's actions on the selected tickets."""

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
        agent = agent_profile_of(request.user)
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
