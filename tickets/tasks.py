"""Celery tasks of the escalation path: thin wrappers that receive ids and call a service.

Each is safe to run twice (acks_late re-delivers a task whose worker died).
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db import InterfaceError, OperationalError

from tickets import notifications, services

# Lost connections, lock timeouts, deadlock victims: worth another try. Integrity or
# programming errors are not, and are not retried.
TRANSIENT = (OperationalError, InterfaceError)


@shared_task(
    name="tickets.tasks.escalate_attempt",
    ignore_result=True,
    autoretry_for=TRANSIENT,
    retry_backoff=2,
    retry_backoff_max=60,  # well under the broker's visibility timeout
    retry_jitter=True,
    max_retries=8,
)
def escalate_attempt(attempt_id: int) -> str | None:
    if not services.escalation_delivery_record(attempt_id=attempt_id):
        return None
    ticket = services.ticket_create_from_attempt(attempt_id=attempt_id)
    return ticket.reference if ticket else None


@shared_task(name="tickets.tasks.sweep_escalations", ignore_result=True)
def sweep_escalations(older_than_seconds: float = 60.0) -> int:
    return services.escalations_sweep(older_than=timedelta(seconds=older_than_seconds))


@shared_task(name="tickets.tasks.check_sla", ignore_result=True)
def check_sla() -> dict[str, int]:
    return services.tickets_sla_check()


@shared_task(name="tickets.tasks.assign_waiting_tickets", ignore_result=True)
def assign_waiting_tickets() -> int:
    return services.tickets_assign_waiting()


@shared_task(
    name="tickets.tasks.notify_customer_ticket_created",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=5,
    max_retries=5,
)
def notify_customer_ticket_created(ticket_id: int) -> bool:
    return notifications.customer_ticket_created_send(ticket_id=ticket_id)


@shared_task(
    name="tickets.tasks.notify_agent_assigned",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=5,
    max_retries=5,
)
def notify_agent_assigned(ticket_id: int) -> bool:
    return notifications.agent_assigned_send(ticket_id=ticket_id)


@shared_task(
    name="tickets.tasks.notify_supervisors_breach",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=5,
    max_retries=5,
)
def notify_supervisors_breach(ticket_id: int) -> bool:
    return notifications.supervisors_breach_send(ticket_id=ticket_id)


@shared_task(
    name="tickets.tasks.notify_customer_reply",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=5,
    max_retries=5,
)
def notify_customer_reply(event_id: int) -> bool:
    return notifications.customer_reply_send(event_id=event_id)


@shared_task(name="tickets.tasks.close_solved_tickets", ignore_result=True)
def close_solved_tickets() -> int:
    return services.tickets_close_solved()
