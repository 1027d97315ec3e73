"""What the work page tells the agent beyond the ticket itself, and the views behind it: the
customer's other tickets, canned replies (the picker and its "use" without script), the guide
and step links to insert, who else has the ticket open (the presence beat) and merging a
duplicate into another ticket."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
)
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from guides.models import Step
from guides.search import search_guides
from tickets import presence, selectors, services
from tickets.models import OPEN_TICKET_STATUSES, CannedReply, Ticket

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# How many guides the work page's link search shows.
GUIDE_LINK_RESULTS = 5


def draft_key(ticket: Ticket, kind: str) -> str:
    """The session key of a reply or note the work page gives back (a refusal, a canned reply
    used without script)."""
    return f"tickets.draft.{ticket.pk}.{kind}"


def user_name(user) -> str:
    return user.get_full_name() or user.get_username()


def presence_texts(others: list[presence.Presence]) -> list[dict]:
    return [
        {
            "name": other.name,
            "typing": other.typing,
            "text": (_("%(name)s is typing a reply") if other.typing else _("%(name)s is viewing"))
            % {"name": other.name},
        }
        for other in others
    ]


class MergeForm(forms.Form):
    into = forms.CharField(label=_("Reference of the ticket to keep"), max_length=16)


class AgentContextMixin(admin.ModelAdmin):
    def _ticket_for(self, request: HttpRequest, object_id: str) -> Ticket | None:
        raise NotImplementedError  # WorkPageMixin's: the ticket if the user may see it

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        own = [
            path(
                "<path:object_id>/presence/",
                self.admin_site.admin_view(self.presence_view),
                name="{}_{}_presence".format(*info),
            ),
            path(
                "<path:object_id>/merge/",
                self.admin_site.admin_view(self.merge_view),
                name="{}_{}_merge".format(*info),
            ),
            path(
                "<path:object_id>/canned-reply/",
                self.admin_site.admin_view(self.canned_reply_use_view),
                name="{}_{}_canned_reply".format(*info),
            ),
        ]
        return own + super().get_urls()

    def _agent_context(self, request: HttpRequest, ticket: Ticket, *, can_work: bool) -> dict:
        user = request.user
        context: dict = {
            "other_tickets": selectors.customer_other_tickets(ticket=ticket, user=user),
            "presence_others": presence_texts(
                presence.presence_others(ticket_id=ticket.pk, user_id=cast(int, user.pk))
            ),
            "presence_url": reverse("admin:tickets_ticket_presence", args=[ticket.pk]),
            "presence_beat_seconds": presence.PRESENCE_BEAT_SECONDS,
            "merge_url": reverse("admin:tickets_ticket_merge", args=[ticket.pk]),
            "canned_use_url": reverse("admin:tickets_ticket_canned_reply", args=[ticket.pk]),
            "canned_replies": [],
            "guide_query": "",
            "guide_links": [],
        }
        if not can_work:
            return context
        context["merge_candidates"] = [
            other
            for other in context["other_tickets"]
            if other.status in OPEN_TICKET_STATUSES or other.status == Ticket.Status.SOLVED
        ]
        rendered = services.canned_replies_render(
            canned_replies=selectors.canned_replies_for(ticket=ticket), ticket=ticket, actor=user
        )
        context["canned_replies"] = rendered
        # What the picker's script inserts: the filled-in text and the status to set.
        context["canned_data"] = {
            str(item.canned_reply.pk): {"body": item.body, "status": item.canned_reply.status_after}
            for item in rendered
            if not item.error
        }
        query = request.GET.get("guide_q", "").strip()[:200]
        if query:
            context["guide_query"] = query
            context["guide_links"] = self._guide_links(query, ticket)
        return context

    def _guide_links(self, query: str, ticket: Ticket) -> list[dict]:
        """The guides matching ``query`` (the ticket's language first), each with its steps:
        the link text to insert into a reply and the placeholder a canned reply would use."""
        guides = search_guides(
            query=query, prefer_language=ticket.language, limit=GUIDE_LINK_RESULTS
        )
        steps: dict[int, list[Step]] = {}
        for step in (
            Step.objects.filter(guide__in=[g.pk for g in guides])
            .only("pk", "guide_id", "position", "title")
            .order_by("guide_id", "position")
        ):
            steps.setdefault(step.guide_id, []).append(step)
        links = []
        for guide in guides:
            url = f"{settings.SITE_URL}{guide.public_path()}"
            links.append(
                {
                    "guide": guide,
                    "text": f"{guide.title}: {url}",
                    "placeholder": f"{{guide:{guide.pk}}}",
                    "steps": [
                        {
                            "step": step,
                            "text": f"{step.title} ({guide.title}): {url}#step-{step.position}",
                            "placeholder": f"{{step:{guide.pk}#{step.position}}}",
                        }
                        for step in steps.get(guide.pk, [])
                    ],
                }
            )
        return links

    # --- the presence beat ---

    def presence_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """One beat of an open work page (tickets/static/tickets/workspace.js): records the
        agent, and answers who else is there. ``left=1`` is the last beat of a closed page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        ticket = self._ticket_for(request, object_id)
        if ticket is None:
            raise Http404(_("No such ticket or action."))
        if not self.has_view_permission(request):
            raise PermissionDenied
        user = request.user
        if request.POST.get("left") == "1":
            presence.presence_leave(ticket_id=ticket.pk, user_id=cast(int, user.pk))
            return JsonResponse({"others": []})
        presence.presence_beat(
            ticket_id=ticket.pk, user_id=cast(int, user.pk), name=user_name(user),
            typing=request.POST.get("typing") == "1",
        )  # fmt: skip
        others = presence.presence_others(ticket_id=ticket.pk, user_id=cast(int, user.pk))
        return JsonResponse({"others": presence_texts(others)})

    # --- a canned reply used without script ---

    def canned_reply_use_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The picker's "use" without script: the filled-in reply goes into the reply box (as a
        draft in the session) with its status chosen, for the agent to read, edit and send."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        ticket = self._ticket_for(request, object_id)
        if ticket is None:
            raise Http404(_("No such ticket or action."))
        if not self.has_change_permission(request):
            raise PermissionDenied
        page = redirect("admin:tickets_ticket_change", ticket.pk)
        raw = request.POST.get("canned_reply", "")
        canned = (
            selectors.canned_replies_for(ticket=ticket).filter(pk=int(raw)).first()
            if raw.isascii() and raw.isdigit() and len(raw) < 10
            else None
        )
        if canned is None:
            messages.error(request, _("Choose a canned reply from the list."))
            return page
        try:
            body = services.canned_reply_render(
                canned_reply=canned, ticket=ticket, actor=request.user
            )
        except services.CannedReplyError as error:
            messages.error(request, error.message)
            return page
        session = request.session
        session[draft_key(ticket, "reply")] = body
        session[draft_key(ticket, "canned")] = canned.pk
        session[draft_key(ticket, "status")] = canned.status_after
        messages.info(
            request,
            _("The canned reply “%(title)s” is in the reply box: read it, then send it.")
            % {"title": canned.title},
        )
        return page

    # --- merge ---

    def merge_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Merge this ticket, a duplicate, into the one to keep: GET asks to confirm (which
        ticket, what moves), POST merges (tickets.services.ticket_merge)."""
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        ticket = self._ticket_for(request, object_id)
        if ticket is None:
            raise Http404(_("No such ticket or action."))
        if not self.has_change_permission(request):
            raise PermissionDenied
        page = redirect("admin:tickets_ticket_change", ticket.pk)
        form = MergeForm(request.POST if request.method == "POST" else request.GET)
        if not form.is_valid():
            messages.error(request, _("Give the reference of the ticket to merge this one into."))
            return page
        reference = form.cleaned_data["into"].strip().upper()
        target = (
            selectors.tickets_visible_to(user=request.user)
            .select_related("queue", "assignee__user")
            .filter(reference=reference)
            .first()
        )
        if target is None:
            messages.error(
                request,
                _("No ticket of yours has the reference %(reference)s.") % {"reference": reference},
            )
            return page
        if request.method == "POST":
            try:
                services.ticket_merge(source=ticket, target=target, actor=request.user)
            except services.TicketError as error:
                messages.error(request, error.message)
                return page
            messages.success(
                request,
                _("%(source)s is merged into %(target)s; its customer is told by e-mail.")
                % {"source": ticket.reference, "target": target.reference},
            )
            return redirect("admin:tickets_ticket_change", target.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Merge a duplicate ticket"),
            "subtitle": None,
            "opts": self.opts,
            "ticket": ticket,
            "target": target,
            "messages_count": ticket.events.filter(kind__in=services.merge.MERGED_KINDS).count(),
            "steps_count": len(ticket.tried_steps),
        }
        return TemplateResponse(request, "admin/tickets/ticket/merge.html", context)


class CannedReplyForm(forms.ModelForm):
    class Meta:
        model = CannedReply
        fields = [
            "title",
            "queue",
            "language",
            "body",
            "status_after",
            "internal_note",
            "is_active",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Arabic replies are written right to left; a new one follows what is typed.
        language = self.instance.language if self.instance.pk else self.initial.get("language")
        direction = {"ar": "rtl", "en": "ltr"}.get(language or "", "auto")
        for name in ("title", "body", "internal_note"):
            self.fields[name].widget.attrs["dir"] = direction

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        try:
            services.placeholders_check(body)
        except services.CannedReplyError as error:
            raise forms.ValidationError(error.message) from error
        return body

    def clean_internal_note(self) -> str:
        note = self.cleaned_data["internal_note"]
        try:
            services.placeholders_check(note)
        except services.CannedReplyError as error:
            raise forms.ValidationError(error.message) from error
        return note


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    """Supervisors write the canned replies of their desk; agents read them here and use them
    on the work page."""

    form = CannedReplyForm
    list_display = ["title", "queue", "language", "status_after", "usage_count", "is_active"]
    list_filter = ["language", "queue", "is_active"]
    search_fields = ["title", "body"]
    list_select_related = ["queue"]
    readonly_fields = ["usage_count", "created_by", "created_at", "body_preview"]

    @admin.display(description=_("preview"))
    def body_preview(self, obj: CannedReply) -> str:
        # Sanitised by guides.markdown (nh3): no script or event handler gets through.
        return format_html(
            '<div class="canned-preview" dir="{}">{}</div>',
            obj.text_direction,
            mark_safe(obj.body_html),  # noqa: S308
        )

    def save_model(self, request: HttpRequest, obj: CannedReply, form, change: bool) -> None:
        if not change:
            obj.created_by = cast("User", request.user)
        super().save_model(request, obj, form, change)
