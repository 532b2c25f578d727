"""Tasks every worker serves, whatever its queue."""

import logging
import platform
import sys
from typing import Any

from celery import Task, shared_task
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def enqueue(task: Task, object_id: str) -> None:
    """``task.delay(object_id)``. A broker that is down loses nothing: the object is recorded
    already, and the next worker to start queues it (works.tasks.sweep)."""
    try:
        task.delay(object_id)
    except OperationalError as exc:
        logger.error("could not queue %s for %s (%s); the next worker to start will", task.name, object_id, exc)


@shared_task(name="ledgerline.health")
def health() -> dict[str, Any]:
    """What a worker runs on: a liveness check for deployments, and proof that Python's
    standard-library `platform` module is the one imported (ARCHITECTURE.md)."""
    return {"system": platform.system(), "python": sys.version.split()[0], "platform_module": platform.__file__}
