"""The pipeline's tasks. Generation on the `gpu` queue; everything after it (checking, signing,
pinning, minting, confirming) on `default`. Tasks take ids, are safe to run twice, and retry with backoff
while the chain node or the IPFS node does not answer. A worker that starts sweeps up what
a dead one left (see `sweep`)."""

from typing import Any

from celery import shared_task
from celery.signals import worker_ready

from ledgerline.pipeline import drive
from ledgerline.queue import RETRYING
from ledgerline.training.models import RunStatus, TrainingRun
from ledgerline.training.tasks import training_run_task
from ledgerline.works.models import Generation, Work


@shared_task(name="ledgerline.works.generate", **RETRYING)
def generate_task(generation_id: str) -> int:
    made = drive.works_generate(generation=Generation.objects.select_related("model__run").get(pk=generation_id))
    advance_task.delay(generation_id)
    return made


@shared_task(name="ledgerline.works.advance", **RETRYING)
def advance_task(generation_id: str | None = None) -> dict[str, int]:
    works = Work.objects.filter(generation_id=generation_id) if generation_id else None
    return drive.works_advance(works=works)


@shared_task(name="ledgerline.sweep")
def sweep() -> dict[str, Any]:
    """Queue again whatever is unfinished: runs not yet succeeded, generations with works
    still requested, and every work between generated and confirmed."""
    runs = list(
        TrainingRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).values_list("pk", flat=True)
    )
    for run_id in runs:
        training_run_task.delay(str(run_id))
    generations = list(Generation.objects.filter(works__status="requested").distinct().values_list("pk", flat=True))
    for generation_id in generations:
        generate_task.delay(str(generation_id))
    advance_task.delay()
    return {"runs": len(runs), "generations": len(generations)}


@worker_ready.connect
def _sweep_on_start(sender: Any = None, **kwargs: Any) -> None:
    sweep.delay()
