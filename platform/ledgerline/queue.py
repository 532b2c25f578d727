"""Queueing a task by its name. Services record an object and queue the task that finishes it
once their transaction commits; they name the task rather than import it, so the layers below
the task modules never depend on them (docs/ARCHITECTURE.md)."""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from celery import Task, current_app
from kombu.exceptions import OperationalError

from ledgerline.errors import Busy, Unavailable

logger = logging.getLogger(__name__)
T = TypeVar("T")

# How the pipeline's tasks run: acknowledged only when done (a killed worker's task is delivered
# again), retried with exponential backoff while the chain node or the IPFS node does not answer.
RETRYING = {
    "acks_late": True,
    "autoretry_for": (Unavailable,),
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "max_retries": 30,
}


def busy_retry(task: Task, call: Callable[[], T]) -> T | None:
    """``call()``; or, while another worker holds its lease, None, with the task queued again for
    when that lease would have lapsed: a fresh message, so that waiting behind a live holder,
    however long, uses none of the retries kept for nodes that do not answer (a live holder
    finishes, and the next try finds nothing left to do; a dead one's lease lapses, and the next
    try takes over). Run eagerly, in this process, Busy is raised."""
    try:
        return call()
    except Busy as exc:
        if task.request.is_eager:
            raise
        logger.info("%s: %s", task.name, exc.message)
        task.apply_async(args=task.request.args, kwargs=task.request.kwargs, countdown=exc.retry_after)
        return None


def busy_wait(call: Callable[[], T], *, wait: float = 600, waiting: Callable[[Busy], None] | None = None) -> T:
    """``call()`` in this process (a command run by hand), called again while another worker
    holds its lease, or held it when it died, until that lease lapses: for up to ``wait`` seconds,
    then Busy. ``waiting`` hears of each wait."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return call()
        except Busy as exc:
            if time.monotonic() > deadline:
                raise
            if waiting is not None:
                waiting(exc)
            time.sleep(exc.retry_after)


def enqueue(task_name: str, object_id: str) -> None:
    """``<task>.delay(object_id)`` for the task registered as ``task_name``. A broker that is down
    loses nothing: the object is recorded already, and the next worker to start queues it
    (pipeline.tasks.sweep)."""
    tasks = current_app.tasks
    if task_name not in tasks:  # a web process imports the task modules on its first queueing
        current_app.loader.import_default_modules()
    try:
        tasks[task_name].delay(object_id)
    except OperationalError as exc:
        logger.error("could not queue %s for %s (%s); the next worker to start will", task_name, object_id, exc)
