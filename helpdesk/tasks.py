"""Housekeeping tasks of the service itself."""

from celery import shared_task

from helpdesk import health, idempotency


@shared_task(name="helpdesk.tasks.heartbeat", ignore_result=True)
def heartbeat(sent_at: str | None = None) -> None:
    """Record that a worker consumed a message; beat sends it on a schedule, /healthz reads it."""
    health.worker_heartbeat_record(sent_at=sent_at)


@shared_task(name="helpdesk.tasks.purge_idempotency_records", ignore_result=True)
def purge_idempotency_records() -> int:
    """Delete the Idempotency-Key records past their time to live; beat sends it hourly."""
    return idempotency.idempotency_records_purge()
