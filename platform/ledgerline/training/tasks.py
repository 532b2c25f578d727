"""The training task, on the `gpu` queue (CELERY_TASK_ROUTES). It takes an id and is safe to
run twice: a finished run is only published where something is missing."""

from celery import shared_task

from ledgerline.ledger.client import ChainUnavailable
from ledgerline.storage.client import IpfsUnavailable
from ledgerline.training import services

TRANSIENT = (ChainUnavailable, IpfsUnavailable)


@shared_task(
    name="ledgerline.training.run",
    bind=True,
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=2,
    retry_backoff_max=120,
    max_retries=30,
)
def training_run_task(self: object, run_id: str) -> str:
    return str(services.training_run_execute(run_id=run_id).status)
