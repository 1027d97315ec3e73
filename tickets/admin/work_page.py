"""The agent's work on one ticket: the work page (what the customer tried, the thread, the
SLA clocks, the answer forms), the small views its buttons post to, the page that proposes the
ticket's fix as a step of its guide, claim next, the agent's availability switch and the
supervisor's queue overview."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from guides.admin_statistics import percent
from guides.selectors import step_proposal_of_ticket
from helpdesk.errors import ServiceError
from tickets import events, selectors, services
from tickets.admin.agent_context import AgentContextMixin
from tickets.admin.filters import agent_profile_of
from tickets.admin.forms import (
    AssigneeForm,
    FixForm,
    NoteForm,
    PriorityForm,
    QueueMoveForm,
    ReplyForm,
    TransitionForm,
    transition_choices,
    valid_data,
)
from tickets.models import STAFF_MESSAGE_MAX_LENGTH, Queue, Ticket, TicketEvent, TicketRating
from tickets.presentation import duration, fix_draft, sla_clocks, tried_steps
from tickets.selectors import ticket_thread, user_sees_all_queues

_THREAD_CLASSES = {
    TicketEvent.Kind.CUSTOMER_MESSAGE: "event-customer",
    TicketEvent.Kind.AGENT_REPLY: "event-reply",
    TicketEvent.Kind.INTERNAL_NOTE: "event-note",
}


WORK_ACTIONS = ("reply", "note", "status", "priority", "assign", "queue")


# The overview's periods of customer satisfaction, in days; the first is the default.
SATISFACTION_PERIODS = (30, 7, 90, 365)


def _satisfaction(request: HttpRequest, now: datetime) -> dict:
    """The overview's satisfaction: the share of good ratings given (or changed) in the chosen
    period, and the latest comments of bad ones."""
    try:
        days = int(request.GET.get("days", SATISFACTION_PERIODS[0]))
    except ValueError:
        days = SATISFACTION_PERIODS[0]
    if days not in SATISFACTION_PERIODS:
        days = SATISFACTION_PERIODS[0]
    summary = selectors.satisfaction_summary(since=now - timedelta(days=days))
    share = summary["good_share"]
    return {
        **summary,
        "days": days,
        "good_share_text": percent(share) if share is not None else "",
        "periods": [
            (
                period,
                ngettext("the last %(days)d day", "the last %(days)d days", period)
                % {"days": period},
            )
            for period in SATISFACTION_PERIODS
        ],
    }


def _draft_key(ticket: Ticket, kind: str) -> str:
    return f"tickets.draft.{ticket.pk}.{kind}"


class WorkPageMixin(AgentContextMixin, admin.ModelAdmin):
    """TicketAdmin's own pages and views; each button calls one ticket service."""

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
                "<path:object_id>/fix/",
                self.admin_site.admin_view(self.fix_view),
                name="{}_{}_fix".format(*info),
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
            "satisfaction": _satisfaction(request, now),
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
        fix = step_proposal_of_ticket(ticket_id=ticket.pk) if guide is not None else None
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
                ticket=ticket,
                initial={
                    "body": session.pop(_draft_key(ticket, "reply"), ""),
                    # A canned reply used without script (AgentContextMixin): counted when sent.
                    "canned_reply": session.pop(_draft_key(ticket, "canned"), None),
                    "status_after": session.pop(_draft_key(ticket, "status"), ""),
                },
            ),
            "note_form": NoteForm(
                initial={"body": session.pop(_draft_key(ticket, "note"), "")},
                auto_id="id_note_%s",
            ),
            "priority_form": PriorityForm(initial={"priority": ticket.priority}),
            "transitions": transition_choices(ticket),
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
            # The ticket's fix as a step of its guide: proposed already, or to propose.
            "fix": fix,
            "can_propose_fix": can_work and guide is not None and fix is None,
            "fix_open": ticket.status in services.FIX_STATUSES,
            "fix_url": reverse("admin:tickets_ticket_fix", args=[ticket.pk]),
            "rating": TicketRating.objects.filter(ticket=ticket).first(),
            **self._agent_context(request, ticket, can_work=can_work),
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
            text, next_url = done if isinstance(done, tuple) else (done, None)
            messages.success(request, text)
            if next_url is not None:
                return redirect(next_url)
        return redirect("admin:tickets_ticket_change", ticket.pk)

    def _draft_keep(self, request: HttpRequest, ticket: Ticket, action: str) -> None:
        # A refused reply must not cost the agent what they typed: it comes back in the form.
        if action in ("reply", "note"):
            request.session[_draft_key(ticket, action)] = request.POST.get("body", "")[
                :STAFF_MESSAGE_MAX_LENGTH
            ]

    def _work_reply(self, request: HttpRequest, ticket: Ticket) -> str | tuple[str, str]:
        data = valid_data(ReplyForm(request.POST, request.FILES, ticket=ticket))
        canned = data["canned_reply"]
        with transaction.atomic():  # the reply goes with its files or not at all
            if canned is not None:
                # Inserted from the picker and perhaps edited: sent as written, with the canned
                # reply's note, and counted as one more use.
                reply = services.canned_reply_apply(
                    canned_reply=canned, ticket=ticket, actor=request.user, body=data["body"],
                    status_after=data["status_after"],
                )  # fmt: skip
            else:
                reply = services.ticket_reply(
                    ticket=ticket, actor=request.user, body=data["body"], public=True,
                    status_after=data["status_after"] or None,
                )  # fmt: skip
            services.attachments_add(event=reply, files=data["attachments"])
        sent = str(_("Reply sent to the customer."))
        if data["is_fix"]:
            # On to the fix's page, drafted from this reply, for the agent to edit and send.
            fix_url = reverse("admin:tickets_ticket_fix", args=[ticket.pk])
            return sent, f"{fix_url}?reply={reply.pk}"
        return sent

    def _work_note(self, request: HttpRequest, ticket: Ticket) -> str:
        data = valid_data(NoteForm(request.POST, request.FILES))
        with transaction.atomic():
            note = services.ticket_note(ticket=ticket, actor=request.user, body=data["body"])
            services.attachments_add(event=note, files=data["attachments"])
        return str(_("Internal note added."))

    def _work_status(self, request: HttpRequest, ticket: Ticket) -> str:
        data = valid_data(TransitionForm(request.POST))
        ticket = services.ticket_transition(
            ticket=ticket, to_status=data["to_status"], actor=request.user
        )
        return str(_("Status is now %(status)s.")) % {"status": ticket.get_status_display()}

    def _work_priority(self, request: HttpRequest, ticket: Ticket) -> str:
        data = valid_data(PriorityForm(request.POST))
        ticket = services.ticket_priority_change(
            ticket=ticket, priority=data["priority"], actor=request.user
        )
        return str(_("Priority is now %(priority)s.")) % {"priority": ticket.get_priority_display()}

    def _work_assign(self, request: HttpRequest, ticket: Ticket) -> str:
        agent = valid_data(AssigneeForm(request.POST, user=request.user))["assignee"]
        services.ticket_assign_to(ticket=ticket, agent=agent, actor=request.user)
        if agent is None:
            return str(_("The ticket is back in its queue, unassigned."))
        return str(_("Assigned to %(agent)s.")) % {"agent": agent}

    def _work_queue(self, request: HttpRequest, ticket: Ticket) -> str:
        queue = valid_data(QueueMoveForm(request.POST))["queue"]
        services.ticket_move_queue(ticket=ticket, queue=queue, actor=request.user)
        return str(_("Moved to the queue %(queue)s.")) % {"queue": queue}

    # --- the fix, proposed as a step of the guide ---

    def fix_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Propose the reply that solved the ticket as a step of its guide: a form drafted
        from that reply (``?reply=<event id>``, else the latest reply), the guide's open
        proposals to join one of, then guides' step_proposal_submit through the ticket
        service. A refusal comes back as the form's error."""
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        ticket = self._ticket_for(request, object_id)
        if ticket is None:
            raise Http404(_("No such ticket or action."))
        if not self.has_change_permission(request):
            raise PermissionDenied
        page = redirect("admin:tickets_ticket_change", ticket.pk)
        reply_id = request.GET.get("reply", "")
        state = selectors.ticket_fix_state(
            ticket=ticket,
            reply_id=int(reply_id) if reply_id.isascii() and reply_id.isdigit() else None,
        )
        target, proposals, reply = state.guide, state.open_proposals, state.reply
        if state.proposal is not None:
            messages.info(request, _("This ticket's fix has been proposed already."))
            return page
        if target is None:
            messages.error(request, _("This ticket has no guide to add a step to."))
            return page
        if ticket.status not in services.FIX_STATUSES:
            messages.error(
                request, _("Solve the ticket first: its fix is the reply that solved it.")
            )
            return page
        if request.method == "POST":
            form = FixForm(request.POST, proposals=proposals)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    services.ticket_fix_propose(
                        ticket=ticket, actor=request.user, title=data["title"],
                        body=data["body"], same_as=data["same_as"],
                    )  # fmt: skip
                except ServiceError as error:
                    form.add_error(
                        error.field if error.field in form.fields else None, error.message
                    )
                else:
                    messages.success(
                        request,
                        _("The fix is proposed as a step of the guide “%(guide)s”.")
                        % {"guide": target.title},
                    )
                    return page
        else:
            draft = fix_draft(reply.body) if reply is not None else None
            form = FixForm(
                initial={"title": draft.title, "body": draft.body} if draft else {},
                proposals=proposals,
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Propose the fix as a step of the guide"),
            "subtitle": None,
            "opts": self.opts,
            "ticket": ticket,
            "guide": target,
            "reply": reply,
            "form": form,
            "proposals": proposals,
        }
        return TemplateResponse(request, "admin/tickets/ticket/fix.html", context)

    # --- claim next ---

    def availability_view(self, request: HttpRequest) -> HttpResponse:
        """The agent's own switch on the ticket list: available for new tickets, or away."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        agent = agent_profile_of(request.user)
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
        agent = agent_profile_of(request.user)
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
