"""Training runs: created by the API with the consent of their data checked, trained by a
`gpu` worker, then published: weights hashed and stored, the checkpoint signed in the
model-signing format, pinned to IPFS and its weights hash anchored on chain. Every step
checks what is already done, so a run interrupted anywhere is finished by running it again."""

import json
import logging
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from ledgerline.accounts.models import Organisation
from ledgerline.datasets.blobs import blob_path
from ledgerline.datasets.consent import training_use
from ledgerline.datasets.models import DatasetVersion
from ledgerline.datasets.services import blob_store
from ledgerline.errors import LedgerlineError, json_field_check
from ledgerline.ledger.client import ChainUnavailable
from ledgerline.locks import exclusive
from ledgerline.provenance.canonical import canonical_json
from ledgerline.provenance.services import audit_append, signing_key_active, signing_keys_publish
from ledgerline.storage.client import IpfsUnavailable
from ledgerline.training.models import ConsentPolicy, ModelArtifact, RunStatus, TrainingRun
from ledgerline.training.selectors import anchored_roots, run_chain
from ledgerline_verify.checks import datasets_commitment

logger = logging.getLogger(__name__)

MODELS = ("lstm", "transformer", "audio")  # audio: the sound-design VAE of generation/audio
TOKENIZERS = ("remi", "tsd", "chorale")
# What a run's config may set, with the bounds a request is held to.
LIMITS: dict[str, tuple[type, float, float]] = {
    "max_steps": (int, 1, 200_000),
    "batch_size": (int, 1, 512),
    "seq_len": (int, 16, 4096),
    "lr": (float, 1e-6, 1.0),
    "eval_every": (int, 1, 100_000),
    "seed": (int, 0, 2**31 - 1),
    "max_minutes": (float, 0.1, 10_000),
    "d_model": (int, 8, 2048),
    "n_layers": (int, 1, 24),
    "epochs": (int, 1, 100_000),
    "latent": (int, 2, 1024),
    "channels": (int, 8, 1024),
}
AUDIO_ONLY = ("epochs", "latent", "channels")
SYMBOLIC_ONLY = ("max_steps", "seq_len", "eval_every", "d_model", "n_layers", "tokenizer")
PROGRESS_POINTS = 200  # the loss curve kept on the run, for the API and portal


def training_config_clean(config: dict[str, Any]) -> dict[str, Any]:
    """The config with its values checked, or a 400 naming the bad field."""
    json_field_check("config", config)
    unknown = sorted(set(config) - set(LIMITS) - {"model", "tokenizer", "tiny"})
    if unknown:
        raise LedgerlineError(
            f"config: unknown setting {unknown[0]!r}; the settings are model, tokenizer, tiny, {', '.join(LIMITS)}.",
            fields={"config": [f"unknown setting {unknown[0]!r}"]},
        )
    clean = dict(config)
    if clean.setdefault("model", "lstm") not in MODELS:
        raise LedgerlineError(f"config: model must be one of {', '.join(MODELS)}.", fields={"config": ["model"]})
    if clean.setdefault("tokenizer", "remi") not in TOKENIZERS:
        raise LedgerlineError(
            f"config: tokenizer must be one of {', '.join(TOKENIZERS)}.", fields={"config": ["tokenizer"]}
        )
    if not isinstance(clean.setdefault("tiny", False), bool):
        raise LedgerlineError("config: tiny must be true or false.", fields={"config": ["tiny"]})
    for name, (kind, low, high) in LIMITS.items():
        if name in clean:
            value = clean[name]
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or (kind is int and value != int(value))
                or not low <= value <= high
            ):
                raise LedgerlineError(
                    f"config: {name} must be a{'n integer' if kind is int else ' number'} from {low:g} to {high:g}.",
                    fields={"config": [name]},
                )
            clean[name] = kind(value)
    wrong = [k for k in (SYMBOLIC_ONLY if clean["model"] == "audio" else AUDIO_ONLY) if k in config]
    if wrong:
        raise LedgerlineError(
            f"config: {wrong[0]} does not apply to a {clean['model']} model.", fields={"config": [wrong[0]]}
        )
    if clean["model"] == "audio":
        del clean["tokenizer"]
    return clean


def training_consent_check(*, dataset_versions: list[DatasetVersion]) -> list[dict[str, str]]:
    """The files that may not be trained on, each with the reason. A file's own consent (which
    may have been withdrawn since the version was frozen) overrides its version's."""
    excluded = []
    for version in dataset_versions:
        for entry in version.entries.select_related("file"):
            own = entry.file.consent if entry.file is not None else {}
            consent = own or version.consent
            if training_use(consent) == "notAllowed":
                whose = "the file's" if own else f"{version.dataset.name} v{version.number}'s"
                excluded.append(
                    {
                        "version": str(version.pk),
                        "path": entry.path,
                        "sha256": entry.sha256,
                        "reason": f"{whose} consent does not allow AI training",
                    }
                )
    return excluded


def inherited_consent_check(*, base_model: ModelArtifact) -> list[dict[str, str]]:
    """The files a pretrained model was trained on (its own run's and those it inherited) whose
    consent no longer allows training. Its weights carry them: continuing it would use them again,
    and they cannot be left out the way a run leaves out files of its own data."""
    problems = []
    for link in run_chain(base_model.run):
        versions = list(link.dataset_versions.select_related("dataset"))
        left_out = {(e["version"], e["path"]) for e in link.excluded}
        problems += [e for e in training_consent_check(dataset_versions=versions)
                     if (e["version"], e["path"]) not in left_out]
    return problems


def _base_model_check(base_model: ModelArtifact, *, organisation: Organisation, config: dict[str, Any]) -> None:
    """A 400 unless ``base_model`` is a published sound model of the organisation with the same
    shape as ``config`` asks for; ``config`` takes the base's latent and channels where it sets none."""
    base_run = base_model.run
    if base_run.organisation_id != organisation.pk:
        raise LedgerlineError("A run can only continue a model of its own organisation.",
                              fields={"base_model": ["not found"]})
    if base_run.config.get("model") != "audio" or config["model"] != "audio":
        raise LedgerlineError("Only sound models (model audio) can be continued; a symbolic model trains new.",
                              fields={"base_model": ["not a sound model"]})
    if base_run.status != RunStatus.SUCCEEDED or base_model.anchored_at is None:
        raise LedgerlineError(f"The model {base_model.name} is not published yet; continue it once it is anchored.",
                              fields={"base_model": ["not published"]})
    for name in ("latent", "channels"):
        shape = base_run.config.get(name)
        if shape is None:
            continue
        if config.setdefault(name, shape) != shape:
            raise LedgerlineError(f"config: {name} must be {shape}, the {name} of the model it continues.",
                                  fields={"config": [name]})
    problems = inherited_consent_check(base_model=base_model)
    if problems:
        raise LedgerlineError(
            f"Refused: the model {base_model.name} was trained on {problems[0]['path']}, and "
            f"{problems[0]['reason']} any more; continuing it would train on that file again.",
            fields={"base_model": [f"{p['path']}: {p['reason']}" for p in problems]},
        )


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
    transaction.on_commit(lambda: _enqueue(run))
    return run


def _enqueue(run: TrainingRun) -> None:
    from ledgerline.tasks import enqueue
    from ledgerline.training.tasks import training_run_task

    enqueue(training_run_task, str(run.pk))


def run_folder(run: TrainingRun) -> Path:
    return Path(settings.LEDGERLINE_RUNS_DIR) / str(run.pk)


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
            checkpoint = _train(run)
        except (ChainUnavailable, IpfsUnavailable):
            raise
        except Exception as exc:  # bad data, a missing file, CUDA out of memory: the run ends, with why
            _fail(run, f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc))
            raise LedgerlineError(f"Training run {run.name} failed: {exc}") from None
        run.refresh_from_db()
        run.metrics = checkpoint.config.get("metrics", {"history": checkpoint.config.get("history", [])})
        if run.config["model"] == "audio":  # the sounds a generation may interpolate between
            clips = json.loads((checkpoint.folder / "clips.json").read_text())["clips"]
            run.metrics["clips"] = [clip["name"] for clip in clips]
        run.metrics["training_tokens"] = _training_tokens(run)
        run.code_version = str(checkpoint.config.get("code", {}).get("commit") or "")[:100]
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


def _training_tokens(run: TrainingRun) -> dict[str, int]:
    """How much of each file (by its path in the run's manifest) the model trained on: tokens of
    the training side, transpositions included, for a symbolic model; one-second clips for a
    sound model. Royalty splits weigh the data's rights holders by it."""
    folder = run_folder(run)
    if run.config["model"] == "audio":
        clips = json.loads((folder / "train" / "checkpoint" / "clips.json").read_text())["clips"]
        counts: dict[str, int] = {}
        for clip in clips:
            name = clip["source"]["filename"]
            counts[name] = counts.get(name, 0) + 1
        return counts
    import numpy as np

    from generation.data import SIDE_CODES

    meta = json.loads((folder / "prepared" / "data.json").read_text())
    with np.load(folder / "prepared" / "tokens.npz") as arrays:
        train = arrays["side"] == SIDE_CODES["train"]
        totals = np.bincount(arrays["piece"][train], weights=np.diff(arrays["offsets"])[train],
                             minlength=len(meta["pieces"]))
    return {piece["name"]: int(totals[i]) for i, piece in enumerate(meta["pieces"]) if totals[i]}


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


def _train(run: TrainingRun) -> Any:
    if run.config["model"] == "audio":
        return _train_audio(run)
    from generation.data import PrepareConfig, prepare
    from generation.model import ModelConfig
    from generation.tokenizers import TokenizerConfig
    from generation.train import TrainConfig, tiny_config, train

    folder = run_folder(run)
    manifest = _export(run, folder / "data")
    config = run.config
    prepared = folder / "prepared"
    if not (prepared / "data.json").is_file():
        prepare_config = PrepareConfig(
            source=str(folder / "data"),
            out=str(prepared),
            manifest=str(manifest),
            tokenizer=TokenizerConfig(kind=config["tokenizer"]),
        )
        prepare(replace(prepare_config, transpositions=(0,)) if config["tiny"] else prepare_config)
    train_config = TrainConfig(data=str(prepared), out=str(folder / "train"), model=ModelConfig(kind=config["model"]))
    if config.get("tiny"):
        train_config = tiny_config(train_config)
    model_fields = {k: config[k] for k in ("d_model", "n_layers") if k in config}
    train_config = replace(
        train_config,
        model=replace(train_config.model, **model_fields),
        **{k: config[k] for k in LIMITS if k in config and k not in model_fields},
    )
    return train(train_config, progress=_progress_saver(run, config))


def _train_audio(run: TrainingRun) -> Any:
    """The sound-design VAE on the run's audio files, each cut into one-second clips named after
    its path (`take.wav` gives take0, take1, ...). The clips are saved beside the weights, so the
    signed and pinned folder holds what generation interpolates between."""
    from generation.audio.dataset import AudioError, SoundSet, file_import
    from generation.audio.model import VAEConfig
    from generation.audio.train import TrainConfig, train

    folder = run_folder(run)
    manifest = json.loads(_export(run, folder / "data").read_bytes())
    sounds = SoundSet()
    for entry in manifest["files"]:
        path = folder / "data" / entry["path"]
        if path.suffix.lower() in (".mid", ".midi"):
            continue
        try:
            sounds = sounds.extend(
                file_import(path.read_bytes(), filename=entry["path"], group=Path(entry["path"]).stem)
            )
        except AudioError as exc:
            raise ValueError(str(exc)) from None
    if not len(sounds):
        raise ValueError("there are no audio files to train a sound model on")
    config = run.config
    model = VAEConfig(**{k: config[k] for k in ("latent", "channels") if k in config})
    training = TrainConfig(
        **{k: config[k] for k in ("epochs", "batch_size", "lr", "seed", "max_minutes") if k in config}
    )
    out = folder / "train" / "checkpoint"
    pretrained = None
    if run.base_model is not None:  # fetched from IPFS if need be, and used only if it verifies
        from generation.audio.train import AudioCheckpoint
        from ledgerline.works.services import model_folder

        pretrained = AudioCheckpoint(model_folder(run.base_model))
        model = pretrained.model_config()
    checkpoint = train(sounds, out, model=model, config=training, pretrained=pretrained,
                       progress=_audio_progress_saver(run, config))
    sounds.save(out)
    return checkpoint


def _audio_progress_saver(run: TrainingRun, config: dict[str, Any]) -> Any:
    def save(report: Any) -> None:
        summary = report.summary()
        _progress_append(run, summary, {**summary, "max_epochs": config.get("epochs")})

    return save


def _progress_append(run: TrainingRun, point: dict[str, Any], latest: dict[str, Any]) -> None:
    """The run's progress: ``latest`` figures, and ``point`` added to the curve (its last
    PROGRESS_POINTS points kept)."""
    current = TrainingRun.objects.values_list("progress", flat=True).get(pk=run.pk) or {}
    curve = [*current.get("curve", []), point]
    progress = {**latest, "curve": curve[-PROGRESS_POINTS:], "at": time.time()}
    TrainingRun.objects.filter(pk=run.pk).update(progress=progress, updated_at=timezone.now())


def _export(run: TrainingRun, folder: Path) -> Path:
    """The run's files, copied from the blob store (each one checked against its hash by
    `prepare`), and the manifest that names them: dataset roots, licences, files."""
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
            files.append({"path": f"{prefix}/{entry.path}", "sha256": entry.sha256})
    manifest = folder.parent / "manifest.json"
    manifest.write_bytes(
        canonical_json({"dataset_roots": roots, "licence": " AND ".join(sorted(set(licences))), "files": files})
    )
    return manifest


def _progress_saver(run: TrainingRun, config: dict[str, Any]) -> Any:
    total = config.get("max_steps")

    def save(record: dict[str, Any]) -> None:
        point = {k: record[k] for k in ("step", "train_loss", "val_nll", "val_ppl")}
        _progress_append(run, point, {**point, "max_steps": total})

    return save


def model_publish(*, run: TrainingRun) -> ModelArtifact:
    """Store, sign, pin and anchor the run's checkpoint; each step once."""
    from ledgerline.ledger.client import Ledger
    from ledgerline.ledger.services import dataset_anchor, model_anchor
    from ledgerline.storage.client import ipfs_connect
    from ledgerline.training.signing import SIGNATURE, folder_sign

    folder = run_folder(run) / "train" / "checkpoint"
    artifact = ModelArtifact.objects.filter(run=run).select_related("blob").first()
    if artifact is None:
        with open(folder / "model.safetensors", "rb") as weights:
            blob = blob_store(weights)
        artifact = ModelArtifact.objects.create(run=run, name=f"{run.name} ({run.config['model']})", blob=blob)
    if not artifact.signature:
        key = signing_key_active(organisation=run.organisation)
        bundle = folder_sign(folder, key_id=key.key_id)
        with transaction.atomic():
            artifact.signature, artifact.key_id = bundle, key.key_id
            artifact.save(update_fields=["signature", "key_id", "updated_at"])
            audit_append(
                organisation=run.organisation,
                actor=None,
                action="model.sign",
                obj=artifact,
                data={"weights_sha256": artifact.blob.sha256, "key_id": key.key_id},
            )
    elif not (folder / SIGNATURE).is_file():
        (folder / SIGNATURE).write_bytes(canonical_json(artifact.signature))
    if not artifact.cid:
        added = ipfs_connect().add_path(folder)
        artifact.cid = str(added.cid)
        artifact.save(update_fields=["cid", "updated_at"])
    if artifact.anchored_at is None:
        ledger = Ledger.connect()
        signing_keys_publish(organisation=run.organisation)  # the key model.sig is checked with
        roots = anchored_roots(run)  # what it inherited from a pretrained model too
        for root in roots:
            dataset_anchor(ledger=ledger, merkle_root=root, manifest_uri=f"ipfs://{artifact.cid}/config.json")
        artifact.anchored_at = model_anchor(
            ledger=ledger,
            weights_sha256=artifact.blob.sha256,
            datasets_commitment=datasets_commitment(roots),
            manifest_uri=f"ipfs://{artifact.cid}",
        )
        artifact.save(update_fields=["anchored_at", "updated_at"])
    return artifact
