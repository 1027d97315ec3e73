"""Celery tasks of the escalation path: thin wrappers that receive ids and call a service.

Each is safe to run twice (acks_late re-delivers a task whose worker died).

This module also sends them. The services never import it (it imports them): they announce
what happened through tickets.signals inside their transaction, and the receivers at the end of
this module hand the matching task to helpdesk.celery.send_after_commit, with the options that
sender needs. TicketsConfig.ready() imports this module, so the receivers are connected in
every process (web, worker, beat, management commands).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial
from typing import Any

from celery import shared_task
from django.core.cache import cache
from django.db import transaction
from django.dispatch import receiver

from helpdesk.celery import send_after_commit, task_send
from tickets import notifications, services, signals
from tickets.services import webhooks

logger = logging.getLogger(__name__)

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
    # Lost connections, lock timeouts, deadlock victims; not integrity or programming errors.
    autoretry_for=services.TRANSIENT_DATABASE_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,  # well under the broker's visibility timeout
    retry_jitter=True,
    max_retries=8,
)
def escalate_attempt(attempt_id: int) -> int:
    """Make the tickets of every escalation awaiting one, this attempt's among them (it names
    the escalation that woke the workers; any other may have made its ticket already).

    The wake-up key stays while the run goes on, so that a burst has one run rather than one
    per escalation; it is deleted at the end, and then the run looks once more: an escalation
    committed before the delete found the key and sent nothing, so this run must find it."""
    made = services.escalations_ticket()
    _escalations_wake_up_taken()
    # A short last look: whatever is committed after the delete has sent a wake-up of its own.
    return made + services.escalations_ticket(seconds=ESCALATION_LAST_LOOK_SECONDS)


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


@shared_task(name="tickets.tasks.notify_tickets_created", **EMAIL_TASK)
def notify_tickets_created(created: list[tuple[int, bool]]) -> int:
    return notifications.tickets_created_send(created=created)


@shared_task(name="tickets.tasks.notify_agent_assigned", **EMAIL_TASK)
def notify_agent_assigned(ticket_id: int) -> bool:
    return notifications.agent_assigned_send(ticket_id=ticket_id)


@shared_task(name="tickets.tasks.notify_supervisors_breach", **EMAIL_TASK)
def notify_supervisors_breach(ticket_id: int) -> bool:
    return notifications.supervisors_breach_send(ticket_id=ticket_id)


@shared_task(name="tickets.tasks.notify_customer_reply", **EMAIL_TASK)
def notify_customer_reply(event_id: int) -> bool:
    return notifications.customer_reply_send(event_id=event_id)


@shared_task(name="tickets.tasks.notify_customer_solved", **EMAIL_TASK)
def notify_customer_solved(ticket_id: int) -> bool:
    return notifications.customer_solved_send(ticket_id=ticket_id)


@shared_task(name="tickets.tasks.notify_customer_merged", **EMAIL_TASK)
def notify_customer_merged(ticket_id: int) -> bool:
    return notifications.customer_merged_send(ticket_id=ticket_id)


@shared_task(name="tickets.tasks.close_solved_tickets", ignore_result=True)
def close_solved_tickets() -> int:
    return services.tickets_close_solved()


# The first run recomputes every day (minutes at a million attempts); later runs, the days
# changed since the last. A run killed by the time limit commits nothing, and the next does it.
@shared_task(
    name="tickets.tasks.rollup_statistics", ignore_result=True, soft_time_limit=900,
    time_limit=960,
)  # fmt: skip
def rollup_statistics() -> int | None:
    """Bring the statistics' day tallies up to date; beat sends it. A run that finds another
    one running returns at once (None): that one does the work."""
    result = services.statistics_rollup(wait=False)
    return None if result is None else result.days


# A webhook delivery: one try per run (the service records it and schedules the next); the
# task itself never retries, so a try is never made twice by Celery and by the schedule.
@shared_task(name="tickets.tasks.deliver_webhook", ignore_result=True)
def deliver_webhook(delivery_id: int) -> str | None:
    return webhooks.webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task(name="tickets.tasks.retry_webhook_deliveries", ignore_result=True)
def retry_webhook_deliveries() -> int:
    """Beat's sweep: send every delivery whose next try is due (a lost send is found again)."""
    due = webhooks.webhook_deliveries_due()
    for delivery_id in due:
        task_send(deliver_webhook, delivery_id, failure_message="Webhook delivery %s not sent")
    return len(due)


@shared_task(name="tickets.tasks.notify_supervisors_webhook_disabled", **EMAIL_TASK)
def notify_supervisors_webhook_disabled(endpoint_id: int) -> int:
    return notifications.supervisors_webhook_disabled_send(endpoint_id=endpoint_id)


@shared_task(name="tickets.tasks.poll_inbound_mailbox", ignore_result=True)
def poll_inbound_mailbox() -> int | None:
    """Replies by e-mail from the IMAP mailbox; beat sends it when INBOUND_IMAP_URL is set.
    A mailbox that is down is logged and read at the next beat, not retried here."""
    return services.inbound_mailbox_poll()


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


# One wake-up of the escalation workers at a time: while this cache key exists, a run of
# escalate_attempt is queued or going on, and it will find every escalation committed before
# it ends (it deletes the key, then looks once more). The key expires by itself after
# ESCALATION_WAKE_UP_SECONDS, longer than a run (ESCALATION_RUN_SECONDS), in case that task
# was lost (a broker restart): the next escalation then sends one, and the sweeper is there
# for the last.
ESCALATION_WAKE_UP_KEY = "tickets:escalations:wake-up"
ESCALATION_WAKE_UP_SECONDS = 30
ESCALATION_LAST_LOOK_SECONDS = 1.0


def _escalations_wake_up(attempt_id: int) -> None:
    """After an escalation's commit: queue a run of the escalation workers unless one is
    queued already. Through a broken cache, always (one run too many is harmless)."""
    if _escalations_wake_up_first(attempt_id) and not task_send(
        escalate_attempt, attempt_id, **ESCALATION_SEND
    ):
        _escalations_wake_up_taken()  # not queued: the next escalation tries again


def _escalations_wake_up_first(attempt_id: int) -> bool:
    try:
        if cache.add(ESCALATION_WAKE_UP_KEY, attempt_id, timeout=ESCALATION_WAKE_UP_SECONDS):
            return True
    except Exception:
        logger.warning("Cache unavailable: the escalation workers are woken for each escalation")
        return True
    # The project's Redis cache fails open (helpdesk.cache): while it is down, add() answers
    # False as if the key existed. Then no run may be coming: wake the workers anyway.
    return not getattr(cache, "is_available", lambda: True)()


def _escalations_wake_up_taken() -> None:
    try:
        cache.delete(ESCALATION_WAKE_UP_KEY)
    except Exception:
        # It expires by itself; meanwhile escalations wait for a run already queued, the next
        # escalation after it expires, or the sweeper.
        logger.warning("Cache unavailable: the escalation wake-up key was not deleted")


@receiver(signals.escalation_requested, dispatch_uid="tickets.tasks.escalation")
def _escalation_send(sender: Any, *, attempt_id: int, **kwargs: Any) -> None:
    transaction.on_commit(partial(_escalations_wake_up, attempt_id))


@receiver(signals.tickets_created, dispatch_uid="tickets.tasks.tickets_created")
def _tickets_created_send(sender: Any, *, created: list[tuple[int, bool]], **kwargs: Any) -> None:
    send_after_commit(notify_tickets_created, created, retry_policy=NOTIFICATION_RETRY)


@receiver(signals.ticket_assigned, dispatch_uid="tickets.tasks.ticket_assigned")
def _agent_assigned_send(sender: Any, *, ticket_id: int, **kwargs: Any) -> None:
    send_after_commit(notify_agent_assigned, ticket_id, retry_policy=NOTIFICATION_RETRY)


@receiver(signals.sla_breached, dispatch_uid="tickets.tasks.sla_breached")
def _supervisors_breach_send(sender: Any, *, ticket_id: int, **kwargs: Any) -> None:
    send_after_commit(notify_supervisors_breach, ticket_id, retry_policy=NOTIFICATION_RETRY)


@receiver(signals.agent_replied, dispatch_uid="tickets.tasks.agent_replied")
def _customer_reply_send(sender: Any, *, event_id: int, **kwargs: Any) -> None:
    send_after_commit(notify_customer_reply, event_id, retry_policy=NOTIFICATION_RETRY)


@receiver(signals.ticket_solved, dispatch_uid="tickets.tasks.ticket_solved")
def _customer_solved_send(sender: Any, *, ticket_id: int, **kwargs: Any) -> None:
    send_after_commit(notify_customer_solved, ticket_id, retry_policy=NOTIFICATION_RETRY)


@receiver(signals.ticket_merged, dispatch_uid="tickets.tasks.ticket_merged")
def _customer_merged_send(sender: Any, *, ticket_id: int, **kwargs: Any) -> None:
    send_after_commit(notify_customer_merged, ticket_id, retry_policy=NOTIFICATION_RETRY)


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


@receiver(signals.webhook_deliveries_recorded, dispatch_uid="tickets.tasks.webhook_deliveries")
def _webhook_deliveries_send(sender: Any, *, delivery_ids: list[int], **kwargs: Any) -> None:
    for delivery_id in delivery_ids:
        send_after_commit(
            deliver_webhook, delivery_id, retry_policy=NOTIFICATION_RETRY,
            failure_message="Webhook delivery %s not sent; beat's sweep will",
        )  # fmt: skip


def _webhook_retry(delivery_id: int, countdown: float) -> None:
    try:
        deliver_webhook.apply_async(args=[delivery_id], countdown=countdown, retry=False)
    except Exception:
        logger.exception("Retry of webhook delivery %s not sent; beat's sweep will", delivery_id)


@receiver(signals.webhook_retry_due, dispatch_uid="tickets.tasks.webhook_retry")
def _webhook_retry_send(sender: Any, *, delivery_id: int, countdown: float, **kwargs: Any) -> None:
    transaction.on_commit(partial(_webhook_retry, delivery_id, countdown))


@receiver(signals.webhook_endpoint_disabled, dispatch_uid="tickets.tasks.webhook_disabled")
def _webhook_disabled_send(sender: Any, *, endpoint_id: int, **kwargs: Any) -> None:
    send_after_commit(
        notify_supervisors_webhook_disabled, endpoint_id, retry_policy=NOTIFICATION_RETRY
    )
