"""The pipeline's tasks. Generation on the `gpu` queue; everything after it (checking, signing,
pinning, minting, confirming) on `default`. Tasks take ids, are safe to run twice, and retry with backoff
while the chain node or the IPFS node does not answer. A worker that starts sweeps up what
a dead one left (see `sweep`)."""

from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready

from ledgerline.pipeline import drive
from ledgerline.queue import RETRYING, busy_retry
from ledgerline.training.models import RunStatus, TrainingRun
from ledgerline.training.tasks import training_publish_task, training_run_task
from ledgerline.works.models import Generation, Work

ADVANCERS = 4  # advance tasks queued per generation: up to this many default workers share its works


@shared_task(name="ledgerline.works.generate", bind=True, **RETRYING)
def generate_task(self: Task, generation_id: str) -> int:
    generation = Generation.objects.select_related("model__run").get(pk=generation_id)
    made = busy_retry(self, lambda: drive.works_generate(generation=generation))
    if made is None:  # another worker is generating them
        return 0
    for _ in range(max(1, min(made, ADVANCERS))):  # default workers share out its works
        advance_task.delay(generation_id)
    return made


@shared_task(name="ledgerline.works.advance", bind=True, **RETRYING)
def advance_task(self: Task, generation_id: str | None = None) -> dict[str, int]:
    works = Work.objects.filter(generation_id=generation_id) if generation_id else None
    return busy_retry(self, lambda: drive.works_advance(works=works)) or {}  # None: queued again


@shared_task(name="ledgerline.sweep")
def sweep() -> dict[str, Any]:
    """Queue again whatever is unfinished: runs not yet succeeded, generations with works
    still requested, and every work between generated and confirmed. Safe with many workers
    starting at once: each task takes its run's or generation's lease (or the mint's), so the
    duplicates find it held and retry until there is nothing left to do."""
    runs = list(
        TrainingRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).values_list("pk", "checkpoint")
    )
    for run_id, checkpoint in runs:  # trained: publishing is left; leases keep duplicates idle
        (training_publish_task if checkpoint else training_run_task).delay(str(run_id))
    generations = list(Generation.objects.filter(works__status="requested").distinct().values_list("pk", flat=True))
    for generation_id in generations:
        generate_task.delay(str(generation_id))
    advance_task.delay()
    return {"runs": len(runs), "generations": len(generations)}


@worker_ready.connect
def _sweep_on_start(sender: Any = None, **kwargs: Any) -> None:
    sweep.delay()
