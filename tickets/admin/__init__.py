"""The staff's tools: the agents' ticket workspace (work list, claim next, the work page, bulk
actions), and the supervisor's queues, agents, routing rules, SLA policies, API tokens and
received e-mails.

One module per concern; importing them here registers every ModelAdmin with the admin site,
and the names below keep ``from tickets.admin import ...`` working."""

from tickets.admin.agent_context import CannedReplyAdmin
from tickets.admin.changelist import EstimatedCountPaginator, TicketAdmin, TicketChangeList
from tickets.admin.inbound import InboundEmailAdmin
from tickets.admin.registrations import AgentProfileAdmin, QueueAdmin, RoutingRuleAdmin
from tickets.admin.schedules import BusinessScheduleAdmin
from tickets.admin.tokens import ApiTokenAdmin
from tickets.admin.webhooks import WebhookDeliveryAdmin, WebhookEndpointAdmin

__all__ = [
    "AgentProfileAdmin",
    "ApiTokenAdmin",
    "BusinessScheduleAdmin",
    "CannedReplyAdmin",
    "EstimatedCountPaginator",
    "InboundEmailAdmin",
    "QueueAdmin",
    "RoutingRuleAdmin",
    "TicketAdmin",
    "TicketChangeList",
    "WebhookDeliveryAdmin",
    "WebhookEndpointAdmin",
]
