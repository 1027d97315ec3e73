"""Celery tasks of the escalation path: thin wrappers that receive ids and call a service.

Each is safe to run twice (acks_late re-delivers a task whose worker died).

This module also sends them. The services never import it (it imports them): they announce
what happened through tickets.signals inside their transaction, and the receivers at the end of
this module hand the matching task to helpdesk.celery.send_after_commit, with the options that
sender needs. TicketsConfig.ready() imports this module, so the receivers are connected in
every process (web, worker, beat, management commands).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver

from helpdesk.celery import send_after_commit, task_send
from tickets import notifications, services, signals

# Lost connections, lock timeouts, deadlock victims: worth another try. Integrity or
# programming errors are not, and are not retried.
TRANSIENT = (OperationalError, InterfaceError)


# An e-mail task: a mail server that refuses or times out (OSError) is tried again, five
# times, backing off from 5 s.
EMAIL_TASK: dict[str, Any] = {
    "ignore_result": True,
    "autoretry_for": (OSError,),
    "retry_backoff": 5,
    "max_retries": 5,
}


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


@shared_task(name="tickets.tasks.notify_customer_ticket_created", **EMAIL_TASK)
def notify_customer_ticket_created(ticket_id: int) -> bool:
    return notifications.customer_ticket_created_send(ticket_id=ticket_id)


@shared_task(name="tickets.tasks.notify_ticket_created", **EMAIL_TASK)
def notify_ticket_created(ticket_id: int, assigned: bool) -> int:
    return notifications.ticket_created_send(ticket_id=ticket_id, assigned=assigned)


@shared_task(name="tickets.tasks.notify_agent_assigned", **EMAIL_TASK)
def notify_agent_assigned(ticket_id: int) -> bool:
    return notifications.agent_assigned_send(ticket_id=ticket_id)


@shared_task(name="tickets.tasks.notify_supervisors_breach", **EMAIL_TASK)
def notify_supervisors_breach(ticket_id: int) -> bool:
    return notifications.supervisors_breach_send(ticket_id=ticket_id)


@shared_task(name="tickets.tasks.notify_customer_reply", **EMAIL_TASK)
def notify_customer_reply(event_id: int) -> bool:
    return notifications.customer_reply_send(event_id=event_id)


@shared_task(name="tickets.tasks.close_solved_tickets", ignore_result=True)
def close_solved_tickets() -> int:
    return services.tickets_close_solved()


# --- sending them: the receivers of tickets.signals --------------------------------------------

# The escalation: a web request waits at most PUBLISH_TIMEOUT_SECONDS for the broker and
# retries once, quickly; past that it answers anyway and the sweeper sends the task later.
ESCALATION_SEND: dict[str, Any] = {
    "timeout": services.PUBLISH_TIMEOUT_SECONDS,
    "retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.2},
    "failure_message": "Escalation of attempt %s not sent; the sweeper will",
}
# A notification: one publish retry; a lost one is only logged (the sweeper re-sends the
# customer's confirmation, the other e-mails are not re-sent).
NOTIFICATION_RETRY = {"max_retries": 1}


@receiver(signals.escalation_requested, dispatch_uid="tickets.tasks.escalation")
def _escalation_send(sender: Any, *, attempt_id: int, **kwargs: Any) -> None:
    send_after_commit(escalate_attempt, attempt_id, **ESCALATION_SEND)


@receiver(signals.ticket_created, dispatch_uid="tickets.tasks.ticket_created")
def _ticket_created_send(sender: Any, *, ticket_id: int, assigned: bool, **kwargs: Any) -> None:
    send_after_commit(notify_ticket_created, ticket_id, assigned, retry_policy=NOTIFICATION_RETRY)


@receiver(signals.ticket_assigned, dispatch_uid="tickets.tasks.ticket_assigned")
def _agent_assigned_send(sender: Any, *, ticket_id: int, **kwargs: Any) -> None:
    send_after_commit(notify_agent_assigned, ticket_id, retry_policy=NOTIFICATION_RETRY)


@receiver(signals.sla_breached, dispatch_uid="tickets.tasks.sla_breached")
def _supervisors_breach_send(sender: Any, *, ticket_id: int, **kwargs: Any) -> None:
    send_after_commit(notify_supervisors_breach, ticket_id, retry_policy=NOTIFICATION_RETRY)


@receiver(signals.agent_replied, dispatch_uid="tickets.tasks.agent_replied")
def _customer_reply_send(sender: Any, *, event_id: int, **kwargs: Any) -> None:
    send_after_commit(notify_customer_reply, event_id, retry_policy=NOTIFICATION_RETRY)


@receiver(signals.capacity_freed, dispatch_uid="tickets.tasks.capacity_freed")
def _assign_waiting_send(sender: Any, **kwargs: Any) -> None:
    send_after_commit(
        assign_waiting_tickets,
        retry_policy={"max_retries": 1},
        failure_message="Could not ask for waiting tickets to be assigned; beat will",
    )


@receiver(signals.customer_notification_unsent, dispatch_uid="tickets.tasks.notification_unsent")
def _customer_ticket_created_resend(sender: Any, *, ticket_id: int, **kwargs: Any) -> bool:
    # The sweeper runs outside any transaction and the ticket committed long ago: send now,
    # without publish retries, and tell the sweeper whether the broker took it.
    return task_send(
        notify_customer_ticket_created,
        ticket_id,
        failure_message="Could not queue the e-mail of ticket %s; next sweep",
    )
