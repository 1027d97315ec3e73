"""The ticket API: agents, supervisors and integrations work tickets (token or session), and
customers read and answer their own ticket with its secret.

Views are thin: scoping comes from tickets.selectors, every change from tickets.services, and
every refusal leaves in the one error shape (helpdesk.api.errors).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from guides.models import Language
from helpdesk import limits
from helpdesk.api.errors import ErrorSerializer
from helpdesk.api.inputs import SLUG_PATTERN, validated
from helpdesk.api.parsers import JSONParser
from helpdesk.api.schema import ERROR_RESPONSES, TICKET_SECRET_AUTH
from helpdesk.api.throttling import (
    AnonRateThrottle,
    CountedThrottlesMixin,
    ScopedRateThrottle,
    UserRateThrottle,
)
from helpdesk.errors import refusals_concern
from helpdesk.http import client_address
from tickets import selectors, services
from tickets.api import serializers as io
from tickets.api.authentication import ApiTokenAuthentication
from tickets.api.filters import (
    ASSIGNEE_PATTERN,
    SEARCH_PATTERN,
    SLA_STATES,
    SLUG_OR_ID_PATTERN,
    TicketFilter,
)
from tickets.api.pagination import ORDERINGS, TicketCursorPagination
from tickets.models import (
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    AgentProfile,
    Priority,
    Queue,
    RatingSource,
    Ticket,
)
from tickets.presentation import fix_draft

REFERENCE_PATTERN = f"^[{REFERENCE_ALPHABET}]{{{REFERENCE_LENGTH}}}$"
REFERENCE = OpenApiParameter(
    "reference", str, location=OpenApiParameter.PATH, pattern=REFERENCE_PATTERN,
    description="The ticket's reference, e.g. 7KQ2M9XRTB.",
)  # fmt: skip

STAFF_ERRORS = {
    **ERROR_RESPONSES,
    401: OpenApiResponse(ErrorSerializer, description="No token, or a wrong or revoked one."),
    403: OpenApiResponse(ErrorSerializer, description="Your role may not do this."),
}
CONFLICT = {
    409: OpenApiResponse(
        ErrorSerializer,
        description="Refused in the ticket's state: not an allowed transition, the agent is "
        "at capacity, or the ticket is closed. `detail` says why.",
    )
}


# The writes of a message take JSON, or multipart/form-data with files in ``attachments``.
MESSAGE_PARSERS = [JSONParser, MultiPartParser]


def message_input(
    request: Request,
    serializer: type[serializers.Serializer],
    upload_serializer: type[serializers.Serializer],
) -> tuple[dict, list[services.CheckedFile]]:
    """A message's fields and its files, checked before anything is written: a refused file
    is a 400 under ``attachments`` naming each bad file."""
    multipart = (request.content_type or "").startswith("multipart/form-data")
    data = validated(upload_serializer if multipart else serializer, request)
    uploads = data.pop("attachments", [])
    return data, services.attachments_check(files=services.uploads_read(uploads))


def own_agent_profile(request: Request, refusal: str):
    """The requesting user's agent profile, or a 403 saying ``refusal``."""
    agent = getattr(request.user, "agent_profile", None)
    if agent is None:
        raise PermissionDenied(refusal)
    return agent


# --- the staff's side --------------------------------------------------------------------------


class CanWorkTickets(permissions.BasePermission):
    """Reading needs tickets.view_ticket, changing tickets.change_ticket; an action may ask for
    more (``required_permissions`` on the view). Which tickets is the selectors' business."""

    def has_permission(self, request: Request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        needed = ["tickets.view_ticket"]
        if request.method not in permissions.SAFE_METHODS:
            needed.append("tickets.change_ticket")
        needed.extend(getattr(view, "required_permissions", ()))
        return user.has_perms(needed)


def _ticket_related(queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
    return queryset.select_related("queue", "company", "assignee__user")


LIST_PARAMETERS = [
    OpenApiParameter(
        "queue", str, pattern=SLUG_OR_ID_PATTERN, description="Queue slug or id."
    ),
    OpenApiParameter(
        "status", {"type": "array", "items": {"type": "string", "enum": Ticket.Status.values}},
        explode=True, description="One or more statuses (repeat the parameter).",
    ),
    OpenApiParameter(
        "priority",
        {"type": "array", "items": {"type": "string", "enum": [str(p) for p in Priority.values]}},
        explode=True, description="One or more priorities: 1 low, 2 normal, 3 high, 4 urgent.",
    ),
    OpenApiParameter(
        "assignee", str, pattern=ASSIGNEE_PATTERN,
        description="`me`, `none` (unassigned) or an agent id.",
    ),
    OpenApiParameter("sla", str, enum=["", *(value for value, _label in SLA_STATES)]),
    OpenApiParameter("language", str, enum=["", *Language.values]),
    OpenApiParameter(
        "company", str, pattern=SLUG_PATTERN, description="Company slug."
    ),
    OpenApiParameter(
        "q", str, pattern=SEARCH_PATTERN,
        description="A reference or an e-mail address (exactly), or part of the subject.",
    ),
    OpenApiParameter(
        "ordering", str, enum=list(ORDERINGS), default="newest",
        description="`newest` first, or `work`: breached first, then priority, then oldest.",
    ),
]  # fmt: skip


@extend_schema_view(
    list=extend_schema(
        summary="Tickets of your queues (supervisors: all), filtered",
        parameters=LIST_PARAMETERS,
        responses={200: io.TicketListOutputSerializer(many=True), **STAFF_ERRORS},
    ),
    retrieve=extend_schema(
        summary="A ticket with what the customer tried and the whole thread",
        parameters=[REFERENCE],
        responses={200: io.TicketDetailOutputSerializer, **STAFF_ERRORS},
    ),
)
class TicketViewSet(viewsets.GenericViewSet):
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [CanWorkTickets]
    throttle_classes = [UserRateThrottle]
    pagination_class = TicketCursorPagination
    filterset_class = TicketFilter
    serializer_class = io.TicketListOutputSerializer
    lookup_field = "reference"
    lookup_value_regex = "[^/]+"
    # Set per request from ?ordering=; read by the pagination.
    ordering_name = "newest"
    # More permissions an action needs (set by @action(required_permissions=…)).
    required_permissions: tuple[str, ...] | list[str] = ()

    def get_queryset(self) -> QuerySet[Ticket]:
        return _ticket_related(selectors.tickets_visible_to(user=self.request.user))

    def ticket(self) -> Ticket:
        """The ticket named in the URL, if the user may see it: one outside their queues is a
        404, as if it did not exist (a 403 would confirm the reference)."""
        reference = self.kwargs["reference"]
        ticket = self.get_queryset().filter(reference=reference).first()
        if ticket is None:
            raise Http404
        return ticket

    def detail_response(self, ticket: Ticket, *, code: int = status.HTTP_200_OK) -> Response:
        ticket = _ticket_related(Ticket.objects.select_related("guide")).get(pk=ticket.pk)
        thread = selectors.ticket_thread(ticket=ticket)
        context = {"thread": thread, "request": self.request}
        data = io.TicketDetailOutputSerializer(ticket, context=context).data
        return Response(data, status=code)

    def list(self, request: Request) -> Response:
        ordering = request.query_params.get("ordering", "newest")
        if ordering not in ORDERINGS:
            choices = ", ".join(ORDERINGS)
            raise ValidationError({"ordering": [f"Choose one of: {choices}."]})
        self.ordering_name = ordering
        # The agent's queue ids as values, so the filters' indexes serve a page (see the
        # selector); a single ticket is found by its reference either way.
        tickets = self.filter_queryset(
            _ticket_related(selectors.tickets_listed_for(user=request.user))
        )
        page = self.paginate_queryset(tickets)
        data = io.TicketListOutputSerializer(page, many=True).data
        return self.get_paginated_response(data)

    def retrieve(self, request: Request, reference: str) -> Response:
        ticket = self.get_queryset().select_related("guide").filter(reference=reference).first()
        if ticket is None:
            raise Http404
        thread = selectors.ticket_thread(ticket=ticket)
        context = {"thread": thread, "request": request}
        return Response(io.TicketDetailOutputSerializer(ticket, context=context).data)

    @extend_schema(
        summary="Reply to the customer (e-mailed), optionally moving the status on",
        parameters=[REFERENCE],
        request={
            "application/json": io.ReplyInputSerializer,
            "multipart/form-data": io.ReplyUploadInputSerializer,
        },
        responses={201: io.TicketDetailOutputSerializer, **STAFF_ERRORS, **CONFLICT},
    )
    @action(detail=True, methods=["post"], parser_classes=MESSAGE_PARSERS)
    def reply(self, request: Request, reference: str) -> Response:
        ticket = self.ticket()
        data, files = message_input(request, io.ReplyInputSerializer, io.ReplyUploadInputSerializer)
        with refusals_concern("body"), transaction.atomic():
            reply = services.ticket_reply(
                ticket=ticket, actor=request.user, body=data["body"],
                status_after=data.get("status_after"),
            )  # fmt: skip
            services.attachments_add(event=reply, files=files)
        return self.detail_response(ticket, code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Add an internal note (the customer never sees it)",
        parameters=[REFERENCE],
        request={
            "application/json": io.NoteInputSerializer,
            "multipart/form-data": io.NoteUploadInputSerializer,
        },
        responses={201: io.TicketDetailOutputSerializer, **STAFF_ERRORS},
    )
    @action(detail=True, methods=["post"], parser_classes=MESSAGE_PARSERS)
    def notes(self, request: Request, reference: str) -> Response:
        ticket = self.ticket()
        data, files = message_input(request, io.NoteInputSerializer, io.NoteUploadInputSerializer)
        with refusals_concern("body"), transaction.atomic():
            note = services.ticket_note(ticket=ticket, actor=request.user, body=data["body"])
            services.attachments_add(event=note, files=files)
        return self.detail_response(ticket, code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change the status along the workflow",
        description="new → open, pending or solved; open ⇄ pending; open or pending → solved; "
        "solved → open (reopen) or closed. Anything else is a 409 saying what is allowed.",
        parameters=[REFERENCE],
        request=io.TransitionInputSerializer,
        responses={200: io.TicketDetailOutputSerializer, **STAFF_ERRORS, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, reference: str) -> Response:
        ticket = self.ticket()
        data = validated(io.TransitionInputSerializer, request)
        with refusals_concern("status"):
            services.ticket_transition(
                ticket=ticket, to_status=data["status"], actor=request.user, note=data["note"]
            )
        return self.detail_response(ticket)

    @extend_schema(
        summary="Assign to an agent of the ticket's queue, or back to the queue",
        description="Agents may take a ticket themselves; giving it to someone else or back to "
        "the queue needs the supervisor's reassign permission.",
        parameters=[REFERENCE],
        request=io.ReassignInputSerializer,
        responses={200: io.TicketDetailOutputSerializer, **STAFF_ERRORS, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def reassign(self, request: Request, reference: str) -> Response:
        ticket = self.ticket()
        data = validated(io.ReassignInputSerializer, request)
        agent = None
        if data["agent"] is not None:
            agent = AgentProfile.objects.select_related("user").filter(pk=data["agent"]).first()
            if agent is None:
                raise ValidationError({"agent": ["No agent has this id."]})
        with refusals_concern("agent"):
            services.ticket_assign_to(ticket=ticket, agent=agent, actor=request.user)
        return self.detail_response(ticket)

    @extend_schema(
        summary="Change the priority",
        parameters=[REFERENCE],
        request=io.PriorityInputSerializer,
        responses={200: io.TicketDetailOutputSerializer, **STAFF_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def priority(self, request: Request, reference: str) -> Response:
        ticket = self.ticket()
        data = validated(io.PriorityInputSerializer, request)
        with refusals_concern("priority"):
            services.ticket_priority_change(
                ticket=ticket, priority=data["priority"], actor=request.user
            )
        return self.detail_response(ticket)

    @extend_schema(
        summary="Move to another queue (supervisors)",
        parameters=[REFERENCE],
        request=io.MoveInputSerializer,
        responses={200: io.TicketDetailOutputSerializer, **STAFF_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def move(self, request: Request, reference: str) -> Response:
        ticket = self.ticket()
        data = validated(io.MoveInputSerializer, request)
        queue = Queue.objects.filter(slug=data["queue"]).first()
        if queue is None:
            raise ValidationError({"queue": ["No queue has this slug."]})
        with refusals_concern("queue"):
            services.ticket_move_queue(ticket=ticket, queue=queue, actor=request.user)
        return self.detail_response(ticket)

    def fix_response(self, ticket: Ticket, *, code: int = status.HTTP_200_OK) -> Response:
        state = selectors.ticket_fix_state(ticket=ticket)
        draft = None
        if state.proposal is None and state.reply is not None:
            draft = fix_draft(state.reply.body)
        data = {"proposal": state.proposal, "draft": draft, "open_proposals": state.open_proposals}
        return Response(io.FixOutputSerializer(data).data, status=code)

    @extend_schema(
        methods=["GET"],
        summary="The ticket's fix as a step of its guide: proposed, or a draft to propose",
        parameters=[REFERENCE],
        responses={200: io.FixOutputSerializer, **STAFF_ERRORS},
    )
    @extend_schema(
        methods=["POST"],
        summary="Propose the fix of a solved ticket as a step of its guide",
        description="The fix becomes a proposed alternative step of the guide the customer "
        "followed, in the ticket's language; the guide's authors accept or dismiss it. A "
        "ticket carries one fix. 409 when the ticket is not solved or its fix was proposed; "
        "400 for a ticket without a guide or a `same_as` that is no open proposal of it.",
        parameters=[REFERENCE],
        request=io.FixInputSerializer,
        responses={201: io.FixOutputSerializer, **STAFF_ERRORS, **CONFLICT},
    )
    @action(detail=True, methods=["get", "post"])
    def fix(self, request: Request, reference: str) -> Response:
        ticket = self.ticket()
        if request.method == "GET":
            return self.fix_response(ticket)
        data = validated(io.FixInputSerializer, request)
        body = data.get("body")
        if body is None:
            reply = selectors.ticket_fix_reply(ticket=ticket)
            body = reply.body if reply is not None else ""
        services.ticket_fix_propose(
            ticket=ticket, actor=request.user, title=data["title"], body=body,
            same_as=data.get("same_as"),
        )  # fmt: skip
        return self.fix_response(ticket, code=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"],
        summary="The canned replies offered on this ticket, filled in for it",
        description="Those of the ticket's language, for its queue or for every queue, most "
        "used first. Placeholders ({customer_name}, {reference}, {status_link}, {agent_name}, "
        "{guide:ID}, {step:ID#POSITION}) are filled in; one that cannot be has `error` set.",
        parameters=[REFERENCE],
        responses={200: io.CannedReplyOutputSerializer(many=True), **STAFF_ERRORS},
    )
    @extend_schema(
        methods=["POST"],
        summary="Answer with a canned reply: the reply, its status change and note, in one step",
        description="The reply is e-mailed to the customer like any reply; the canned reply's "
        "status and internal note follow, and its use is counted. 400 for a canned reply not "
        "offered on this ticket or one that cannot be filled in; 409 when the ticket is closed "
        "or the status change is not allowed (nothing is sent then).",
        parameters=[REFERENCE],
        request=io.CannedReplyApplyInputSerializer,
        responses={201: io.TicketDetailOutputSerializer, **STAFF_ERRORS, **CONFLICT},
    )
    # A short list of the ticket's own: no pagination, none of the ticket list's filters.
    @action(
        detail=True, methods=["get", "post"], url_path="canned-replies",
        pagination_class=None, filter_backends=[],
    )  # fmt: skip
    def canned_replies(self, request: Request, reference: str) -> Response:
        ticket = self.ticket()
        offered = selectors.canned_replies_for(ticket=ticket)
        if request.method == "GET":
            rendered = services.canned_replies_render(
                canned_replies=offered, ticket=ticket, actor=request.user
            )
            return Response(io.CannedReplyOutputSerializer(rendered, many=True).data)
        data = validated(io.CannedReplyApplyInputSerializer, request)
        canned = offered.filter(pk=data["canned_reply"]).first()
        if canned is None:
            raise ValidationError({"canned_reply": ["No canned reply of this ticket has this id."]})
        with refusals_concern("body"):
            services.canned_reply_apply(
                canned_reply=canned, ticket=ticket, actor=request.user, body=data.get("body"),
                status_after=data.get("status_after"),
            )  # fmt: skip
        return self.detail_response(ticket, code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Merge this ticket, a duplicate, into another ticket of the same customer",
        description="The duplicate's messages, replies and notes are copied into the other "
        "ticket's thread and its tried steps joined; the duplicate is closed with `merged_into` "
        "set, and its customer is told by e-mail. Answers the ticket kept. 409 when either is "
        "closed or they belong to different customers or companies.",
        parameters=[REFERENCE],
        request=io.MergeInputSerializer,
        responses={200: io.TicketDetailOutputSerializer, **STAFF_ERRORS, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, reference: str) -> Response:
        ticket = self.ticket()
        data = validated(io.MergeInputSerializer, request)
        target = self.get_queryset().filter(reference=data["into"].strip().upper()).first()
        if target is None:
            raise ValidationError({"into": ["No ticket of yours has this reference."]})
        with refusals_concern("into"):
            services.ticket_merge(source=ticket, target=target, actor=request.user)
        return self.detail_response(target)

    @extend_schema(
        summary="Claim the most urgent unassigned ticket of your queues, in your languages",
        request=None,
        responses={
            200: OpenApiResponse(io.TicketDetailOutputSerializer, description="Now yours."),
            204: OpenApiResponse(description="Nothing to claim right now."),
            **STAFF_ERRORS,
            409: OpenApiResponse(ErrorSerializer, description="You are at your capacity."),
        },
    )
    @action(
        detail=False, methods=["post"], url_path="claim-next",
        required_permissions=["tickets.claim_ticket"],
    )  # fmt: skip
    def claim_next(self, request: Request) -> Response:
        agent = own_agent_profile(request, "You have no agent profile: only agents claim tickets.")
        ticket = services.ticket_claim_next(agent=agent)
        if ticket is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return self.detail_response(ticket)


class _StaffView(APIView):
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [CanWorkTickets]
    throttle_classes = [UserRateThrottle]
    required_permissions: tuple[str, ...] = ()


class AgentAvailabilityView(_StaffView):
    """The agent's own switch: available for new tickets, or away (a break, a shift's end)."""

    required_permissions = ("tickets.claim_ticket",)

    def agent(self, request: Request):
        return own_agent_profile(request, "You have no agent profile: only agents are available.")

    @extend_schema(
        summary="Whether new tickets can come to you",
        responses={200: io.AvailabilitySerializer, **STAFF_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response({"available": self.agent(request).is_available})

    @extend_schema(
        summary="Mark yourself available for new tickets, or away",
        request=io.AvailabilitySerializer,
        responses={200: io.AvailabilitySerializer, **STAFF_ERRORS},
    )
    def post(self, request: Request) -> Response:
        agent = self.agent(request)
        data = validated(io.AvailabilitySerializer, request)
        services.agent_availability_set(
            agent=agent, available=data["available"], actor=request.user
        )
        return Response({"available": agent.is_available})


class QueueOverviewView(_StaffView):
    """The supervisor's overview: each queue's open work, each agent's load."""

    required_permissions = ("tickets.view_all_queues",)

    @extend_schema(
        summary="Each queue's open work and each agent's load (supervisors)",
        responses={200: io.OverviewSerializer, **STAFF_ERRORS},
    )
    def get(self, request: Request) -> Response:
        data = {"queues": selectors.queue_loads(), "agents": selectors.agent_loads()}
        return Response(io.OverviewSerializer(data).data)


# --- the customer's side -----------------------------------------------------------------------

# Documented as the ticketSecret security scheme (helpdesk.api.schema), which names the same
# header.
SECRET_HEADER_NAME = "X-Ticket-Secret"  # noqa: S105 - a header name, not a secret


class CustomerTicketThrottle(ScopedRateThrottle):
    """Every request with a secret, reads included, counts per address (see
    API_CUSTOMER_TICKET_RATE): a bound on load, as wrong secrets have their own budget."""


class TicketGuessThrottle(BaseThrottle):
    """Refuses an address that opened too many wrong ticket links, here or on the status page:
    one guess budget per client (helpdesk.limits.ticket_link_guesses), counted on 404s."""

    def allow_request(self, request, view) -> bool:
        self.retry_after = limits.ticket_link_guesses().retry_after(client_address(request))
        return self.retry_after is None

    def wait(self) -> float | None:
        return self.retry_after


class _CustomerTicketView(CountedThrottlesMixin, APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [AnonRateThrottle, CustomerTicketThrottle, TicketGuessThrottle]
    throttle_scope = "customer_ticket"

    def ticket(self, request: Request, reference: str) -> Ticket:
        secret = request.headers.get(SECRET_HEADER_NAME, "").strip()
        if not secret:
            raise ValidationError({SECRET_HEADER_NAME: ["This header is required."]})
        ticket = selectors.ticket_by_secret(reference=reference, secret=secret)
        # An unknown reference and a wrong secret look the same: a bare 404.
        if ticket is None:
            limits.ticket_link_guesses().count(client_address(request))
            raise NotFound()
        return ticket

    def state(self, ticket: Ticket, *, code: int = status.HTTP_200_OK) -> Response:
        thread = selectors.ticket_thread(ticket=ticket, public_only=True)
        can_reply = ticket.accepts_customer_replies()
        context = {"thread": thread, "can_reply": can_reply, "request": self.request}
        return Response(io.CustomerTicketOutputSerializer(ticket, context=context).data, code)


CUSTOMER_ERRORS = {
    400: ERROR_RESPONSES[400],
    404: OpenApiResponse(ErrorSerializer, description="No such ticket, or a wrong secret."),
    429: ERROR_RESPONSES[429],
}


class CustomerTicketView(_CustomerTicketView):
    @extend_schema(
        summary="The customer's ticket: status, what they tried, the public thread",
        parameters=[REFERENCE],
        auth=TICKET_SECRET_AUTH,
        responses={200: io.CustomerTicketOutputSerializer, **CUSTOMER_ERRORS},
    )
    def get(self, request: Request, reference: str) -> Response:
        return self.state(self.ticket(request, reference))


class CustomerTicketReplyView(_CustomerTicketView):
    parser_classes = MESSAGE_PARSERS

    @extend_schema(
        summary="The customer writes on their ticket (reopens a pending or recently solved one)",
        parameters=[REFERENCE],
        auth=TICKET_SECRET_AUTH,
        request={
            "application/json": io.CustomerReplyInputSerializer,
            "multipart/form-data": io.CustomerReplyUploadInputSerializer,
        },
        responses={
            201: io.CustomerTicketOutputSerializer,
            **CUSTOMER_ERRORS,
            409: OpenApiResponse(
                ErrorSerializer, description="Closed: a new problem needs a new request."
            ),
        },
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket = self.ticket(request, reference)
        data, files = message_input(
            request, io.CustomerReplyInputSerializer, io.CustomerReplyUploadInputSerializer
        )
        with refusals_concern("body"), transaction.atomic():
            event = services.ticket_customer_reply(ticket=ticket, body=data["body"])
            services.attachments_add(event=event, files=files)
        ticket.refresh_from_db(fields=["status", "updated_at", "solved_at", "closed_at"])
        return self.state(ticket, code=status.HTTP_201_CREATED)


class CustomerTicketSolveView(_CustomerTicketView):
    @extend_schema(
        summary="The customer says it is solved: the ticket is solved, and may be rated",
        parameters=[REFERENCE],
        auth=TICKET_SECRET_AUTH,
        request=None,
        responses={
            200: io.CustomerTicketOutputSerializer,
            **CUSTOMER_ERRORS,
            409: OpenApiResponse(ErrorSerializer, description="Solved or closed already."),
        },
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket = self.ticket(request, reference)
        services.ticket_customer_solve(ticket=ticket)
        return self.state(_fresh(ticket))


class CustomerTicketStillNeedHelpView(_CustomerTicketView):
    @extend_schema(
        summary="The customer still needs help: a solved ticket opens again, with their message",
        parameters=[REFERENCE],
        auth=TICKET_SECRET_AUTH,
        request=io.CustomerStillNeedHelpInputSerializer,
        responses={
            200: io.CustomerTicketOutputSerializer,
            **CUSTOMER_ERRORS,
            409: OpenApiResponse(
                ErrorSerializer,
                description="Closed (a new problem needs a new request), or open already "
                "and no message given.",
            ),
        },
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket = self.ticket(request, reference)
        data = validated(io.CustomerStillNeedHelpInputSerializer, request)
        services.ticket_customer_still_needs_help(ticket=ticket, message=data["message"])
        return self.state(_fresh(ticket))


class CustomerTicketRatingView(_CustomerTicketView):
    @extend_schema(
        summary="The customer rates the help of a solved ticket (good or bad, and a comment); "
        "rating again changes it, for a while after the solve",
        parameters=[REFERENCE],
        auth=TICKET_SECRET_AUTH,
        request=io.CustomerRatingInputSerializer,
        responses={
            200: io.CustomerTicketOutputSerializer,
            **CUSTOMER_ERRORS,
            409: OpenApiResponse(
                ErrorSerializer,
                description="Not solved yet, or solved too long ago to be rated.",
            ),
        },
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket = self.ticket(request, reference)
        data = validated(io.CustomerRatingInputSerializer, request)
        services.ticket_rate(
            ticket=ticket, score=data["score"], comment=data["comment"], source=RatingSource.API
        )
        return self.state(_fresh(ticket))


def _fresh(ticket: Ticket) -> Ticket:
    """The ticket as the customer's action left it (status, times, rating)."""
    return Ticket.objects.select_related("rating").get(pk=ticket.pk)
