"""Generation requests: a request for one or more works of a model, recorded with a seed per work
and queued for a `gpu` worker."""

import secrets
from typing import Any, Protocol

from django.contrib.auth.models import User
from django.db import transaction

from ledgerline.accounts.models import Organisation
from ledgerline.errors import LedgerlineError
from ledgerline.provenance.services import audit_append
from ledgerline.queue import enqueue
from ledgerline.training.models import ModelArtifact, TrainingRun
from ledgerline.works.models import Generation, Work
from ledgerline.works.parameters import generation_parameters_clean

# Seeds stay within JSON's exact integers, so manifests (RFC 8785) and every parser keep them.
MAX_SEED = 2**53 - 1
MAX_COUNT = 100


class LicenceCheck(Protocol):
    """None, or a 400 saying which condition of the run's training data the licence goes beyond."""

    def __call__(self, *, run: TrainingRun, parameters: dict[str, Any]) -> None: ...


@transaction.atomic
def generation_request(
    *,
    organisation: Organisation,
    title: str,
    model: ModelArtifact,
    parameters: dict[str, Any],
    created_by: User | None,
    licence_require: LicenceCheck,
    count: int = 1,
    seed: int | None = None,
) -> Generation:
    """Record a request for ``count`` works, queued for a `gpu` worker once this commits. A seed
    not given is drawn here and recorded, so every work can be regenerated. ``licence_require``
    refuses a licence that goes beyond the model's training data (royalties, through the pipeline:
    ledgerline.pipeline.requests)."""
    if model.run.organisation_id != organisation.pk:
        raise LedgerlineError("A work can only be generated with a model of its own organisation.")
    if not (model.signature and model.cid and model.anchored_at):
        raise LedgerlineError(
            f"The model {model.name} is not yet signed, pinned and anchored; its training run finishes that.",
            fields={"model": ["not published yet"]},
        )
    parameters = generation_parameters_clean(parameters, model=model)
    licence_require(run=model.run, parameters=parameters)
    if not 1 <= count <= MAX_COUNT:
        raise LedgerlineError(f"count must be 1 to {MAX_COUNT}.", fields={"count": ["out of range"]})
    if seed is None:
        seed = secrets.randbelow(MAX_SEED + 1 - count)
    if seed + count - 1 > MAX_SEED:
        raise LedgerlineError("seed + count must stay below 2**53.", fields={"seed": ["too large"]})
    generation = Generation.objects.create(
        organisation=organisation,
        title=title.strip(),
        model=model,
        count=count,
        seed=seed,
        parameters=parameters,
        created_by=created_by,
    )
    Work.objects.bulk_create(
        Work(
            generation=generation,
            index=i,
            organisation=organisation,
            model=model,
            seed=seed + i,
            title=generation.title if count == 1 else f"{generation.title} #{i + 1}",
            parameters=parameters,
            created_by=created_by,
        )
        for i in range(count)
    )
    audit_append(
        organisation=organisation,
        actor=created_by,
        action="generation.request",
        obj=generation,
        data={
            "title": generation.title,
            "model": str(model.pk),
            "model_sha256": model.blob.sha256,
            "count": count,
            "seed": seed,
            "parameters": parameters,
        },
    )
    transaction.on_commit(lambda: enqueue("ledgerline.works.generate", str(generation.pk)))
    return generation
