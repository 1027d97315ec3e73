"""Housekeeping tasks of the service itself."""

from celery import shared_task

from helpdesk import health


@shared_task(name="helpdesk.tasks.heartbeat", ignore_result=True)
def heartbeat(sent_at: str | None = None) -> None:
    """Record that a worker consumed a message; beat sends it on a schedule, /healthz reads it."""
    health.worker_heartbeat_record(sent_at=sent_at)
