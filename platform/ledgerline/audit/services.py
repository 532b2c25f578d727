"""Verification on the platform: the independent verifier's checks (ledgerline_verify) against
this deployment's chain and IPFS node, and what only the platform can add: whether its own
database still agrees with them, the full lineage for the work's organisation, copies found by
their fingerprint, and regeneration on a worker."""

import logging
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from ledgerline.audit.models import AudioLandmark, NoteGram, Verification
from ledgerline.datasets.blobs import blob_file
from ledgerline.datasets.models import VersionEntry
from ledgerline.datasets.selectors import version_file_proof
from ledgerline.errors import LedgerlineError, TooLarge
from ledgerline.ledger.client import Ledger
from ledgerline.ledger.models import Token
from ledgerline.ledger.services import contract_address
from ledgerline.provenance import keys
from ledgerline.provenance.canonical import canonical_json
from ledgerline.provenance.models import AuditEntry, SigningKey
from ledgerline.queue import enqueue
from ledgerline.storage.client import IpfsUnavailable, ipfs_connect
from ledgerline.training.checkpoints import model_load
from ledgerline.training.selectors import lineage_versions
from ledgerline.works.marks import wav_mark
from ledgerline.works.models import Work, WorkOutput, WorkStatus
from ledgerline.works.steps import work_outputs_make
from ledgerline_verify import fingerprint
from ledgerline_verify.chain import Chain
from ledgerline_verify.checks import (
    FAIL,
    FAILED,
    PASS,
    Broken,
    Check,
    Run,
    Subject,
    Verdict,
    Verifier,
    decide,
    sha256_hex,
    sniff,
)
from ledgerline_verify.ipfs import BlockMissing, BlockSource, Ipfs, IpfsUnreachable
from ledgerline_verify.training_data import training_data
from ledgerline_verify.unixfs import CID

logger = logging.getLogger(__name__)
CHUNK = 500  # values per IN (...) query: SQLite's limit on variables is far above it
PUBLIC_KEYS = ("verdict", "summary", "broken_link", "subject", "checks")
TRAINING_DATA_MAX = 20  # dataset versions reported for one file


class RegenerationRefused(LedgerlineError):
    status = 403
    code = "forbidden"


def platform_chain() -> Chain:
    """This deployment's contract, read as the verifier reads it, through its chain node."""
    ledger = Ledger.connect()
    return Chain(ledger.w3, contract_address(ledger=ledger))


def platform_verifier() -> Verifier:
    """The verifier on this deployment's chain node and IPFS node."""
    return Verifier(chain=platform_chain(), ipfs=Ipfs(_blocks()))


def _blocks() -> BlockSource:
    """Blocks from this deployment's node, its errors told in the verifier's terms."""
    node = ipfs_connect()

    def get(cid: CID) -> bytes:
        try:
            return node.block(cid)
        except IpfsUnavailable as exc:
            raise IpfsUnreachable(exc.message) from None
        except FileNotFoundError as exc:
            raise BlockMissing(str(exc)) from None

    return get


# --- one verification ---


def verification_file_read(upload: UploadedFile) -> bytes:
    """The bytes of a file handed in to be verified (it is checked in memory), or TooLarge."""
    limit = settings.LEDGERLINE_VERIFY_MAX_BYTES
    if (upload.size or 0) > limit:
        raise TooLarge(
            f"A file over {limit:,} bytes is not verified here; for a larger one, run "
            "python -m ledgerline_verify on your own machine."
        )
    return upload.read()


def verification_create(
    *, subject: Subject, kind: str, user: User | None, regenerate: bool = False, member_of: list[Any] | None = None
) -> Verification:
    """Verify ``subject`` and record the verdict. ``regenerate`` re-runs the model on a worker
    (members of the work's organisation only: it costs a GPU)."""
    verifier = platform_verifier()
    if subject.data is not None and sniff(subject.data) == "audio/midi" and subject.token_id is None:
        subject.token_id = _token_of_score(subject.data)
    verdict = verifier.verify(subject, extra=_database_check)
    work = _work_of(verdict)
    if work is None and verdict.match is not None and verdict.match.get("token_id") is not None:
        work = _token_work(verdict.subject["contract"], verdict.match["token_id"])[1]  # a copy its watermark names
        if work is not None:
            verdict.match["work"] = str(work.pk)
    elif work is None and subject.data is not None and verdict.subject.get("token_id") is None:
        work = _near_match(verifier, subject.data, verdict)
    training = _training_data(verifier, subject.data) if work is None and subject.data is not None else []
    if training and verdict.match is None:
        checked = sum(1 for entry in training if entry["match"]["proof_verified"])
        verdict.summary = (
            f"{verdict.summary} It is registered training data: a file of {len(training)} dataset version(s), "
            f"its inclusion proof checked in {checked} (see training_data)."
        )
    result = verdict.to_json()
    if training:
        result["training_data"] = training
    if work is not None:
        result["lineage"] = _lineage(work)
    database = verdict.check("database")
    if database is not None and database.status == FAIL:  # the public's verdict rests on the chain and IPFS alone
        others = [c for c in verdict.checks if c.link != "database"]
        public, summary = decide(
            others,
            registered=True,
            unregistered="",
            token=f"token {verdict.subject['token_id']} on {verdict.subject['contract']}",
        )
        broken = next((c.link for c in others if c.status == FAIL), None)
        result["public"] = {"verdict": public, "summary": summary, "broken_link": broken}
    if regenerate and (work is None or work.organisation_id not in (member_of or [])):
        raise RegenerationRefused(
            "Regeneration re-runs the model on a GPU worker: it is for members of the work's "
            "organisation, on a registered work."
        )
    with transaction.atomic():
        verification = Verification.objects.create(
            requested_by=user,
            organisation=work.organisation if work else None,
            work=work,
            subject_kind=kind,
            subject_sha256=verdict.subject.get("sha256") or verdict.subject.get("content_sha256") or "",
            verdict=verdict.verdict,
            result=result,
            regeneration={"status": "queued"} if regenerate else {},
        )
        if regenerate:
            transaction.on_commit(lambda: _enqueue_regeneration(verification))
    return verification


def _training_data(verifier: Verifier, data: bytes) -> list[dict[str, Any]]:
    """Each dataset version (of any organisation) that holds this file, with its inclusion proof
    checked as an auditor's tool checks it and what the chain says of its root. Who may see
    what is decided when the verdict is read (verification_view)."""
    entries = VersionEntry.objects.filter(sha256=sha256_hex(data)).select_related("version__dataset")
    found = []
    for entry in entries.order_by("version__dataset__name", "version__number")[:TRAINING_DATA_MAX]:
        proof = version_file_proof(version=entry.version, sha256=entry.sha256).as_dict()
        match = training_data(data, proof, chain=verifier.chain)
        # Its owner published it when a model trained on this version was anchored: a root alone
        # is not enough (another organisation's version of the same files has the same root).
        published = entry.version.training_runs.filter(artifacts__anchored_at__isnull=False).exists()
        found.append(
            {
                "organisation": str(entry.version.dataset.organisation_id),
                "published": published,
                "match": match,
                "proof": proof,
            }
        )
    return found


def _training_data_view(entries: list[dict[str, Any]], member_of: list[Any]) -> list[dict[str, Any]]:
    """Members of the dataset's organisation see everything; the public sees a version its owner
    published (a model trained on it was anchored: the root, the dataset's name and licence are
    public in that model's manifests) with its proof, and of any other only that the file is
    registered training data, with the root, whether the proof checks and whether it is anchored."""
    shown = []
    for entry in entries:
        match = entry["match"]
        if entry["organisation"] in {str(o) for o in member_of}:
            shown.append({**match, "proof": entry["proof"], "full": True})
        elif entry.get("published") and match.get("anchored_at"):
            shown.append({**match, "proof": entry["proof"], "full": False})
        else:
            keys = ("kind", "sha256", "proof_verified", "merkle_root", "anchored_at")
            shown.append({key: match.get(key) for key in keys} | {"full": False})
    return shown


def _enqueue_regeneration(verification: Verification) -> None:
    enqueue("ledgerline.audit.regenerate", str(verification.pk))


def _token_of_score(data: bytes) -> int | None:
    """A MIDI file is not minted itself: the token of the work whose score it is, if one is."""
    output = WorkOutput.objects.filter(kind="midi", blob__sha256=sha256_hex(data)).select_related("work__token")
    first = output.first()
    return first.work.token.token_id if first and first.work.token else None


def _work_of(verdict: Verdict) -> Work | None:
    subject = verdict.subject
    if subject.get("token_id") is None:
        return None
    return _token_work(subject["contract"], subject["token_id"])[1]


def _token_work(contract: str, token_id: int) -> tuple[Token | None, Work | None]:
    """The database's record of a token on ``contract``, and of its work."""
    token = Token.objects.filter(contract=contract, token_id=token_id).first()
    if token is None:
        return None, None
    return token, Work.objects.filter(token=token).select_related("organisation", "model__run", "model__blob").first()


# --- the platform's own link: does its database agree? ---


def _database_check(run: Run) -> None:
    """A row edited behind the platform's back no longer agrees with the chain and IPFS: say so.
    The verdict never rests on the database; this only tells the platform's users it drifted."""
    if run.token_id is None or run.signed is None or run.metadata is None:
        return
    with run.link("database") as details:
        token, work = _token_work(run.chain.address, run.token_id)
        if token is None or work is None:
            raise Broken(f"Ledgerline's database has no work for token {run.token_id}: its record was removed.")
        details["work"] = str(work.pk)
        folder = str(run.metadata["manifest"]).removeprefix("ipfs://").removesuffix("/manifest.json")
        pinned = run.signed["manifest"]
        disagreements = [
            name
            for name, mine, theirs in (
                ("content_sha256", work.content_sha256, run.content),
                ("token content", token.content_sha256, run.content),
                ("cid", work.cid, folder),
                ("manifest", canonical_json(work.manifest), canonical_json(run.signed)),
                ("model weights", work.model.blob.sha256, (pinned.get("model") or {}).get("weights_sha256")),
            )
            if mine != theirs
        ]
        key = SigningKey.objects.filter(key_id=run.signed["signature"].get("key_id")).first()
        if run.key is not None and (key is None or _der(key.public_key_pem) != run.key.public_key_der):
            disagreements.append("signing key")
        if disagreements:
            raise Broken(
                f"Ledgerline's database disagrees with the chain and IPFS about work {work.pk} "
                f"(token {run.token_id}): {', '.join(disagreements)}. The verdict above rests on the chain "
                "and IPFS; the database record was changed outside the platform."
            )
        details["status"] = work.status
        details["reason"] = f"the database's record of work {work.pk} agrees with the chain and IPFS"


def _der(pem: str) -> bytes:
    return keys.public_der(keys.load_public_pem(pem))


# --- near-duplicates ---


def _chunks(values: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _near_match(verifier: Verifier, data: bytes, verdict: Verdict) -> Work | None:
    """A registered work the file is a copy of (re-encoded, trimmed, resampled; a MIDI score
    transposed or re-timed), recorded in the verdict as a match of that kind; None if none."""
    try:
        if verdict.subject.get("media_type") == "audio/midi":
            grams = fingerprint.note_grams(data)
            rows = (
                row
                for part in _chunks(sorted(grams))
                for row in NoteGram.objects.filter(hash__in=part).values_list("work_id", "hash")
            )
            match = fingerprint.note_match(grams, ((str(w), h) for w, h in rows))
            kind = "note_content"
        else:
            landmarks = fingerprint.audio_landmarks(data)
            hashes = sorted({h for h, _ in landmarks})
            found = (
                row
                for part in _chunks(hashes)
                for row in AudioLandmark.objects.filter(hash__in=part).values_list("work_id", "hash", "frame")
            )
            match = fingerprint.audio_match(landmarks, ((str(w), h, f) for w, h, f in found))
            kind = "audio_fingerprint"
    except fingerprint.Unreadable:
        return None
    if match is None:
        return None
    work = Work.objects.filter(pk=match.key).select_related("token", "organisation", "model__run").first()
    if work is None or work.token is None:
        return None
    original = verifier.verify(Subject(token_id=work.token.token_id), extra=_database_check)
    what = (
        "a transposed or re-timed copy of the score of"
        if kind == "note_content"
        else "a re-encoded, trimmed or resampled copy of"
    )
    verdict.match = {
        "kind": kind,
        "token_id": work.token.token_id,
        "work": str(work.pk),
        "score": match.score,
        "agreeing": match.agreeing,
        "offset_seconds": match.offset_seconds,
        "registered": {"verdict": original.verdict, "summary": original.summary},
    }
    note = (
        f"Not the registered bytes, but {what} token {work.token.token_id} ({match.agreeing} "
        f"{'runs of notes' if kind == 'note_content' else 'landmarks'} agree, {match.score:.0%}). The registered "
        f"work: {original.verdict}."
    )
    verdict.summary = f"{verdict.summary} {note}" if verdict.verdict == FAILED else note
    return work


def work_fingerprint_index(*, work: Work) -> None:
    """Index a confirmed work's released audio (and its score) so copies of it can be found."""
    outputs = {o.kind: o for o in work.outputs.select_related("blob")}
    audio = outputs.get("audio")
    landmarks = fingerprint.audio_landmarks(blob_file(audio.blob.sha256).read_bytes()) if audio else []
    grams = fingerprint.note_grams(blob_file(outputs["midi"].blob.sha256).read_bytes()) if "midi" in outputs else set()
    with transaction.atomic():
        Work.objects.select_for_update().filter(pk=work.pk).first()  # two indexers of one work: one at a time
        AudioLandmark.objects.filter(work=work).delete()
        NoteGram.objects.filter(work=work).delete()
        AudioLandmark.objects.bulk_create(
            [AudioLandmark(work=work, hash=h, frame=f) for h, f in landmarks], batch_size=2000
        )
        NoteGram.objects.bulk_create([NoteGram(work=work, hash=g) for g in grams], batch_size=2000)


def works_fingerprint_index() -> int:
    """Index every confirmed work (those confirmed before the index existed); how many."""
    works = list(Work.objects.filter(status=WorkStatus.CONFIRMED))
    for work in works:
        work_fingerprint_index(work=work)
    return len(works)


# --- what each reader sees ---


def _lineage(work: Work) -> dict[str, Any]:
    """What only the platform knows of a work: for members of its organisation."""
    run = work.model.run
    return {
        "work": {
            "id": str(work.pk),
            "title": work.title,
            "status": work.status,
            "created_at": work.created_at,
            "generation": str(work.generation_id) if work.generation_id else None,
            "seed": work.seed,
        },
        "organisation": {"slug": work.organisation.slug, "name": work.organisation.name},
        "training_run": {
            "id": str(run.pk),
            "name": run.name,
            "config": run.config,
            "code_version": run.code_version,
            "excluded": run.excluded,
            "finished_at": run.finished_at,
            "base_model": str(run.base_model_id) if run.base_model_id else None,
        },
        "datasets": [
            {
                "id": str(v.pk),
                "dataset": v.dataset.name,
                "number": v.number,
                "merkle_root": v.merkle_root,
                "files": v.file_count,
                "licence": v.licence_spdx or v.licence_terms,
                "inherited_from": str(via.pk) if via is not None else None,
            }
            for v, via in ((line.version, line.via) for line in lineage_versions(run))
        ],
        "audit_log": [
            {"seq": e.seq, "action": e.action, "created_at": e.created_at}
            for e in AuditEntry.objects.filter(object_id=str(work.pk)).order_by("seq")
        ],
    }


def verification_view(verification: Verification, *, member_of: list[Any]) -> dict[str, Any]:
    """The report as this reader may see it: the public verdict for anyone, the manifest, the
    database link and the lineage for members of the work's organisation."""
    full = verification.organisation_id is not None and verification.organisation_id in member_of
    result = verification.result
    view: dict[str, Any] = {"id": str(verification.pk), "created_at": verification.created_at.isoformat(), "full": full}
    if full:
        view.update(result)
    else:
        view.update({key: result.get(key) for key in PUBLIC_KEYS})
        view.update(result.get("public") or {})
        view["checks"] = [c for c in result.get("checks", []) if c["link"] != "database"]
        match = result.get("match")
        view["match"] = {k: v for k, v in match.items() if k != "work"} if match else None
    view.pop("training_data", None)
    if result.get("training_data"):
        view["training_data"] = _training_data_view(result["training_data"], member_of)
    if verification.regeneration:
        view["regeneration"] = verification.regeneration
    return view


# --- regeneration ---


def _marked_again(made: dict[str, bytes], manifest: dict[str, Any]) -> dict[str, bytes]:
    """The regenerated render with the work's watermark written in again, as "marked" (compared
    with the manifest's marked_sha256): the released sound is the render and its mark, nothing else."""
    entry = manifest.get("watermark")
    if not entry or "wav" not in made:
        return {}
    return {"marked": wav_mark(made["wav"], bytes.fromhex(entry["payload"]))}


def _marked_expected(manifest: dict[str, Any]) -> dict[str, str]:
    entry = manifest.get("watermark")
    return {"marked": entry["marked_sha256"]} if entry else {}


def verification_regenerate(*, verification: Verification) -> Verification:
    """Re-run the work's model with its recorded seed and parameters and compare what it makes,
    byte for byte, with the outputs its signed manifest lists. A mismatch breaks the verdict."""
    work = verification.work
    signed = verification.result.get("manifest") or {}
    expected = {o["kind"]: o["sha256"] for o in (signed.get("manifest") or {}).get("outputs", [])}
    if work is None or not expected:
        check = Check("regeneration", "unknown", "No registered work with a signed manifest to regenerate.")
    else:
        try:
            made, _, _ = work_outputs_make(work=work, model=model_load(work.model))
        except LedgerlineError as exc:
            check = Check("regeneration", FAIL, f"The model could not be run again: {exc.message}")
        else:
            made = {**made, **_marked_again(made, signed.get("manifest") or {})}
            expected.update(_marked_expected(signed.get("manifest") or {}))
            compared = {kind: sha256_hex(data) == expected.get(kind) for kind, data in made.items()}
            details = {
                "compared": {
                    kind: {"made": sha256_hex(data), "signed": expected.get(kind)} for kind, data in made.items()
                }
            }
            if all(compared.values()):
                check = Check(
                    "regeneration",
                    PASS,
                    f"Run again with seed {work.seed}, the model made the same "
                    f"{' and '.join(sorted(made))} byte for byte.",
                    details,
                )
            else:
                differ = sorted(kind for kind, same in compared.items() if not same)
                check = Check(
                    "regeneration",
                    FAIL,
                    f"Run again with seed {work.seed}, the model made a different "
                    f"{' and '.join(differ)} than the signed manifest lists.",
                    details,
                )
    with transaction.atomic():
        verification = Verification.objects.select_for_update().get(pk=verification.pk)
        result = dict(verification.result)
        result["checks"] = [c for c in result.get("checks", []) if c["link"] != "regeneration"]
        result["checks"].append(
            {"link": check.link, "status": check.status, "reason": check.reason, "details": check.details}
        )
        if check.status == FAIL and result.get("verdict") != FAILED:
            result.update(
                verdict=FAILED, broken_link="regeneration", summary=f"Broken at the regeneration link: {check.reason}"
            )
        verification.result, verification.verdict = result, result["verdict"]
        verification.regeneration = {"status": check.status, "reason": check.reason}
        verification.save(update_fields=["result", "verdict", "regeneration", "updated_at"])
    return verification
