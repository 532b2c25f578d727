"""The training task, on the `gpu` queue (CELERY_TASK_ROUTES). It takes an id and is safe to
run twice: a finished run is only published where something is missing."""

from celery import shared_task

from ledgerline.queue import RETRYING
from ledgerline.training import services


@shared_task(name="ledgerline.training.run", **RETRYING)
def training_run_task(run_id: str) -> str:
    return str(services.training_run_execute(run_id=run_id).status)
