"""The ticket services: every change to tickets, agents' capacity and escalations goes
through these functions, whichever door it came in by (web page, admin, API, Celery task).

One module per subdomain; this package re-exports their public names, so callers write
``from tickets import services`` and ``services.ticket_reply(...)``:

- escalation: a customer's request for a person becomes exactly one ticket; the sweeper.
- routing: which queue and priority a new ticket gets.
- assignment: automatic assignment, claim next, assignment by a person, availability and
  capacity.
- sla: due times, the at-risk and breach check, closing solved tickets.
- workflow: status changes, replies and notes, customer replies, priority, queue moves, the
  fix of a solved ticket proposed as a step of its guide.
- satisfaction: the customer's "it's solved", "I still need help" and rating (with the
  e-mail's signed rating links).
- inbound_email: replies by e-mail, whichever way they arrive, become customer messages or
  agent replies; inbound_mailbox: the IMAP mailbox beat polls for them.
- insights: the statistics rollup (the day tallies of guides, with their tickets).
- webhooks (a package; callers import it as ``services.webhooks``): signed webhooks out,
  their endpoints, the events recorded with each change, delivery and retries.
- attachments: files checked and stored with messages (or held by a request until its
  ticket exists), and their signed download links.
- canned_replies: canned replies filled in for a ticket (placeholders), and applied to it.
- merge: a duplicate ticket merged into another.
- exceptions: the refusals (TicketError and its subclasses).

Services never import tickets.tasks: work that must happen after commit (e-mails, the
escalation task, assigning waiting tickets) is announced through tickets.signals, and
tickets.tasks sends the task (see helpdesk.celery).
"""

from tickets.models import REOPEN_WINDOW
from tickets.services.assignment import (
    agent_availability_set,
    agent_claim_slot,
    ticket_assign,
    ticket_assign_to,
    ticket_claim_next,
    tickets_assign_waiting,
)
from tickets.services.attachments import (
    AttachmentLinkExpired,
    AttachmentLinkInvalid,
    AttachmentRefused,
    CheckedFile,
    accepted_kinds,
    attachment_link_read,
    attachment_link_token,
    attachments_add,
    attachments_check,
    attachments_hold,
    uploads_read,
)
from tickets.services.canned_replies import (
    CannedReplyError,
    RenderedCannedReply,
    canned_replies_render,
    canned_reply_apply,
    canned_reply_render,
    placeholders_check,
)
from tickets.services.escalation import (
    ESCALATION_BATCH_SIZE,
    MAX_ESCALATION_DELIVERIES,
    PUBLISH_TIMEOUT_SECONDS,
    TRANSIENT_DATABASE_ERRORS,
    escalation_delivery_record,
    escalation_request,
    escalation_request_by_id,
    escalations_sweep,
    escalations_ticket,
    ticket_create_from_attempt,
)
from tickets.services.exceptions import (
    AgentAtCapacity,
    AgentUnavailable,
    TicketClosedForReplies,
    TicketError,
    TicketNotPermitted,
    TicketNotSolved,
    TransitionNotAllowed,
)
from tickets.services.inbound_email import (
    inbound_attachments,
    inbound_email_receive,
    message_text,
    reply_text,
)
from tickets.services.inbound_mailbox import inbound_mailbox_poll
from tickets.services.insights import RollupResult, statistics_rollup
from tickets.services.merge import TicketMergeRefused, ticket_merge
from tickets.services.routing import RoutingDecision, fallback_queue, route
from tickets.services.satisfaction import (
    RatingLinkExpired,
    RatingNotOpen,
    rating_link_read,
    rating_link_token,
    rating_open,
    ticket_customer_solve,
    ticket_customer_still_needs_help,
    ticket_rate,
)
from tickets.services.sla import (
    sla_due_times,
    tickets_close_solved,
    tickets_sla_check,
)
from tickets.services.workflow import (
    FIX_STATUSES,
    ticket_customer_reply,
    ticket_fix_propose,
    ticket_move_queue,
    ticket_note,
    ticket_priority_change,
    ticket_reply,
    ticket_transition,
)

__all__ = [
    "ESCALATION_BATCH_SIZE",
    "FIX_STATUSES",
    "MAX_ESCALATION_DELIVERIES",
    "PUBLISH_TIMEOUT_SECONDS",
    "REOPEN_WINDOW",
    "TRANSIENT_DATABASE_ERRORS",
    "AgentAtCapacity",
    "AgentUnavailable",
    "AttachmentLinkExpired",
    "AttachmentLinkInvalid",
    "AttachmentRefused",
    "CannedReplyError",
    "CheckedFile",
    "RatingLinkExpired",
    "RatingNotOpen",
    "RenderedCannedReply",
    "RollupResult",
    "RoutingDecision",
    "TicketClosedForReplies",
    "TicketError",
    "TicketMergeRefused",
    "TicketNotPermitted",
    "TicketNotSolved",
    "TransitionNotAllowed",
    "accepted_kinds",
    "agent_availability_set",
    "agent_claim_slot",
    "attachment_link_read",
    "attachment_link_token",
    "attachments_add",
    "attachments_check",
    "attachments_hold",
    "canned_replies_render",
    "canned_reply_apply",
    "canned_reply_render",
    "escalation_delivery_record",
    "escalation_request",
    "escalation_request_by_id",
    "escalations_sweep",
    "escalations_ticket",
    "fallback_queue",
    "inbound_attachments",
    "inbound_email_receive",
    "inbound_mailbox_poll",
    "message_text",
    "placeholders_check",
    "rating_link_read",
    "rating_link_token",
    "rating_open",
    "reply_text",
    "route",
    "sla_due_times",
    "statistics_rollup",
    "ticket_assign",
    "ticket_assign_to",
    "ticket_claim_next",
    "ticket_create_from_attempt",
    "ticket_customer_reply",
    "ticket_customer_solve",
    "ticket_customer_still_needs_help",
    "ticket_fix_propose",
    "ticket_merge",
    "ticket_move_queue",
    "ticket_note",
    "ticket_priority_change",
    "ticket_rate",
    "ticket_reply",
    "ticket_transition",
    "tickets_assign_waiting",
    "tickets_close_solved",
    "tickets_sla_check",
    "uploads_read",
]
