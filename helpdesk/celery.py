"""The Celery application, configured from Django's settings (``CELERY_*``), and the one way
code hands a task to the broker: ``send_after_commit``.

How a task gets sent
--------------------
A service never sends a task itself, and never imports a tasks module. It announces what
happened with a plain Django signal inside its transaction (``tickets.signals``); the tasks
module, which imports the services and not the other way round, connects a receiver that calls
``send_after_commit(the_task, id, ...)``. The message is published when the transaction
commits: a rolled-back change sends nothing, and a worker never looks for a row that is not
there yet. The options carry what differs between senders: how long a request may wait on the
broker, how hard kombu retries, and what is logged when the broker refuses. A broker failure is
logged, never raised into a request that has already committed; whoever must catch up (the
escalation sweeper, beat) does so later.

``task_send`` is the same send, done at once, for the two callers that are already past their
commit and need to know whether the broker took the message (the sweeper's re-send stops at the
first refusal; a test times the bounded publish).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import partial
from typing import Any

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections, transaction

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


@task_prerun.connect(dispatch_uid="helpdesk.celery.connections_before")
@task_postrun.connect(dispatch_uid="helpdesk.celery.connections_after")
def _close_old_connections(sender: Task | None = None, **kwargs: Any) -> None:
    """Around each task, what Django does around each request: close a database connection
    past CONN_MAX_AGE, broken, or left inside a transaction, and keep the others. Celery's own
    fix-up would close them all (see CELERY_DB_REUSE_MAX in settings): a new PostgreSQL
    connection per task cost the worker ~1 ms of CPU and ~10 ms of waiting, and the server a
    new backend process. Not for a task run eagerly, inside its caller's transaction."""
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    close_old_connections()


# Publishes with a time bound run here, so the caller can stop waiting on a broker that
# accepts connections but never answers (kombu itself may wait far longer).
_publisher = ThreadPoolExecutor(max_workers=4, thread_name_prefix="task-publish")


def task_send(
    task: Task,
    *args: Any,
    timeout: float | None = None,
    retry_policy: dict[str, Any] | None = None,
    failure_message: str | None = None,
) -> bool:
    """Publish ``task`` with ``args`` now; True when the broker took it. Never raises.

    ``timeout``: seconds the caller may wait; the publish runs in a helper thread and past the
    bound the caller goes on (a publish not started yet is dropped). None: no bound.
    ``retry_policy``: kombu's publish retry policy; None publishes once, without retrying.
    ``failure_message``: logged when the broker refuses or does not answer, %-formatted with
    ``args``; by default it names the task and its arguments.
    """
    message = failure_message or f"Task {task.name} with %s not sent"
    log_args: tuple[Any, ...] = args if failure_message else (list(args),)
    options: dict[str, Any] = {"args": list(args), "retry": retry_policy is not None}
    if retry_policy is not None:
        options["retry_policy"] = retry_policy
    publish: Callable[[], Any] = partial(task.apply_async, **options)
    try:
        if timeout is None:
            publish()
            return True
        future = _publisher.submit(publish)
        try:
            future.result(timeout=timeout)
        except FutureTimeout:
            future.cancel()  # not started yet: drop it rather than publish after the answer
            logger.warning(message + " (no answer within %s s)", *log_args, timeout)
            return False
    except Exception:
        logger.exception(message, *log_args)
        return False
    return True


def send_after_commit(task: Task, *args: Any, using: str | None = None, **options: Any) -> None:
    """Publish ``task`` with ``args`` once the current transaction commits (at once when none
    is open), with ``task_send``'s options; a broker failure is logged, never raised."""
    transaction.on_commit(partial(task_send, task, *args, **options), using=using)
