"""Tickets: what a failed self-help attempt becomes, and the queues, agents, routing rules and
SLA policies that decide who answers it and by when. One module per part; every name is
importable from ``tickets.models`` as before."""

from tickets.models.api_token import ApiToken, api_token_key_hash
from tickets.models.attachment import Attachment
from tickets.models.canned_reply import CANNED_REPLY_STATUSES, CannedReply
from tickets.models.inbound import InboundEmail
from tickets.models.rating import RATING_WINDOW, RatingScore, RatingSource, TicketRating
from tickets.models.routing import (
    AgentProfile,
    Priority,
    Queue,
    RoutingRule,
    RoutingVersion,
    SLAPolicy,
)
from tickets.models.schedule import BusinessSchedule, Holiday, Weekday, WorkingHours
from tickets.models.ticket import (
    CUSTOMER_MESSAGE_MAX_LENGTH,
    OPEN_TICKET_STATUSES,
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    REOPEN_WINDOW,
    SLA_AT_RISK_SHARE,
    STAFF_MESSAGE_MAX_LENGTH,
    TICKET_TRANSITIONS,
    Ticket,
    TicketEvent,
    TicketStatus,
    sla_target_at_risk,
    status_token_of,
    ticket_reference_new,
)
from tickets.models.webhook import (
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEventType,
)

__all__ = [
    "CANNED_REPLY_STATUSES",
    "CUSTOMER_MESSAGE_MAX_LENGTH",
    "OPEN_TICKET_STATUSES",
    "RATING_WINDOW",
    "REFERENCE_ALPHABET",
    "REFERENCE_LENGTH",
    "REOPEN_WINDOW",
    "SLA_AT_RISK_SHARE",
    "STAFF_MESSAGE_MAX_LENGTH",
    "TICKET_TRANSITIONS",
    "AgentProfile",
    "ApiToken",
    "Attachment",
    "BusinessSchedule",
    "CannedReply",
    "Holiday",
    "InboundEmail",
    "Priority",
    "Queue",
    "RatingScore",
    "RatingSource",
    "RoutingRule",
    "RoutingVersion",
    "SLAPolicy",
    "Ticket",
    "TicketEvent",
    "TicketRating",
    "TicketStatus",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
    "WebhookEventType",
    "Weekday",
    "WorkingHours",
    "api_token_key_hash",
    "sla_target_at_risk",
    "status_token_of",
    "ticket_reference_new",
]
