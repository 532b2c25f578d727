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
from django.db.models import Q
from django.utils import timezone

from generation.families import FAMILIES
from generation.family import CHECKPOINT, Trained, TrainJob
from ledgerline.accounts.models import Organisation
from ledgerline.datasets.blobs import blob_file
from ledgerline.datasets.models import Blob, DatasetVersion
from ledgerline.errors import LedgerlineError
from ledgerline.leases.services import Held, LeaseLost, fenced, leased
from ledgerline.ledger.client import ChainUnavailable
from ledgerline.provenance.canonical import canonical_json
from ledgerline.provenance.services import audit_append
from ledgerline.queue import busy_wait, enqueue
from ledgerline.storage.client import IpfsUnavailable
from ledgerline.storage.shared import content_release, store_shared
from ledgerline.training.checkpoints import checkpoint_folder, model_folder, run_folder
from ledgerline.training.config import family_of, training_config_clean
from ledgerline.training.consent import inherited_consent_check, training_consent_check
from ledgerline.training.models import ConsentPolicy, ModelArtifact, RunStatus, TrainingRun
from ledgerline.training.publish import model_publish
from ledgerline.training.snapshots import folder_record, folder_restore

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


def training_run_finish(*, run_id: str) -> TrainingRun:
    """Train and publish in this process (`manage.py demo`, `pipeline train`), waiting for a
    worker that is at it already (queue.busy_wait)."""

    def finish() -> TrainingRun:
        training_run_execute(run_id=run_id, queue_publish=False)
        return training_run_publish(run_id=run_id)

    return busy_wait(finish)


def training_run_execute(*, run_id: str, queue_publish: bool = True) -> TrainingRun:
    """Train the run (resuming from its last resume point) on a `gpu` worker, record its checkpoint,
    and queue its publishing on the `default` queue, which alone signs and anchors. A run is
    trained by one worker at a time across hosts (a lease; Busy while another holds it), and a
    worker whose lease was taken over records nothing more."""
    run = TrainingRun.objects.select_related("organisation").get(pk=run_id)
    try:
        with leased(f"training-run:{run.pk}") as lease:
            run.refresh_from_db()  # as it is now that this worker holds the run
            if run.status in (RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.SUCCEEDED):
                return run
            # Once trained a run never trains again: the checkpoint recorded is the one published.
            if not run.checkpoint and not ModelArtifact.objects.filter(run=run).exists():
                _training(run, lease)
                if run.status == RunStatus.FAILED:
                    return run
    except LeaseLost as exc:
        logger.warning("training run %s: %s", run.pk, exc)
        return run
    if queue_publish:
        enqueue("ledgerline.training.publish", str(run.pk))
    run.refresh_from_db()
    return run


def training_run_publish(*, run_id: str) -> TrainingRun:
    """A trained run's model published on the `default` queue: its checkpoint (fetched from the
    IPFS node when another host trained it, checked by hash) stored, signed, pinned and anchored;
    then the run has succeeded. Each step once, whoever runs it."""
    run = TrainingRun.objects.select_related("organisation").get(pk=run_id)
    with leased(f"training-publish:{run.pk}"):
        run.refresh_from_db()
        if run.status in (RunStatus.FAILED, RunStatus.CANCELLED) or not (
            run.checkpoint or ModelArtifact.objects.filter(run=run).exists()
        ):
            return run
        if run.checkpoint:
            folder_restore(checkpoint_folder(run), run.checkpoint, exact=False)
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


def _training(run: TrainingRun, lease: Held) -> None:
    """Train the run and record its figures and checkpoint, each write fenced by ``lease``."""
    _consent_recheck(run)
    if run.status == RunStatus.FAILED:
        return
    with fenced(lease):
        TrainingRun.objects.filter(pk=run.pk).update(
            status=RunStatus.RUNNING, started_at=timezone.now(), updated_at=timezone.now()
        )
    try:
        trained = _train(run, lease)
    except (ChainUnavailable, IpfsUnavailable, LeaseLost):
        raise
    except Exception as exc:  # bad data, a missing file, CUDA out of memory: the run ends, with why
        _fail(run, f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc), lease=lease)
        raise LedgerlineError(f"Training run {run.name} failed: {exc}") from None
    checkpoint = folder_record(trained.checkpoint)
    with fenced(lease):
        # training_tokens: how much of each file the model trained on; royalty splits weigh by it.
        TrainingRun.objects.filter(pk=run.pk).update(
            metrics={**trained.metrics, "training_tokens": trained.usage},
            code_version=trained.code_version,
            checkpoint=checkpoint,
            updated_at=timezone.now(),
        )
    if store_shared():  # trained: its resume point is not needed any more
        _release(run, _cids(run.snapshot.get("files", {})) - _cids(checkpoint))
    run.refresh_from_db()


def _cids(files: dict[str, Any]) -> set[str]:
    return {entry["cid"] for entry in files.values() if entry.get("cid")}


def _release(run: TrainingRun, cids: set[str]) -> None:
    """Unpin ``cids`` of ``run`` that nothing else records (a pin is one, however many added it)."""
    others = TrainingRun.objects.exclude(pk=run.pk)
    content_release(
        {
            cid
            for cid in cids
            if not Blob.objects.filter(cid=cid).exists()
            and not others.filter(Q(snapshot__icontains=cid) | Q(checkpoint__icontains=cid)).exists()
        }
    )


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


def _fail(run: TrainingRun, reason: str, *, lease: Held | None = None) -> None:
    with fenced(lease) if lease is not None else transaction.atomic():
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


def _train(run: TrainingRun, lease: Held) -> Trained:
    """The run's family trained on its files, resuming from what its folder holds. When hosts
    share no disk, that is the run's last recorded resume point (fetched if this host has another
    or none), and each new one is recorded as the family reports progress (a family saves its
    resume point before it reports). A run that continues a model gets that model's checkpoint,
    fetched from IPFS if need be and verified."""
    folder = run_folder(run)
    base = model_folder(run.base_model) if run.base_model is not None else None
    resume = folder / CHECKPOINT.parent
    if store_shared():
        folder_restore(resume, run.snapshot.get("files", {}), exact=True)
        if run.snapshot:
            logger.info("training run %s resumes from step %s", run.pk, run.snapshot["step"])
        with fenced(lease):  # the curve as far as the resume point: no step is reported twice
            _curve_cut(run, step=run.snapshot.get("step", -1))

    def progress(point: dict[str, Any], latest: dict[str, Any]) -> None:
        if not store_shared():
            with fenced(lease):
                _progress_append(run, point, latest)
            return
        before = run.snapshot.get("files", {})
        snapshot = {"step": point.get("step", 0), "files": folder_record(resume, previous=before)}
        with fenced(lease):
            _progress_append(run, point, latest, snapshot=snapshot)
        run.snapshot = snapshot
        _release(run, _cids(before) - _cids(snapshot["files"]))  # the resume point it replaces

    job = TrainJob(
        folder=folder,
        data=folder / "data",
        manifest=_export(run, folder / "data"),
        config=run.config,
        progress=progress,
        base=base,
    )
    return family_of(run.config).train(job)


def _curve_cut(run: TrainingRun, *, step: int) -> None:
    current = TrainingRun.objects.values_list("progress", flat=True).get(pk=run.pk) or {}
    curve = [point for point in current.get("curve", []) if point.get("step", 0) <= step]
    TrainingRun.objects.filter(pk=run.pk).update(progress={**current, "curve": curve}, updated_at=timezone.now())


def _progress_append(run: TrainingRun, point: dict[str, Any], latest: dict[str, Any], **fields: Any) -> None:
    """The run's progress: ``latest`` figures, and ``point`` added to the curve (its last
    PROGRESS_POINTS points kept); ``fields``: its resume point, recorded with it."""
    current = TrainingRun.objects.values_list("progress", flat=True).get(pk=run.pk) or {}
    curve = [*current.get("curve", []), point]
    progress = {**latest, "curve": curve[-PROGRESS_POINTS:], "at": time.time()}
    TrainingRun.objects.filter(pk=run.pk).update(progress=progress, updated_at=timezone.now(), **fields)


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
                shutil.copyfile(blob_file(entry.sha256), target)
            described = {"tags": entry.tags, "caption": entry.caption}
            files.append(
                {"path": f"{prefix}/{entry.path}", "sha256": entry.sha256, **{k: v for k, v in described.items() if v}}
            )
    manifest = folder.parent / "manifest.json"
    manifest.write_bytes(
        canonical_json({"dataset_roots": roots, "licence": " AND ".join(sorted(set(licences))), "files": files})
    )
    return manifest
