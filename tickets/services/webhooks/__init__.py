"""Webhooks out: supervisors register endpoints; what happens to tickets is posted to them,
signed, at least once.

Recording: an event is recorded in the transaction of the change it tells about, as one
WebhookDelivery per subscribed active endpoint (a rolled-back change posts nothing), and the
deliveries are announced (signals.webhook_deliveries_recorded) so tickets.tasks sends each one
after commit. Ticket events come from the one event writer (services._common._event); the
escalation and the new ticket from the worker's batch (services.escalation). Both read "is any
endpoint active?" in the statement that locks their rows (webhooks_active), so a desk without
endpoints pays no statement for webhooks, the customer's escalate request none at all.

Sending: webhook_delivery_attempt claims a due delivery with one conditional UPDATE (a lease
past the try's end), posts it with the timeout, and records the outcome: delivered, or the
next try after WEBHOOK_RETRY_SCHEDULE (jittered), or failed when the schedule is spent. Tries
due soon are sent with a countdown; later ones, and any a lost task or dead worker left, by
beat's sweep (webhook_deliveries_due). After WEBHOOK_DISABLE_AFTER failed tries in a row the
endpoint is switched off and the supervisors told.

Targets (SSRF): only http and https, and no private, loopback, link-local or reserved address
unless WEBHOOK_ALLOW_PRIVATE_TARGETS; checked when the URL is given and again at each try, on
the addresses the try then connects to (a name that resolved to a public address at
registration may resolve to an internal one later).
"""

from tickets.services.exceptions import WebhookEndpointDisabled, WebhookError
from tickets.services.webhooks.delivery import (
    retry_delay,
    webhook_deliveries_due,
    webhook_delivery_attempt,
    webhook_signature,
)
from tickets.services.webhooks.endpoints import (
    webhook_endpoint_delete,
    webhook_endpoint_register,
    webhook_endpoint_update,
    webhook_redeliver,
    webhook_secret_rotate,
)
from tickets.services.webhooks.recording import (
    TICKET_EVENT_TYPES,
    ticket_event_publish,
    tickets_created_publish,
    webhooks_active,
)
from tickets.services.webhooks.targets import DNS_CHECK_TIMEOUT, webhook_url_check

__all__ = [
    "DNS_CHECK_TIMEOUT",
    "TICKET_EVENT_TYPES",
    "WebhookEndpointDisabled",
    "WebhookError",
    "retry_delay",
    "ticket_event_publish",
    "tickets_created_publish",
    "webhook_deliveries_due",
    "webhook_delivery_attempt",
    "webhook_endpoint_delete",
    "webhook_endpoint_register",
    "webhook_endpoint_update",
    "webhook_redeliver",
    "webhook_secret_rotate",
    "webhook_signature",
    "webhook_url_check",
    "webhooks_active",
]
