"""Works, from generated to confirmed. Each step moves a work one status on and records what it
made in the same transaction (works.transitions), under a row lock that re-reads the status: a step that
dies half-way leaves the work where it was, and a step run twice, or by two workers at once, takes
effect once. Minting asks the chain first (ledger.contents_mint), so a mint sent before a crash is
never sent again as a new one (works.minting). The pipeline (ledgerline.pipeline) drives them.

    requested -> generated -> checked -> signed -> pinned -> minted -> confirmed
                               `-> held (originality over the limit: shown, not minted)
"""

from typing import Any

from django.conf import settings

from generation.family import Request
from ledgerline.datasets.blobs import blob_file
from ledgerline.errors import LedgerlineError
from ledgerline.faults import fault_point
from ledgerline.ledger.client import Ledger, with_retries
from ledgerline.ledger.services import works_contract
from ledgerline.provenance.canonical import canonical_json
from ledgerline.provenance.hashing import sha256_bytes
from ledgerline.provenance.services import manifest_sign, signing_key_active
from ledgerline.storage.client import ipfs_connect
from ledgerline.storage.shared import content_published
from ledgerline.training.config import family_of
from ledgerline.works.credentials import wav_sign
from ledgerline.works.manifest import FILES, Terms, c2pa_definition, work_lineage, work_manifest
from ledgerline.works.marks import watermark_entry, wav_mark, work_mark
from ledgerline.works.minting import batch_metadata_repair
from ledgerline.works.models import Work, WorkStatus
from ledgerline.works.render import midi_render, renderer
from ledgerline.works.transitions import advance, blob_put, output_bytes
from ledgerline_verify import bounded_json
from ledgerline_verify.unixfs import CID


def work_generate(*, work: Work, model: Any) -> None:
    """requested -> generated: the outputs the model's family makes for the work (``model`` is the
    family's loaded checkpoint, training.checkpoints.model_load)."""
    made, originality, provenance = work_outputs_make(work=work, model=model)
    outputs = {kind: blob_put(data) for kind, data in made.items()}
    advance(
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
    the originality report and its provenance. MIDI is rendered to WAV here, by the renderer the
    provenance names (a work made before is rendered again as it was). The same every time:
    regeneration compares it with what was minted."""
    request = Request(
        seed=work.seed,
        index=work.index,
        count=work.generation.count if work.generation else 1,
        parameters=work.parameters,
        file=lambda sha256: blob_file(sha256),
    )
    made = family_of(work.model.run.config).generate(model, request)
    outputs, provenance = dict(made.outputs), dict(made.provenance)
    if not outputs or set(outputs) - {"midi", "wav"}:
        kinds = ", ".join(sorted(outputs)) or "none"
        raise LedgerlineError(f"The model made outputs of kind {kinds}; a family makes midi, wav or both.")
    if "wav" not in outputs:
        recorded = work.provenance.get("renderer") if work.provenance else None
        outputs["wav"] = midi_render(outputs["midi"], recorded)
        provenance["renderer"] = recorded or renderer()
    return outputs, dict(made.originality), provenance


def work_check(*, work: Work) -> None:
    """generated -> checked, or held when the melody copies a training piece past the limit."""
    limit = int(work.parameters.get("originality_max_run", settings.LEDGERLINE_ORIGINALITY_MAX_RUN))
    run = int(work.originality.get("longest_melody_run", 0))
    if run > limit:
        reason = (
            f"Held back from minting: its melody repeats {run} intervals of a training piece verbatim "
            f"(the limit is {limit})."
        )
        advance(work, WorkStatus.GENERATED, WorkStatus.HELD, error=reason, audit={"reason": reason})
    else:
        advance(work, WorkStatus.GENERATED, WorkStatus.CHECKED, audit={"longest_melody_run": run, "limit": limit})


def work_sign(*, work: Work, terms: Terms, royalties: dict[str, Any]) -> None:
    """checked -> signed: the work's watermark written into the rendered WAV, C2PA credentials
    embedded in it, and the signed manifest. ``terms``
    are the licence terms of the model's data and ``royalties`` the work's split (both of
    royalties, handed in by the pipeline)."""
    key = signing_key_active(organisation=work.organisation)
    lineage = work_lineage(work, terms=terms)
    unmarked = output_bytes(work, "wav")
    mark = work_mark(work)
    marked = wav_mark(unmarked, mark)
    watermark = watermark_entry(mark=mark, unmarked=unmarked, marked=marked)
    audio = wav_sign(marked, definition=c2pa_definition(work, lineage, watermark), signing_key=key)
    fault_point("work_sign")
    audio_blob = blob_put(audio)
    manifest = work_manifest(work, audio=audio_blob, lineage=lineage, royalties=royalties, watermark=watermark)
    signed = manifest_sign(organisation=work.organisation, manifest=manifest)
    advance(
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


def work_pin(*, work: Work) -> None:
    """signed -> pinned: the audio, the MIDI if any and the signed manifest as one IPFS folder."""
    files = {FILES["audio"]: output_bytes(work, "audio"), "manifest.json": canonical_json(work.manifest)}
    if work.outputs.filter(kind="midi").exists():
        files[FILES["midi"]] = output_bytes(work, "midi")
    added = ipfs_connect().add_directory(files, name=f"work {work.pk}")
    content_published(added.cid)
    fault_point("work_pin")
    advance(work, WorkStatus.SIGNED, WorkStatus.PINNED, cid=str(added.cid), audit={"cid": str(added.cid)})


def work_confirm(*, work: Work) -> None:
    """minted -> confirmed, once the chain and IPFS say what the database says: the token is
    this content's, and its metadata, read back through its tokenURI, points at this work."""
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
        batch_metadata_repair(ledger, contract, token_id)
        uri, ok = described()
    if not ok:
        raise LedgerlineError(f"The metadata of token {token_id} ({uri}) does not describe work {work.pk}.")
    advance(work, WorkStatus.MINTED, WorkStatus.CONFIRMED, audit={"token_uri": uri})
