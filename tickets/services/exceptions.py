"""The ticket services' refusals. Each carries a message for the person who asked, in their
language; the admin, the web pages and the API show it as is."""

from __future__ import annotations


class TicketError(Exception):
    """A ticket action refused, with a message for the person who asked, in their language
    (the services run in the request's language; the admin and the API show it as is)."""

    code = "ticket_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TicketNotPermitted(TicketError):
    code = "not_permitted"


class TransitionNotAllowed(TicketError):
    code = "transition_not_allowed"


class AgentAtCapacity(TicketError):
    code = "agent_at_capacity"


class AgentUnavailable(TicketError):
    code = "agent_unavailable"


class TicketClosedForReplies(TicketError):
    code = "ticket_closed"
