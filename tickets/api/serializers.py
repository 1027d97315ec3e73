"""Input and output of the ticket API, each with explicit fields.

Outputs read only what the selectors joined in (queue, company, guide, assignee and its user,
each event's author), so a page or a thread costs the same number of queries at any length.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from guides.models import StepKind, StepOutcomeKind, StepProposalStatus
from guides.services import STEP_PROPOSAL_BODY_MAX_LENGTH
from helpdesk.api.fields import (
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictIntegerChoiceField,
    StrictIntegerField,
)
from tickets import presentation
from tickets.api.filters import SLA_STATES
from tickets.calendars import schedule_calendar
from tickets.models import (
    CUSTOMER_MESSAGE_MAX_LENGTH,
    STAFF_MESSAGE_MAX_LENGTH,
    AgentProfile,
    Attachment,
    Priority,
    RatingScore,
    Ticket,
    TicketEvent,
    TicketRating,
)
from tickets.services.attachments import attachment_link_token
from tickets.services.satisfaction import rating_open

# --- output: the staff's view ----------------------------------------------------------------


class TicketQueueSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    time_zone = serializers.SerializerMethodField(
        help_text="The IANA time zone of the queue's business schedule, whose working hours "
        "and holidays its SLA targets count; null when they run around the clock."
    )

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_time_zone(self, queue) -> str | None:
        calendar = schedule_calendar(queue.schedule_id)
        return calendar.time_zone.key if calendar else None


class TicketCompanySerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class TicketGuideSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()


class TicketAgentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.SerializerMethodField()

    def get_name(self, agent: AgentProfile) -> str:
        return str(agent)


class TicketListOutputSerializer(serializers.ModelSerializer):
    direction = serializers.CharField(source="text_direction")
    queue = TicketQueueSerializer()
    company = TicketCompanySerializer(allow_null=True)
    assignee = TicketAgentSerializer(allow_null=True)
    sla = serializers.SerializerMethodField(
        help_text="breached (a target was missed), at_risk (one is close), on_track, or met "
        "(solved or closed in time)."
    )
    first_response_minutes_left = serializers.SerializerMethodField(
        help_text="Minutes of the queue's working time (all minutes without a business "
        "schedule) until the first response is due; 0 once due; null with no target, once "
        "answered, or on a solved or closed ticket."
    )
    resolution_minutes_left = serializers.SerializerMethodField(
        help_text="Minutes of working time until the resolution is due, as above; while the "
        "ticket is pending, what was left when it stopped (the clock stands still)."
    )

    class Meta:
        model = Ticket
        fields = [
            "reference", "subject", "status", "priority", "language", "direction", "queue",
            "company", "assignee", "requester_name", "requester_email", "sla",
            "first_response_due_at", "resolution_due_at", "first_response_minutes_left",
            "resolution_minutes_left", "created_at", "updated_at",
        ]  # fmt: skip

    @extend_schema_field(serializers.ChoiceField(choices=[value for value, _label in SLA_STATES]))
    def get_sla(self, ticket: Ticket) -> str:
        return ticket.sla_state()

    def _minutes_left(self, ticket: Ticket) -> tuple[int | None, int | None]:
        # One clock reading per response, so both fields and every row agree.
        now = self.context.setdefault("now", timezone.now())
        return presentation.sla_minutes_left(ticket, now=now)

    @extend_schema_field(serializers.IntegerField(allow_null=True, min_value=0))
    def get_first_response_minutes_left(self, ticket: Ticket) -> int | None:
        return self._minutes_left(ticket)[0]

    @extend_schema_field(serializers.IntegerField(allow_null=True, min_value=0))
    def get_resolution_minutes_left(self, ticket: Ticket) -> int | None:
        return self._minutes_left(ticket)[1]


class TriedStepSerializer(serializers.Serializer):
    """One item of the tried-steps snapshot, as it was when the ticket was created."""

    position = serializers.IntegerField(allow_null=True)
    title = serializers.CharField(allow_blank=True)
    kind = serializers.CharField(help_text=f"Usually one of: {', '.join(StepKind.values)}.")
    outcome = serializers.CharField(
        help_text=f"Usually one of: {', '.join(StepOutcomeKind.values)}."
    )
    note = serializers.CharField(allow_blank=True)
    recorded_at = serializers.CharField(allow_null=True, help_text="ISO 8601, as recorded.")


class TicketChangeSerializer(serializers.Serializer):
    # Status and queue moves carry text or ids, assignments ids or null.
    from_ = serializers.JSONField(allow_null=True)
    to = serializers.JSONField(allow_null=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class AttachmentOutputSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(
        help_text="A signed download link, valid for ATTACHMENT_LINK_MAX_AGE seconds (10 "
        "minutes by default): read the ticket again for a fresh one."
    )

    class Meta:
        model = Attachment
        fields = ["name", "content_type", "size", "sha256", "url"]

    def get_url(self, attachment: Attachment) -> str:
        path = reverse("tickets:attachment", kwargs={"token": attachment_link_token(attachment)})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class TicketEventOutputSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField(help_text="Who wrote it; null for the system.")
    change = serializers.SerializerMethodField(help_text="What changed, for changes.")
    attachments = AttachmentOutputSerializer(many=True, read_only=True)

    class Meta:
        model = TicketEvent
        fields = ["kind", "author", "body", "created_at", "change", "attachments"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_author(self, event: TicketEvent) -> str | None:
        if event.author is None:
            return None
        return event.author.get_full_name() or event.author.get_username()

    @extend_schema_field(TicketChangeSerializer(allow_null=True))
    def get_change(self, event: TicketEvent) -> dict | None:
        change = event.change
        if not isinstance(change, dict) or not change:
            return None
        return {"from": change.get("from"), "to": change.get("to")}


class TicketDetailOutputSerializer(TicketListOutputSerializer):
    guide = TicketGuideSerializer(allow_null=True)
    tried_steps = serializers.SerializerMethodField()
    messages = serializers.SerializerMethodField(help_text="The whole thread, oldest first.")
    merged_into = serializers.CharField(
        source="merged_into.reference", allow_null=True, read_only=True,
        help_text="For a duplicate merged into another ticket: that ticket's reference.",
    )  # fmt: skip

    class Meta(TicketListOutputSerializer.Meta):
        fields = [
            *TicketListOutputSerializer.Meta.fields,
            "merged_into",
            "description", "guide", "routing_reason", "first_responded_at", "solved_at",
            "closed_at", "first_response_breached", "resolution_breached", "sla_at_risk_at",
            "sla_paused_at",
            "tried_steps", "messages",
        ]  # fmt: skip

    @extend_schema_field(TriedStepSerializer(many=True))
    def get_tried_steps(self, ticket: Ticket) -> list:
        return list(TriedStepSerializer(presentation.tried_steps(ticket), many=True).data)

    @extend_schema_field(TicketEventOutputSerializer(many=True))
    def get_messages(self, ticket: Ticket) -> list:
        thread = TicketEventOutputSerializer(
            self.context["thread"], many=True, context=self.context
        )
        return list(thread.data)


# --- output: the customer's view -------------------------------------------------------------


class CustomerTriedStepSerializer(serializers.Serializer):
    position = serializers.IntegerField(allow_null=True)
    title = serializers.CharField(allow_blank=True)
    outcome = serializers.CharField()
    note = serializers.CharField(allow_blank=True)


class CustomerMessageSerializer(serializers.ModelSerializer):
    # No names or addresses of the staff: "support" is who answers.
    sender = serializers.SerializerMethodField()
    attachments = AttachmentOutputSerializer(many=True, read_only=True)

    class Meta:
        model = TicketEvent
        fields = ["sender", "body", "created_at", "attachments"]

    @extend_schema_field(serializers.ChoiceField(choices=["customer", "support"]))
    def get_sender(self, event: TicketEvent) -> str:
        return "customer" if event.kind == TicketEvent.Kind.CUSTOMER_MESSAGE else "support"


class CustomerRatingSerializer(serializers.ModelSerializer):
    class Meta:
        model = TicketRating
        fields = ["score", "comment", "updated_at"]


class CustomerTicketOutputSerializer(serializers.ModelSerializer):
    direction = serializers.CharField(source="text_direction")
    can_reply = serializers.SerializerMethodField(
        help_text="False once the request is closed: a new problem needs a new request."
    )
    can_rate = serializers.SerializerMethodField(
        help_text="True while the solved request may be rated, or its rating changed."
    )
    rating = serializers.SerializerMethodField(help_text="The customer's rating, if given.")
    tried_steps = serializers.SerializerMethodField()
    messages = serializers.SerializerMethodField(help_text="The public thread, oldest first.")

    class Meta:
        model = Ticket
        fields = [
            "reference", "status", "subject", "language", "direction", "created_at",
            "updated_at", "can_reply", "can_rate", "rating", "tried_steps", "messages",
        ]  # fmt: skip

    def get_can_reply(self, ticket: Ticket) -> bool:
        return bool(self.context["can_reply"])

    def get_can_rate(self, ticket: Ticket) -> bool:
        return rating_open(ticket)

    @extend_schema_field(CustomerRatingSerializer(allow_null=True))
    def get_rating(self, ticket: Ticket) -> dict | None:
        try:
            rating = ticket.rating
        except TicketRating.DoesNotExist:
            return None
        return dict(CustomerRatingSerializer(rating).data)

    @extend_schema_field(CustomerTriedStepSerializer(many=True))
    def get_tried_steps(self, ticket: Ticket) -> list:
        return list(CustomerTriedStepSerializer(presentation.tried_steps(ticket), many=True).data)

    @extend_schema_field(CustomerMessageSerializer(many=True))
    def get_messages(self, ticket: Ticket) -> list:
        thread = CustomerMessageSerializer(self.context["thread"], many=True, context=self.context)
        return list(thread.data)


# --- input ---------------------------------------------------------------------------------------


def _body(*, max_length: int = STAFF_MESSAGE_MAX_LENGTH, **kwargs) -> StrictCharField:
    return StrictCharField(max_length=max_length, **kwargs)


class ReplyInputSerializer(serializers.Serializer):
    body = _body(help_text="E-mailed to the customer and shown on their status page.")
    status_after = StrictChoiceField(
        choices=Ticket.Status.choices, required=False,
        help_text="Move the ticket on in the same step, e.g. to pending when you ask something.",
    )  # fmt: skip


class NoteInputSerializer(serializers.Serializer):
    body = _body(help_text="Seen by the staff only.")


def _attachments() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.FileField(allow_empty_file=True, use_url=False),
        required=False,
        help_text="Files sent with the message (repeat the part for each). Limits on count, "
        "size and type (judged from the content, not the name): see docs/attachments.md.",
    )


class ReplyUploadInputSerializer(ReplyInputSerializer):
    attachments = _attachments()


class NoteUploadInputSerializer(NoteInputSerializer):
    attachments = _attachments()


class TransitionInputSerializer(serializers.Serializer):
    status = StrictChoiceField(choices=Ticket.Status.choices)
    note = StrictCharField(
        required=False, allow_blank=True, default="", max_length=2000,
        help_text="Why, kept with the status change.",
    )  # fmt: skip


class ReassignInputSerializer(serializers.Serializer):
    agent = StrictIntegerField(
        allow_null=True, min_value=1, max_value=2**31 - 1,
        help_text="Id of an agent of the ticket's queue, or null to hand it back to the queue.",
    )  # fmt: skip


class PriorityInputSerializer(serializers.Serializer):
    priority = StrictIntegerChoiceField(choices=Priority.choices)


class MoveInputSerializer(serializers.Serializer):
    queue = StrictCharField(max_length=100, help_text="Slug of the queue to move the ticket to.")


class CustomerReplyInputSerializer(serializers.Serializer):
    body = _body(max_length=CUSTOMER_MESSAGE_MAX_LENGTH)


class CustomerReplyUploadInputSerializer(CustomerReplyInputSerializer):
    attachments = _attachments()


class CustomerRatingInputSerializer(serializers.Serializer):
    score = StrictChoiceField(choices=RatingScore.choices, help_text="good or bad.")
    comment = _body(
        max_length=CUSTOMER_MESSAGE_MAX_LENGTH, required=False, allow_blank=True, default="",
        help_text="Optional: what was good or bad.",
    )  # fmt: skip


class CustomerStillNeedHelpInputSerializer(serializers.Serializer):
    message = _body(
        max_length=CUSTOMER_MESSAGE_MAX_LENGTH, required=False, allow_blank=True, default="",
        help_text="What is still wrong; required unless the request is solved.",
    )  # fmt: skip


# --- canned replies and merge --------------------------------------------------------------------


class CannedReplyOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="canned_reply.pk")
    title = serializers.CharField(source="canned_reply.title")
    language = serializers.CharField(source="canned_reply.language")
    direction = serializers.CharField(source="canned_reply.text_direction")
    queue = serializers.IntegerField(
        source="canned_reply.queue_id", allow_null=True,
        help_text="The queue it is for; null: every queue.",
    )  # fmt: skip
    status_after = serializers.CharField(
        source="canned_reply.status_after",
        help_text="The status it sets when applied; empty: the status stays.",
    )
    usage_count = serializers.IntegerField(source="canned_reply.usage_count")
    body = serializers.CharField(help_text="The reply, its placeholders filled in for this ticket.")
    internal_note = serializers.CharField(help_text="The note added for the staff, filled in.")
    error = serializers.CharField(
        help_text="Why it cannot be used on this ticket (e.g. a guide it links to is no longer "
        "published); empty when it can."
    )


class CannedReplyApplyInputSerializer(serializers.Serializer):
    canned_reply = StrictIntegerField(
        min_value=1, max_value=2**31 - 1, help_text="Id of one of the ticket's canned replies."
    )
    body = _body(
        required=False,
        help_text="The reply as you edited it. Left out: the canned reply as filled in.",
    )
    status_after = StrictChoiceField(
        choices=[("", "(keep)"), *Ticket.Status.choices], required=False, allow_blank=True,
        help_text="A status instead of the canned reply's own; empty keeps the ticket's status.",
    )  # fmt: skip


class MergeInputSerializer(serializers.Serializer):
    into = StrictCharField(
        min_length=1, max_length=16,
        help_text="Reference of the ticket to keep; this one, the duplicate, is merged into it.",
    )  # fmt: skip


# --- the fix of a solved ticket, proposed as a step of its guide --------------------------------


class FixInputSerializer(serializers.Serializer):
    title = StrictCharField(max_length=300, help_text="The step's title, in the guide's language.")
    body = StrictCharField(
        required=False, allow_blank=True, max_length=STEP_PROPOSAL_BODY_MAX_LENGTH,
        help_text="What to do, in Markdown. Left out: the text of your latest reply.",
    )  # fmt: skip
    same_as = StrictIntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**63 - 1,
        help_text="Id of one of the guide's open proposals (`open_proposals`) that is the same "
        "fix: the ticket counts for it. Left out, a proposal with the same title is joined, "
        "else a new one opened.",
    )  # fmt: skip


class StepProposalOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    guide = serializers.IntegerField(source="guide_id")
    language = serializers.CharField()
    title = serializers.CharField()
    body = serializers.CharField(help_text="Markdown, as proposed.")
    body_html = serializers.CharField(help_text="The body rendered and sanitised.")
    status = serializers.ChoiceField(choices=StepProposalStatus.choices)
    tickets_solved = serializers.IntegerField(help_text="Solved tickets that carried this fix.")


class FixDraftSerializer(serializers.Serializer):
    title = serializers.CharField(allow_blank=True)
    body = serializers.CharField(allow_blank=True)


class FixOutputSerializer(serializers.Serializer):
    proposal = StepProposalOutputSerializer(
        allow_null=True, help_text="The proposal this ticket's fix went into; null until then."
    )
    draft = FixDraftSerializer(
        allow_null=True,
        help_text="A title and body drafted from your latest reply, until the fix is proposed.",
    )
    open_proposals = StepProposalOutputSerializer(
        many=True, help_text="The guide's open proposals, the fix most tickets carried first."
    )


# --- the agent's availability and the supervisor's overview -------------------------------------


class AvailabilitySerializer(serializers.Serializer):
    available = StrictBooleanField(
        help_text="true: new tickets can come to you; false: away, none come to you."
    )


class QueueLoadSerializer(serializers.Serializer):
    slug = serializers.CharField(source="queue.slug")
    name = serializers.CharField(source="queue.name")
    auto_assign = serializers.BooleanField(
        source="queue.auto_assign",
        help_text="true: new tickets go to a member at once; false: members claim them.",
    )
    open = serializers.IntegerField(help_text="Open tickets (new, open, pending).")
    waiting = serializers.IntegerField(help_text="Open tickets nobody is assigned.")
    breached = serializers.IntegerField()
    at_risk = serializers.IntegerField()
    paused = serializers.IntegerField(help_text="Pending on the customer: clock paused.")
    oldest_waiting_since = serializers.DateTimeField(allow_null=True)


class AgentLoadSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.SerializerMethodField()
    open_tickets = serializers.IntegerField()
    capacity = serializers.IntegerField()
    available = serializers.BooleanField(source="is_available")
    languages = serializers.ListField(child=serializers.CharField())
    queues = serializers.SerializerMethodField()

    def get_name(self, agent: AgentProfile) -> str:
        return str(agent)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_queues(self, agent: AgentProfile) -> list[str]:
        return [queue.slug for queue in agent.queues.all()]  # type: ignore[attr-defined]


class OverviewSerializer(serializers.Serializer):
    queues = QueueLoadSerializer(many=True)
    agents = AgentLoadSerializer(many=True)
