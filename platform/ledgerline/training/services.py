"""Training runs: created by the API with the consent of their data checked, trained by a
`gpu` worker, then published: weights hashed and stored, the checkpoint signed in the
model-signing format, pinned to IPFS and its weights hash anchored on chain. Every step
checks what is already done, so a run interrupted anywhere is finished by running it again."""

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from generation.families import FAMILIES
from generation.family import Trained, TrainJob
from ledgerline.accounts.models import Organisation
from ledgerline.datasets.blobs import blob_path
from ledgerline.datasets.models import DatasetVersion
from ledgerline.errors import LedgerlineError
from ledgerline.ledger.client import ChainUnavailable
from ledgerline.locks import exclusive
from ledgerline.provenance.canonical import canonical_json
from ledgerline.provenance.services import audit_append
from ledgerline.queue import enqueue
from ledgerline.storage.client import IpfsUnavailable
from ledgerline.training.checkpoints import model_folder, run_folder
from ledgerline.training.config import family_of, training_config_clean
from ledgerline.training.consent import inherited_consent_check, training_consent_check
from ledgerline.training.models import ConsentPolicy, ModelArtifact, RunStatus, TrainingRun
from ledgerline.training.publish import model_publish

logger = logging.getLogger(__name__)

PROGRESS_POINTS = 200  # the loss curve kept on the run, for the API and portal


def _base_model_check(base_model: ModelArtifact, *, organisation: Organisation, config: dict[str, Any]) -> None:
    """A 400 unless ``base_model`` is a published model of the organisation, of a family whose
    models can be continued, and of the shape ``config`` asks for; ``config`` takes the base's
    shape settings where it sets none."""
    base_run = base_model.run
    if base_run.organisation_id != organisation.pk:
        raise LedgerlineError(
            "A run can only continue a model of its own organisation.", fields={"base_model": ["not found"]}
        )
    family = family_of(config)
    if family.shape is None or family_of(base_run.config) is not family:
        raise LedgerlineError(
            f"Only {_continuable()} models can be continued, by a run of the same model; this run "
            f"is of model {config['model']} and the model it names of model "
            f"{base_run.config.get('model')}.",
            fields={"base_model": ["cannot be continued"]},
        )
    if base_run.status != RunStatus.SUCCEEDED or base_model.anchored_at is None:
        raise LedgerlineError(
            f"The model {base_model.name} is not published yet; continue it once it is anchored.",
            fields={"base_model": ["not published"]},
        )
    for name in family.shape:
        shape = base_run.config.get(name)
        if shape is None:
            continue
        if config.setdefault(name, shape) != shape:
            raise LedgerlineError(
                f"config: {name} must be {shape}, the {name} of the model it continues.", fields={"config": [name]}
            )
    problems = inherited_consent_check(base_model=base_model)
    if problems:
        raise LedgerlineError(
            f"Refused: the model {base_model.name} was trained on {problems[0]['path']}, and "
            f"{problems[0]['reason']} any more; continuing it would train on that file again.",
            fields={"base_model": [f"{p['path']}: {p['reason']}" for p in problems]},
        )


def _continuable() -> str:
    return " or ".join(name for name, family in FAMILIES.items() if family.shape is not None)


@transaction.atomic
def training_run_create(
    *,
    organisation: Organisation,
    name: str,
    config: dict[str, Any],
    dataset_versions: list[DatasetVersion],
    created_by: User | None,
    consent_policy: str = ConsentPolicy.EXCLUDE,
    code_version: str = "",
    base_model: ModelArtifact | None = None,
) -> TrainingRun:
    """Record a run, queued for a `gpu` worker once this transaction commits. With ``base_model``
    it continues that (pretrained) sound model, and the new model's lineage holds its data too."""
    config = training_config_clean(config)
    if base_model is not None:
        _base_model_check(base_model, organisation=organisation, config=config)
    if not dataset_versions:
        raise LedgerlineError("A training run needs at least one dataset version.")
    foreign = [v for v in dataset_versions if v.dataset.organisation_id != organisation.pk]
    if foreign:
        raise LedgerlineError("A training run can only use dataset versions of its own organisation.")
    if consent_policy not in ConsentPolicy.values:
        raise LedgerlineError("consent_policy must be exclude or refuse.", fields={"consent_policy": ["invalid"]})
    excluded = training_consent_check(dataset_versions=dataset_versions)
    if excluded and consent_policy == ConsentPolicy.REFUSE:
        reasons = [f"{e['path']}: {e['reason']}" for e in excluded]
        raise LedgerlineError(
            f"Refused: {len(excluded)} file(s) may not be used for training, first {reasons[0]}.",
            fields={"dataset_versions": reasons},
        )
    if len(excluded) == sum(v.file_count for v in dataset_versions):
        raise LedgerlineError("No file of these dataset versions may be used for training: their consent forbids it.")
    run = TrainingRun.objects.create(
        organisation=organisation,
        name=name.strip(),
        config=config,
        code_version=code_version,
        created_by=created_by,
        consent_policy=consent_policy,
        excluded=excluded,
        base_model=base_model,
    )
    run.dataset_versions.set(dataset_versions)
    audit_append(
        organisation=organisation,
        actor=created_by,
        action="training_run.create",
        obj=run,
        data={
            "name": run.name,
            "config": config,
            "consent_policy": consent_policy,
            "excluded": [{"path": e["path"], "sha256": e["sha256"]} for e in excluded],
            "dataset_versions": {str(v.pk): v.merkle_root for v in dataset_versions},
            "base_model": base_model.blob.sha256 if base_model is not None else None,
        },
    )
    transaction.on_commit(lambda: enqueue("ledgerline.training.run", str(run.pk)))
    return run


def training_run_execute(*, run_id: str) -> TrainingRun:
    """Train the run (resuming a checkpointed one) and publish its model; a finished run is
    only published again where something is missing. One process at a time per run: another
    that finds it busy leaves it."""
    run = TrainingRun.objects.select_related("organisation").get(pk=run_id)
    with exclusive(run_folder(run) / "lock") as mine:
        if not mine:
            logger.info("training run %s is being worked on by another process", run.pk)
            return run
        return _execute(run)


def _execute(run: TrainingRun) -> TrainingRun:
    run.refresh_from_db()  # as it is now that this process holds the run
    if run.status in (RunStatus.FAILED, RunStatus.CANCELLED):
        return run
    # Once its model exists a run never trains again: the signed folder must stay as it is.
    if run.status != RunStatus.SUCCEEDED and not ModelArtifact.objects.filter(run=run).exists():
        _consent_recheck(run)
        if run.status == RunStatus.FAILED:
            return run
        TrainingRun.objects.filter(pk=run.pk).update(
            status=RunStatus.RUNNING, started_at=timezone.now(), updated_at=timezone.now()
        )
        try:
            trained = _train(run)
        except (ChainUnavailable, IpfsUnavailable):
            raise
        except Exception as exc:  # bad data, a missing file, CUDA out of memory: the run ends, with why
            _fail(run, f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc))
            raise LedgerlineError(f"Training run {run.name} failed: {exc}") from None
        run.refresh_from_db()
        # training_tokens: how much of each file the model trained on; royalty splits weigh by it.
        run.metrics = {**trained.metrics, "training_tokens": trained.usage}
        run.code_version = trained.code_version
        run.save(update_fields=["metrics", "code_version", "updated_at"])
    artifact = model_publish(run=run)
    if run.status != RunStatus.SUCCEEDED:
        with transaction.atomic():
            run.status, run.finished_at = RunStatus.SUCCEEDED, timezone.now()
            run.save(update_fields=["status", "finished_at", "updated_at"])
            audit_append(
                organisation=run.organisation,
                actor=None,
                action="training_run.succeed",
                obj=run,
                data={
                    "model": str(artifact.pk),
                    "weights_sha256": artifact.blob.sha256,
                    "cid": artifact.cid,
                    "anchored_at": artifact.anchored_at,
                },
            )
    return run


def _consent_recheck(run: TrainingRun) -> None:
    """Consent withdrawn while the run was queued counts: the exclusions are taken again now, and
    the pretrained model it continues is refused if a file it was trained on may no longer be."""
    if run.base_model is not None and (inherited := inherited_consent_check(base_model=run.base_model)):
        _fail(
            run,
            f"Refused: consent changed; the model it continues was trained on {inherited[0]['path']}, and "
            f"{inherited[0]['reason']} any more.",
        )
        run.refresh_from_db()
        return
    versions = list(run.dataset_versions.select_related("dataset"))
    excluded = training_consent_check(dataset_versions=versions)
    if excluded == run.excluded:
        return
    with transaction.atomic():
        run.excluded = excluded
        run.save(update_fields=["excluded", "updated_at"])
        audit_append(
            organisation=run.organisation,
            actor=None,
            action="training_run.exclude",
            obj=run,
            data={"excluded": [{"path": e["path"], "sha256": e["sha256"]} for e in excluded]},
        )
    if excluded and run.consent_policy == ConsentPolicy.REFUSE:
        _fail(
            run,
            f"Refused: consent changed; {len(excluded)} file(s) may no longer be used, first "
            f"{excluded[0]['path']} ({excluded[0]['reason']}).",
        )
        run.refresh_from_db()
    elif len(excluded) == sum(v.file_count for v in versions):
        _fail(run, "Consent changed: no file of these dataset versions may be used for training any more.")
        run.refresh_from_db()


def _fail(run: TrainingRun, reason: str) -> None:
    with transaction.atomic():
        TrainingRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED, error=reason[:2000], finished_at=timezone.now(), updated_at=timezone.now()
        )
        audit_append(
            organisation=run.organisation,
            actor=None,
            action="training_run.fail",
            obj=run,
            data={"error": reason[:2000]},
        )


def _train(run: TrainingRun) -> Trained:
    """The run's family trained on its files, resuming from what its folder holds. A run that
    continues a model gets that model's checkpoint, fetched from IPFS if need be and verified."""
    folder = run_folder(run)
    base = model_folder(run.base_model) if run.base_model is not None else None

    def progress(point: dict[str, Any], latest: dict[str, Any]) -> None:
        _progress_append(run, point, latest)

    job = TrainJob(
        folder=folder,
        data=folder / "data",
        manifest=_export(run, folder / "data"),
        config=run.config,
        progress=progress,
        base=base,
    )
    return family_of(run.config).train(job)


def _progress_append(run: TrainingRun, point: dict[str, Any], latest: dict[str, Any]) -> None:
    """The run's progress: ``latest`` figures, and ``point`` added to the curve (its last
    PROGRESS_POINTS points kept)."""
    current = TrainingRun.objects.values_list("progress", flat=True).get(pk=run.pk) or {}
    curve = [*current.get("curve", []), point]
    progress = {**latest, "curve": curve[-PROGRESS_POINTS:], "at": time.time()}
    TrainingRun.objects.filter(pk=run.pk).update(progress=progress, updated_at=timezone.now())


def _export(run: TrainingRun, folder: Path) -> Path:
    """The run's files, copied from the blob store (each one checked against its hash by
    `prepare`), and the manifest that names them: dataset roots, licences, files (with the tags
    and caption each version froze, where it has them)."""
    excluded = {(e["version"], e["path"]) for e in run.excluded}
    files, roots, licences = [], [], []
    for version in run.dataset_versions.select_related("dataset").order_by("dataset__name", "number"):
        roots.append({"dataset_version": str(version.pk), "merkle_root": version.merkle_root})
        licences.append(version.licence_spdx or version.licence_terms)
        prefix = f"{version.dataset_id}-v{version.number}"
        for entry in version.entries.all():
            if (str(version.pk), entry.path) in excluded:
                continue
            target = folder / prefix / entry.path
            if not target.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(blob_path(entry.sha256), target)
            described = {"tags": entry.tags, "caption": entry.caption}
            files.append(
                {"path": f"{prefix}/{entry.path}", "sha256": entry.sha256, **{k: v for k, v in described.items() if v}}
            )
    manifest = folder.parent / "manifest.json"
    manifest.write_bytes(
        canonical_json({"dataset_roots": roots, "licence": " AND ".join(sorted(set(licences))), "files": files})
    )
    return manifest
