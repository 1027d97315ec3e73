"""The ticket services' refusals. Each carries a message for the person who asked, in their
language; the admin, the web pages and the API show it as is, and the API's one exception
handler (helpdesk.api.errors) answers it with its status and code."""

from __future__ import annotations

from helpdesk.errors import ServiceError


class TicketError(ServiceError):
    """A ticket action refused, with a message for the person who asked, in their language
    (the services run in the request's language; the admin and the API show it as is).

    A plain TicketError is about the input (a blank body, an agent outside the queue); the
    subclasses are about the actor or the ticket's state and name no input."""

    code = "ticket_error"


class TicketNotPermitted(TicketError):
    code = "not_permitted"
    status = 403
    field = None


class TicketStateRefusal(TicketError):
    """Refused because of the ticket's or the agent's state, not the input: a 409 that names
    no field."""

    status = 409
    field = None


class TransitionNotAllowed(TicketStateRefusal):
    code = "transition_not_allowed"


class AgentAtCapacity(TicketStateRefusal):
    code = "agent_at_capacity"


class AgentUnavailable(TicketStateRefusal):
    code = "agent_unavailable"


class TicketClosedForReplies(TicketStateRefusal):
    code = "ticket_closed"


class TicketNotSolved(TicketStateRefusal):
    code = "ticket_not_solved"


class WebhookError(TicketError):
    """A webhook endpoint's input refused (its URL, events, name), or its manager."""

    code = "webhook_error"


class WebhookEndpointDisabled(WebhookError):
    code = "endpoint_disabled"
    status = 409
    field = None
