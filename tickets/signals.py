"""What the ticket services announce, for follow-up work that runs elsewhere.

The services change rows; e-mails, the escalation worker and automatic assignment run as
Celery tasks. tickets.tasks imports the services, so the services cannot import the tasks back.
Instead a service sends one of these signals inside its transaction, naming what happened, and
tickets.tasks connects the receivers that queue the matching task after commit
(helpdesk.celery.send_after_commit). TicketsConfig.ready() imports tickets.tasks, so the
receivers are connected in every process: web, worker, beat and management commands.

This module imports neither the services nor the tasks. Every signal carries ids, never rows:
the task reads the committed row itself.
"""

from django.dispatch import Signal

# A customer asked for a person: the escalated attempt is stored. Argument: attempt_id.
escalation_requested = Signal()

# Tickets were created from attempts (one or a batch, in one transaction): each customer is
# to be told their reference, and each assignee, when the ticket was assigned as it was
# created, that it is theirs (one task for them all). Argument: created, a list of
# (ticket_id, assigned) pairs.
tickets_created = Signal()

# An existing ticket was given to an agent who did not take it themselves (beat's automatic
# assignment of a waiting ticket, a supervisor): they are to be told. Argument: ticket_id.
ticket_assigned = Signal()

# A ticket's SLA target ran out: the supervisors are to be alerted. Argument: ticket_id.
sla_breached = Signal()

# An agent replied in public: the reply is to be e-mailed to the customer. Argument: event_id.
agent_replied = Signal()

# A ticket was solved by the staff without a public reply that says so: the customer is to be
# told, with the links that rate the help. Argument: ticket_id.
ticket_solved = Signal()

# A duplicate ticket was merged into another: its customer is to be told where their request
# continues. Argument: ticket_id (the duplicate's).
ticket_merged = Signal()

# An agent has room for another ticket (they solved one, or came back from away): waiting
# tickets may be assigned now rather than at beat's next run. No argument.
capacity_freed = Signal()

# The sweeper found a ticket whose customer e-mail never went out (the worker died between
# the ticket's commit and the send). Argument: ticket_id. Sent outside any transaction;
# each receiver returns whether the broker took the message, and the sweeper stops at the
# first refusal.
customer_notification_unsent = Signal()

# Webhook deliveries were recorded (tickets.services.webhooks: an event, or a redelivery):
# each is to be sent after commit. Argument: delivery_ids.
webhook_deliveries_recorded = Signal()

# A webhook delivery failed and its next try is due sooner than beat's sweep would find it:
# it is to be sent with a countdown. Arguments: delivery_id, countdown (seconds).
webhook_retry_due = Signal()

# A webhook endpoint was switched off after failing too often: the supervisors are to be told.
# Argument: endpoint_id.
webhook_endpoint_disabled = Signal()
