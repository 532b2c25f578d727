"""Training on the `gpu` queue (CELERY_TASK_ROUTES), publishing (signing, pinning, anchoring)
on `default`. Each takes an id and is safe to run twice, in any number of workers on any hosts:
a run is worked on under a lease, and a task that finds it held retries later."""

from celery import Task, shared_task

from ledgerline.queue import RETRYING, busy_retry
from ledgerline.training import services


@shared_task(name="ledgerline.training.run", bind=True, **RETRYING)
def training_run_task(self: Task, run_id: str) -> str:
    run = busy_retry(self, lambda: services.training_run_execute(run_id=run_id))
    return str(run.status) if run else "queued again: busy"


@shared_task(name="ledgerline.training.publish", bind=True, **RETRYING)
def training_publish_task(self: Task, run_id: str) -> str:
    run = busy_retry(self, lambda: services.training_run_publish(run_id=run_id))
    return str(run.status) if run else "queued again: busy"
