"""Works, from request to confirmed token. Each step moves a work one status on and records
what it made in the same transaction (`_advance`), under a row lock that re-reads the status:
a step that dies half-way leaves the work where it was, and a step run twice, or by two
workers at once, takes effect once. Minting asks the chain first (ledger.contents_mint), so a
mint sent before a crash is never sent again as a new one.

    requested -> generated -> checked -> signed -> pinned -> minted -> confirmed
                               `-> held (originality over the limit: shown, not minted)
"""

import io
import logging
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from ledgerline.accounts.models import Organisation
from ledgerline.datasets.blobs import blob_path
from ledgerline.datasets.models import Blob
from ledgerline.datasets.services import blob_store
from ledgerline.errors import LedgerlineError, json_field_check
from ledgerline.faults import fault_point
from ledgerline.ledger.client import ChainUnavailable
from ledgerline.locks import exclusive
from ledgerline.provenance.canonical import canonical_json
from ledgerline.provenance.hashing import sha256_bytes
from ledgerline.provenance.models import SigningKey
from ledgerline.provenance.services import audit_append, manifest_sign, signing_key_active, signing_keys_publish
from ledgerline.royalties.services import isrc_assign, licence_data, licence_require, work_conditions
from ledgerline.royalties.splits import work_split
from ledgerline.storage.client import IpfsUnavailable
from ledgerline.training.models import ModelArtifact
from ledgerline.training.selectors import anchored_roots, lineage_versions, run_chain
from ledgerline.works.models import Generation, Work, WorkOutput, WorkStatus

logger = logging.getLogger(__name__)

# Seeds stay within JSON's exact integers, so manifests (RFC 8785) and every parser keep them.
MAX_SEED = 2**53 - 1
MAX_COUNT = 100
MAX_LENGTH = 4096  # tokens per work
RATES = (44_100, 48_000)
SAMPLING = ("length", "temperature", "top_k", "top_p", "style")
MEDIA = {"midi": "audio/midi", "wav": "audio/wav", "audio": "audio/wav"}
FILES = {"audio": "work.wav", "midi": "work.mid"}  # names in the work's IPFS folder
CONSENT_ORDER = {"notAllowed": 0, "constrained": 1, "allowed": 2}
SPEC = "urn:ledgerline:work-manifest:1"  # the manifest's shape; a new field set gets a new number


def generation_parameters_clean(parameters: dict[str, Any], *, model: ModelArtifact) -> dict[str, Any]:
    """For a symbolic model: the sampling parameters of generation.sample and the originality
    limit; for a sound model: two of its training clips to interpolate between (`between`, with
    `ratio`) or nothing (samples from its prior), and the output `rate`. Both: the `licence`."""
    json_field_check("parameters", parameters)
    audio = model.run.config.get("model") == "audio"
    licence = ("licence", "licence_conditions")
    symbolic = (*SAMPLING, "primer", "originality_max_run")
    allowed = ("between", "ratio", "rate", *licence) if audio else (*symbolic, *licence)
    unknown = sorted(set(parameters) - set(allowed))
    if unknown:
        raise LedgerlineError(
            f"parameters: {unknown[0]!r} does not apply to this model; use {', '.join(allowed)}.",
            fields={"parameters": [f"unknown {unknown[0]!r}"]},
        )
    licence = parameters.get("licence", "LicenseRef-All-Rights-Reserved")
    if not isinstance(licence, str) or not licence.strip():
        raise LedgerlineError(
            "parameters: licence must be an SPDX id or a LicenseRef.", fields={"parameters": ["licence"]}
        )
    clean = _sound_parameters(parameters, model) if audio else _sampling_parameters(parameters)
    if "primer" in parameters:
        clean["primer"] = _primer_clean(parameters["primer"], organisation_id=model.run.organisation_id)
    clean["licence"] = licence.strip()
    if "licence_conditions" in parameters:
        clean["licence_conditions"] = parameters["licence_conditions"]
    work_conditions(clean)  # a licence without known conditions, or bad conditions: a 400 now
    return clean


def _primer_clean(value: Any, *, organisation_id: Any) -> str:
    """A primer is a MIDI file the organisation holds, named by its SHA-256: every piece starts
    with its tokens, and the manifest records which file it was."""
    from ledgerline.datasets.selectors import blob_held

    held = blob_held(organisation_ids=[organisation_id], sha256=str(value).lower()) if isinstance(value, str) else None
    if held is None or held[1] != "audio/midi":
        raise LedgerlineError("parameters: primer must be the SHA-256 of a MIDI file in one of the organisation's "
                              "datasets.", fields={"parameters": ["primer"]})
    return str(value).lower()


def _sampling_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    from generation.sample import SampleError, SampleParams, params_check

    sampling = {k: parameters[k] for k in SAMPLING if k in parameters}
    wrong: list[str] = [
        k
        for k in ("length", "top_k")
        if k in sampling and (isinstance(sampling[k], bool) or not isinstance(sampling[k], int))
    ]
    wrong += [
        k
        for k in ("temperature", "top_p")
        if k in sampling and (isinstance(sampling[k], bool) or not isinstance(sampling[k], (int, float)))
    ]
    if wrong or not isinstance(sampling.get("style", ""), str):
        name = wrong[0] if wrong else "style"
        raise LedgerlineError(f"parameters: {name} has the wrong type.", fields={"parameters": [name]})
    try:
        params_check(SampleParams(**sampling))
        if sampling.get("length", 1) > MAX_LENGTH:
            raise ValueError(f"length must be a whole number of tokens up to {MAX_LENGTH}")
    except (TypeError, ValueError, SampleError) as exc:
        raise LedgerlineError(f"parameters: {exc}.", fields={"parameters": [str(exc)]}) from None
    limit = parameters.get("originality_max_run", settings.LEDGERLINE_ORIGINALITY_MAX_RUN)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise LedgerlineError(
            "parameters: originality_max_run must be a whole number of intervals, 0 or more.",
            fields={"parameters": ["originality_max_run"]},
        )
    return {**sampling, "originality_max_run": limit}


def _sound_parameters(parameters: dict[str, Any], model: ModelArtifact) -> dict[str, Any]:
    clean: dict[str, Any] = {"rate": parameters.get("rate", 44_100)}
    if clean["rate"] not in RATES:
        raise LedgerlineError(
            f"parameters: rate must be one of {', '.join(map(str, RATES))}.", fields={"parameters": ["rate"]}
        )
    if "between" in parameters:
        between, clips = parameters["between"], model.run.metrics.get("clips", [])
        if not isinstance(between, list) or len(between) != 2 or not all(isinstance(n, str) for n in between):
            raise LedgerlineError(
                "parameters: between names two of the model's sounds.", fields={"parameters": ["between"]}
            )
        unknown = [name for name in between if name not in clips]
        if unknown:
            raise LedgerlineError(
                f"parameters: the model has no sound {unknown[0]!r}; it knows {', '.join(clips[:20])}.",
                fields={"parameters": ["between"]},
            )
        ratio = parameters.get("ratio", 0.5)
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
            raise LedgerlineError("parameters: ratio must be from 0 to 1.", fields={"parameters": ["ratio"]})
        clean.update(between=between, ratio=float(ratio))
    elif "ratio" in parameters:
        raise LedgerlineError("parameters: a ratio needs two sounds in between.", fields={"parameters": ["ratio"]})
    return clean


@transaction.atomic
def generation_request(
    *,
    organisation: Organisation,
    title: str,
    model: ModelArtifact,
    parameters: dict[str, Any],
    created_by: User | None,
    count: int = 1,
    seed: int | None = None,
) -> Generation:
    """Record a request for ``count`` works, queued for a `gpu` worker once this commits. A seed
    not given is drawn here and recorded, so every work can be regenerated."""
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
    transaction.on_commit(lambda: _enqueue(generation))
    return generation


def _enqueue(generation: Generation) -> None:
    from ledgerline.tasks import enqueue
    from ledgerline.works.tasks import generate_task

    enqueue(generate_task, str(generation.pk))


def work_request(
    *,
    organisation: Organisation,
    title: str,
    model: ModelArtifact,
    parameters: dict[str, Any],
    created_by: User | None,
    seed: int | None = None,
) -> Work:
    """One work: a generation of one."""
    generation = generation_request(
        organisation=organisation, title=title, model=model, parameters=parameters, created_by=created_by, seed=seed
    )
    return generation.works.get()


# --- the steps ---


def _advance(
    work: Work,
    expected: str,
    new: str,
    *,
    outputs: dict[str, Blob] | None = None,
    audit: dict[str, Any] | None = None,
    **fields: Any,
) -> bool:
    """Move ``work`` from ``expected`` to ``new`` with what the step made, all or nothing.
    False (and nothing written) when another worker got there first."""
    with transaction.atomic():
        locked = Work.objects.select_for_update().get(pk=work.pk)
        if locked.status != expected:
            return False
        for kind, blob in (outputs or {}).items():
            WorkOutput.objects.create(work=locked, kind=kind, blob=blob, media_type=MEDIA[kind])
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.status = new
        locked.save()
        audit_append(organisation=locked.organisation, actor=None, action=f"work.{new}", obj=locked, data=audit or {})
    for name, value in {**fields, "status": new}.items():
        setattr(work, name, value)
    return True


def _blob_put(data: bytes) -> Blob:
    return blob_store(io.BytesIO(data))


def _output(work: Work, kind: str) -> bytes:
    blob = work.outputs.get(kind=kind).blob
    return blob_path(blob.sha256).read_bytes()


def model_folder(artifact: ModelArtifact) -> Path:
    """The model's checkpoint folder, from this machine or else fetched from IPFS by its CID,
    and used only if it verifies against its model-signing signature."""
    from ledgerline.storage.client import ipfs_connect
    from ledgerline.training.services import run_folder
    from ledgerline.training.signing import folder_verify
    from ledgerline_verify.unixfs import CID

    folder = run_folder(artifact.run) / "train" / "checkpoint"
    if not folder.is_dir():
        folder = Path(settings.LEDGERLINE_RUNS_DIR) / "models" / artifact.blob.sha256
        if not folder.is_dir():
            if not artifact.cid:
                raise LedgerlineError(f"The model {artifact.name} has no checkpoint here and none pinned.")
            ipfs = ipfs_connect()
            folder.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=folder.parent))
            for link in ipfs.listing(CID.parse(artifact.cid)) or []:
                (staging / link.name).write_bytes(b"".join(ipfs.read(link.cid)))
            try:
                staging.rename(folder)  # whole or not at all; a process that got there first wins
            except OSError:
                shutil.rmtree(staging)
    key = SigningKey.objects.filter(key_id=artifact.key_id).first()
    if key is None:
        raise LedgerlineError(f"The model {artifact.name} is not signed; it cannot be used to generate.")
    problem = folder_verify(folder, public_key_pem=key.public_key_pem, bundle=artifact.signature)
    if problem:
        raise LedgerlineError(f"The model {artifact.name} does not match its signature: {problem}")
    return folder


@dataclass(frozen=True)
class SoundDesign:
    """A sound model with the sounds it was trained on: what interpolation picks from."""

    model: Any  # generation.audio.generate.SoundModel
    sounds: Any  # generation.audio.dataset.SoundSet


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def work_generate(*, work: Work, model: Any) -> None:
    """requested -> generated. A symbolic model samples MIDI, rendered to WAV; a sound model
    interpolates between two of its sounds (or samples its prior) straight to WAV."""
    made, originality, provenance = work_outputs_make(work=work, model=model)
    outputs = {kind: _blob_put(data) for kind, data in made.items()}
    _advance(
        work,
        WorkStatus.REQUESTED,
        WorkStatus.GENERATED,
        outputs=outputs,
        originality=originality,
        provenance=provenance,
        audit={kind: blob.sha256 for kind, blob in outputs.items()},
    )


def work_outputs_make(*, work: Work, model: Any) -> tuple[dict[str, bytes], dict[str, Any], dict[str, Any]]:
    """What the model makes for the work's seed and parameters: its outputs by kind (midi, wav),
    the originality report and the sampler's provenance. The same every time: regeneration
    compares it with what was minted."""
    if isinstance(model, SoundDesign):
        sounds, parameters = model.sounds, work.parameters
        if "between" in parameters:
            count = work.generation.count if work.generation else 1
            ratio = parameters["ratio"] if count == 1 else work.index / (count - 1)
            sound = model.model.interpolate(sounds, parameters["between"], ratio, rate=parameters["rate"])
        else:
            sound = model.model.prior(1, seed=work.seed, rate=parameters["rate"])[0]
        return {"wav": sound.wav}, {}, sound.provenance
    from generation.sample import SampleParams, sample
    from ledgerline.works.render import midi_render, renderer

    sampling = {k: work.parameters[k] for k in SAMPLING if k in work.parameters}
    if "primer" in work.parameters:
        sampling["primer"] = str(blob_path(work.parameters["primer"]))
    output = sample(model, SampleParams(seed=work.seed, count=1, **sampling), device=_device())[0]
    made = {"midi": output.midi, "wav": midi_render(output.midi)}
    return made, output.originality or {}, {**output.provenance, "renderer": renderer()}


def model_load(artifact: ModelArtifact) -> Any:
    """The verified checkpoint, opened for generation: a symbolic Checkpoint or a SoundModel
    with its training sounds."""
    folder = model_folder(artifact)
    if artifact.run.config.get("model") == "audio":
        from generation.audio.dataset import SoundSet
        from generation.audio.generate import SoundModel
        from generation.audio.train import AudioCheckpoint

        return SoundDesign(SoundModel(AudioCheckpoint(folder)), SoundSet.load(folder))
    from generation.checkpoint import Checkpoint

    return Checkpoint.open(folder)


def work_check(*, work: Work) -> None:
    """generated -> checked, or held when the melody copies a training piece past the limit."""
    limit = int(work.parameters.get("originality_max_run", settings.LEDGERLINE_ORIGINALITY_MAX_RUN))
    run = int(work.originality.get("longest_melody_run", 0))
    if run > limit:
        reason = (
            f"Held back from minting: its melody repeats {run} intervals of a training piece verbatim "
            f"(the limit is {limit})."
        )
        _advance(work, WorkStatus.GENERATED, WorkStatus.HELD, error=reason, audit={"reason": reason})
    else:
        _advance(work, WorkStatus.GENERATED, WorkStatus.CHECKED, audit={"longest_melody_run": run, "limit": limit})


def work_sign(*, work: Work) -> None:
    """checked -> signed: C2PA credentials embedded in the WAV, and the signed manifest."""
    from ledgerline.works.credentials import wav_sign

    key = signing_key_active(organisation=work.organisation)
    lineage = _lineage(work)
    licence_require(run=work.model.run, parameters=work.parameters)
    audio = wav_sign(_output(work, "wav"), definition=_c2pa_definition(work, lineage), signing_key=key)
    fault_point("work_sign")
    audio_blob = _blob_put(audio)
    outputs: list[dict[str, Any]] = [
        {"kind": o.kind, "media_type": o.media_type, "sha256": o.blob.sha256, "size": o.blob.size}
        for o in work.outputs.select_related("blob")
    ]
    outputs.append(
        {"kind": "audio", "media_type": MEDIA["audio"], "sha256": audio_blob.sha256, "size": audio_blob.size}
    )
    manifest = {
        "spec": SPEC,
        "work": {"id": str(work.pk), "title": work.title, "created_at": work.created_at.isoformat()},
        "organisation": {
            "id": str(work.organisation_id),
            "slug": work.organisation.slug,
            "name": work.organisation.name,
        },
        "content_sha256": audio_blob.sha256,
        "outputs": sorted(outputs, key=lambda o: str(o["kind"])),
        "model": lineage["model"],
        "datasets": lineage["datasets"],
        "generation": {
            "seed": work.seed,
            "index": work.index,
            "parameters": work.parameters,
            "generation": str(work.generation_id) if work.generation_id else None,
            "provenance": work.provenance,
        },
        "originality": {**work.originality, "limit": work.parameters.get("originality_max_run")},
        "licence": work.parameters.get("licence", "LicenseRef-All-Rights-Reserved"),
        "licence_conditions": work_conditions(work.parameters).to_json(),
        "royalties": work_split(work),
        "training_mining": lineage["consent"],
        "signed_at": timezone.now().isoformat(),
    }
    signed = manifest_sign(organisation=work.organisation, manifest=manifest)
    _advance(
        work,
        WorkStatus.CHECKED,
        WorkStatus.SIGNED,
        outputs={"audio": audio_blob},
        manifest=signed,
        content_sha256=audio_blob.sha256,
        audit={
            "content_sha256": audio_blob.sha256,
            "manifest_sha256": sha256_bytes(canonical_json(manifest)),
            "key_id": signed["signature"]["key_id"],
        },
    )


def _lineage(work: Work) -> dict[str, Any]:

    artifact = work.model
    run = artifact.run
    terms = {str(v.pk): (conditions, received) for v, conditions, received in licence_data(run=run)}
    lineage = lineage_versions(run)  # its own data, then what the pretrained models it continues trained on
    versions = [line.version for line in lineage]
    inherited = {str(line.version.pk): line.via.blob.sha256 for line in lineage if line.via is not None}
    consent: dict[str, dict[str, str]] = {}
    for version in versions:  # the most restrictive of the training data's terms, use by use
        for use, entry in version.consent.items():
            if use not in consent or CONSENT_ORDER[entry["use"]] < CONSENT_ORDER[consent[use]["use"]]:
                consent[use] = entry
    return {
        "model": {
            **_model_entry(artifact),
            # The pretrained models it continues, nearest first, each with the dataset roots it was
            # anchored with: a verifier checks them against the chain and the signed checkpoints.
            "bases": [
                {**_model_entry(link.base_model), "merkle_roots": anchored_roots(link.base_model.run)}
                for link in run_chain(run)
                if link.base_model is not None
            ],
        },
        "datasets": [
            {
                "dataset_version": str(v.pk),
                "dataset": v.dataset.name,
                "number": v.number,
                "merkle_root": v.merkle_root,
                "licence": v.licence_spdx or v.licence_terms,
                # What the work's licence was checked against, so a verifier can check it again.
                "licence_conditions": _conditions_json(terms[str(v.pk)][0]),
                "revenue_received": str(terms[str(v.pk)][1]),  # an exact fraction: "3/10"
                "rights": v.rights,
                "inherited_from": inherited.get(str(v.pk)),  # the base model's weights, if not its own
            }
            for v in versions
        ],
        "consent": consent,
    }


def _model_entry(artifact: ModelArtifact) -> dict[str, Any]:
    run = artifact.run
    return {
        "id": str(artifact.pk),
        "weights_sha256": artifact.blob.sha256,
        "cid": artifact.cid,
        "signature": {
            "format": "model-signing/v1.0 sigstore bundle",
            "key_id": artifact.key_id,
            "sha256": sha256_bytes(canonical_json(artifact.signature)),
        },
        "anchored_at": artifact.anchored_at,
        "training_run": str(run.pk),
        "excluded_files": len(run.excluded),
    }


def _conditions_json(conditions: Any) -> dict[str, Any] | None:
    return conditions.to_json() if conditions is not None else None


def _c2pa_definition(work: Work, lineage: dict[str, Any]) -> dict[str, Any]:
    from ledgerline.works.credentials import TRAINED_ALGORITHMIC_MEDIA

    model = lineage["model"]
    ingredients = [  # the model, then the pretrained models it continues
        {
            "title": f"model {base['weights_sha256'][:12]}",
            "format": "application/octet-stream",
            "relationship": "inputTo",
            "instance_id": f"sha256:{base['weights_sha256']}",
            "metadata": {"ledgerline": {"cid": base["cid"], "signature_key": base["signature"]["key_id"]}},
        }
        for base in [model, *model["bases"]]
    ]
    ingredients += [
        {
            "title": f"{d['dataset']} v{d['number']}",
            "format": "application/json",
            "relationship": "inputTo",
            "instance_id": f"merkle:{d['merkle_root']}",
        }
        for d in lineage["datasets"]
    ]
    return {
        "claim_generator_info": [{"name": "Ledgerline", "version": "1"}],
        "title": FILES["audio"],
        "format": MEDIA["audio"],
        "ingredients": ingredients,
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                            "softwareAgent": {"name": "Ledgerline", "version": "1"},
                            "parameters": {"seed": work.seed, "model_sha256": model["weights_sha256"]},
                        }
                    ]
                },
            },
            {"label": "cawg.training-mining", "data": {"entries": lineage["consent"]}},
        ],
    }


def work_pin(*, work: Work) -> None:
    """signed -> pinned: the audio, the MIDI if any and the signed manifest as one IPFS folder."""
    from ledgerline.storage.client import ipfs_connect

    files = {FILES["audio"]: _output(work, "audio"), "manifest.json": canonical_json(work.manifest)}
    if work.outputs.filter(kind="midi").exists():
        files[FILES["midi"]] = _output(work, "midi")
    added = ipfs_connect().add_directory(files, name=f"work {work.pk}")
    fault_point("work_pin")
    _advance(work, WorkStatus.SIGNED, WorkStatus.PINNED, cid=str(added.cid), audit={"cid": str(added.cid)})


def _token_metadata(work: Work) -> dict[str, Any]:
    """ERC-721 metadata JSON for the work's token."""
    return {
        "name": work.title,
        "description": f"Generated by {work.organisation.name} with Ledgerline; provenance in the signed manifest.",
        "animation_url": f"ipfs://{work.cid}/{FILES['audio']}",
        "external_url": f"{settings.SITE_URL.rstrip('/')}/api/v1/works/{work.pk}/",
        "content_sha256": work.content_sha256,
        "manifest": f"ipfs://{work.cid}/manifest.json",
        "attributes": [
            {"trait_type": "model", "value": work.model.blob.sha256},
            {"trait_type": "seed", "value": work.seed},
        ],
    }


def works_mint(*, works: list[Work]) -> None:
    """pinned -> minted, in batches of LEDGERLINE_MINT_BATCH works per transaction. The metadata
    folder holds <tokenId>.json for the ids the chain is expected to give; if another minter took
    them first, confirmation finds out and repoints the batch (`_batch_metadata_repair`)."""
    from ledgerline.ledger.client import Ledger, with_retries
    from ledgerline.ledger.services import MINT_BATCH, contents_mint, transactions_resume, works_contract
    from ledgerline.storage.client import ipfs_connect

    if not works:
        return
    ledger = Ledger.connect()
    transactions_resume(ledger=ledger)  # a mint sent before a crash settles first
    for organisation in {w.organisation for w in works}:  # so anyone can check the manifests' signatures
        signing_keys_publish(organisation=organisation)
    contract = works_contract(ledger=ledger)
    ipfs = ipfs_connect()
    size = min(settings.LEDGERLINE_MINT_BATCH, MINT_BATCH)  # one transaction per batch
    # A batch has one ERC-2981 royalty: the works' signed manifests say which.
    batches = []
    for bps in sorted({_resale_bps(w) for w in works}):
        same = [w for w in works if _resale_bps(w) == bps]
        batches += [(bps, same[start : start + size]) for start in range(0, len(same), size)]
    for bps, batch in batches:
        first = with_retries(contract.functions.totalMinted().call, what="token count") + 1
        new = [
            w
            for w in batch
            if not with_retries(
                contract.functions.tokenOfContent(bytes.fromhex(w.content_sha256)).call, what="token lookup"
            )
        ]
        folder = {f"{first + i}.json": canonical_json(_token_metadata(w)) for i, w in enumerate(new)}
        metadata_cid = str(ipfs.add_directory(folder, name="token metadata").cid) if folder else "unused"
        fault_point("before_mint")
        tokens = contents_mint(
            ledger=ledger,
            content_hashes=[w.content_sha256 for w in batch],
            metadata_cid=metadata_cid,
            to=ledger.account.address,
            royalty_receiver=ledger.account.address,  # Ledgerline collects and pays out by statement
            royalty_bps=bps,
        )
        fault_point("after_mint")
        by_hash = {t.content_sha256: t for t in tokens}
        for work in batch:
            token = by_hash[work.content_sha256]
            _advance(
                work,
                WorkStatus.PINNED,
                WorkStatus.MINTED,
                token=token,
                audit={"token_id": token.token_id, "contract": token.contract, "chain_id": token.chain_id},
            )


def _resale_bps(work: Work) -> int:
    royalties = work.manifest.get("manifest", {}).get("royalties")
    return int(royalties["resale_bps"]) if royalties else 0


def work_confirm(*, work: Work) -> None:
    """minted -> confirmed, once the chain and IPFS say what the database says: the token is
    this content's, and its metadata, read back through its tokenURI, points at this work."""
    from ledgerline.ledger.client import Ledger, with_retries
    from ledgerline.ledger.services import works_contract
    from ledgerline.storage.client import ipfs_connect
    from ledgerline_verify import bounded_json
    from ledgerline_verify.unixfs import CID

    assert work.token is not None
    ledger = Ledger.connect()
    contract = works_contract(ledger=ledger)
    token_id = work.token.token_id
    content = bytes.fromhex(work.content_sha256)
    if not with_retries(contract.functions.isContentOf(token_id, content).call, what="content check"):
        raise LedgerlineError(f"Token {token_id} does not hold the content of work {work.pk} on chain.")
    ipfs = ipfs_connect()

    def described() -> tuple[str, bool]:
        uri = with_retries(contract.functions.tokenURI(token_id).call, what="token URI")
        folder, _, name = uri.removeprefix("ipfs://").partition("/")
        try:
            metadata = bounded_json.loads(b"".join(ipfs.read(ipfs.resolve(CID.parse(folder), name))))
        except (FileNotFoundError, LookupError, ValueError):
            return uri, False
        if not isinstance(metadata, dict):
            return uri, False
        return uri, (metadata.get("content_sha256"), metadata.get("manifest")) == (
            work.content_sha256,
            f"ipfs://{work.cid}/manifest.json",
        )

    uri, ok = described()
    if not ok:  # another minter took the ids this batch's folder was made for, or a crash came between
        _batch_metadata_repair(ledger, contract, token_id)
        uri, ok = described()
    if not ok:
        raise LedgerlineError(f"The metadata of token {token_id} ({uri}) does not describe work {work.pk}.")
    _advance(work, WorkStatus.MINTED, WorkStatus.CONFIRMED, audit={"token_uri": uri})
    _fingerprint(work)


def _fingerprint(work: Work) -> None:
    """Index a confirmed work so that copies of it (re-encoded, trimmed, transposed) are found."""
    from ledgerline.audit.services import work_fingerprint_index
    from ledgerline_verify.fingerprint import Unreadable

    try:
        work_fingerprint_index(work=work)
    except Unreadable as exc:  # the work stays confirmed; `manage.py verify --index` tries again
        logger.warning("work %s could not be fingerprinted: %s", work.pk, exc)


def _batch_metadata_repair(ledger: Any, contract: Any, token_id: int) -> None:
    """Point the batch holding ``token_id`` at a folder made from what the database knows of each
    of its tokens (ERC-4906 tells indexers to refetch)."""
    from ledgerline.ledger.client import with_retries
    from ledgerline.ledger.services import batch_metadata_set
    from ledgerline.storage.client import ipfs_connect

    _, batch = with_retries(contract.functions.batchOf(token_id).call, what="batch lookup")
    first, count = int(batch[3]), int(batch[4])
    works = Work.objects.filter(
        token__chain_id=ledger.chain_id,
        token__contract=contract.address,
        token__token_id__range=(first, first + count - 1),
    ).select_related("token", "model__blob")
    files = {f"{w.token.token_id}.json": canonical_json(_token_metadata(w)) for w in works if w.token}
    fixed = str(ipfs_connect().add_directory(files, name="token metadata").cid)
    logger.warning("batch of token %s: metadata folder %s replaced by %s", token_id, batch[5], fixed)
    batch_metadata_set(ledger=ledger, token_id=token_id, metadata_cid=fixed)


# --- driving them ---


def works_generate(*, generation: Generation) -> int:
    """Generate every work of ``generation`` still waiting; returns how many were made."""
    with exclusive(Path(settings.LEDGERLINE_RUNS_DIR) / "generations" / f"{generation.pk}.lock") as mine:
        pending = list(generation.works.filter(status=WorkStatus.REQUESTED).order_by("index")) if mine else []
        if not pending:
            return 0
        try:
            model = model_load(generation.model)
        except (ChainUnavailable, IpfsUnavailable):
            raise
        except LedgerlineError as exc:
            for work in pending:
                _advance(
                    work, WorkStatus.REQUESTED, WorkStatus.FAILED, error=exc.message, audit={"reason": exc.message}
                )
            return 0
        for work in pending:
            _guarded(work, partial(work_generate, model=model))
        return len(pending)


def _guarded(work: Work, step: Any, *, fail: bool = True) -> None:
    """Run one work's step; a fault of that work alone (not a node that is down, which the task
    retries) ends it as failed with the reason, or, ``fail=False``, is recorded and left for the
    next run, so one bad work never holds up the others."""
    try:
        step(work=work)
    except (ChainUnavailable, IpfsUnavailable):
        raise
    except (LedgerlineError, ValueError, OSError) as exc:
        reason = exc.message if isinstance(exc, LedgerlineError) else f"{type(exc).__name__}: {exc}"
        logger.warning("work %s, %s: %s", work.pk, getattr(step, "__name__", "generate"), reason)
        if fail:
            _advance(work, work.status, WorkStatus.FAILED, error=reason[:2000], audit={"reason": reason[:2000]})
        else:
            Work.objects.filter(pk=work.pk).update(error=reason[:2000], updated_at=timezone.now())


def works_advance(*, works: Any = None) -> dict[str, int]:
    """Take every active work past `generated` as far as it goes: check, sign, pin, mint in
    batches, confirm. Safe to run at any time, twice, or in two workers; returns the counts."""
    works = works if works is not None else Work.objects.all()
    works = works.select_related("organisation", "model__blob", "model__run", "token")
    for status, step in (
        (WorkStatus.GENERATED, work_check),
        (WorkStatus.CHECKED, work_sign),
        (WorkStatus.SIGNED, work_pin),
    ):
        for work in works.filter(status=status).order_by("created_at", "index"):
            _guarded(work, step)
    works_mint(works=list(works.filter(status=WorkStatus.PINNED).order_by("created_at", "index")))
    for work in works.filter(status=WorkStatus.MINTED).order_by("created_at", "index"):
        _guarded(work, work_confirm, fail=False)
    # Released: each gets the next ISRC of its organisation's registrant code, once there is one.
    for work in works.filter(status=WorkStatus.CONFIRMED, isrc__isnull=True, organisation__registrant__isnull=False):
        _guarded(work, isrc_assign, fail=False)
    counts: dict[str, int] = {}
    for status in works.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def generation_progress(generation: Generation) -> dict[str, int]:
    counts = {status: 0 for status in WorkStatus.values}
    for status in generation.works.values_list("status", flat=True):
        counts[status] += 1
    return counts
