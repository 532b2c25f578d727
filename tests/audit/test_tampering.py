"""The tamper suite on the embedded chain and IPFS: each kind of tampering is caught at its link,
with its reason, by the platform (the API) and by the verifier's engine reading the chain and
IPFS alone. (tests/audit/test_independent.py runs the same against anvil and js-ipfs, with the
verifier in its own process and the database deleted.)"""

import base64
import copy
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.files.uploadedfile import SimpleUploadedFile

from ledgerline.datasets.models import DatasetFile
from ledgerline.ledger.artifacts import artifact
from ledgerline.ledger.client import Ledger
from ledgerline.ledger.services import _execute, batch_metadata_set
from ledgerline.provenance import keys
from ledgerline.provenance.canonical import canonical_json
from ledgerline.storage.blockstore import Blockstore
from ledgerline.storage.client import ipfs_connect
from ledgerline.works.models import Work
from ledgerline_verify import Subject, Verifier
from ledgerline_verify.unixfs import CID
from tests.audit.conftest import Released
from tests.pipeline.conftest import ipfs_bytes


def _upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def _check(report: dict[str, Any], link: str) -> dict[str, Any]:
    return next(c for c in report["checks"] if c["link"] == link)


def _both(released: Released, verifier: Verifier, subject: Subject, **body: Any) -> tuple[dict[str, Any], Any]:
    """The platform's verdict (through the API, as the public) and the engine's on the chain and IPFS alone."""
    return released.verify(**body), verifier.verify(subject)


def flip_audio_byte(wav: bytes) -> bytes:
    """One byte of the samples changed (the C2PA manifest and the headers untouched)."""
    at = wav.index(b"data") + 8 + 1000
    return wav[:at] + bytes([wav[at] ^ 0x01]) + wav[at + 1 :]


def signed_by_another_key(signed: dict[str, Any]) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    manifest = signed["manifest"]
    value = base64.b64encode(key.sign(canonical_json(manifest), ec.ECDSA(hashes.SHA256()))).decode()
    return {
        "manifest": manifest,
        "signature": {"key_id": keys.key_id_of(key.public_key()), "algorithm": keys.ALGORITHM, "value": value},
    }


@pytest.mark.django_db
def test_a_changed_byte_in_the_file_breaks_the_content_link(released: Released, verifier: Verifier) -> None:
    work = released.works[0]
    changed = flip_audio_byte(ipfs_bytes(work["cid"], "work.wav"))
    report, engine = _both(released, verifier, Subject(data=changed), file=_upload("work.wav", changed))
    assert report["verdict"] == engine.verdict == "failed"
    assert report["broken_link"] == engine.first_failure.link == "content"
    assert "changed after it was signed" in report["summary"] and "assertion.dataHash.mismatch" in report["summary"]
    # Still recognised, by the watermark in its sound, as a copy of the work it was.
    assert report["match"]["kind"] == engine.match["kind"] == "watermark"
    assert report["match"]["token_id"] == engine.match["token_id"] == work["token"]["token_id"]
    assert (
        report["match"]["method"] == "decoded"
        and report["match"]["errors_corrected"] < 0.1 * report["match"]["bits_recovered"]
    )


@pytest.mark.django_db
def test_a_changed_manifest_or_signature_is_caught(released: Released, verifier: Verifier) -> None:
    signed = released.works[0]["manifest"]
    changed = copy.deepcopy(signed)
    changed["manifest"]["generation"]["seed"] += 1
    report, engine = _both(
        released, verifier, Subject(manifest=canonical_json(changed)), manifest=canonical_json(changed).decode()
    )
    assert report["broken_link"] == engine.first_failure.link == "manifest"
    assert "differs in generation" in report["summary"]
    assert "does not match the manifest's bytes" in _check(report, "signature")["reason"]

    forged = copy.deepcopy(signed)
    forged["signature"]["value"] = base64.b64encode(b"\x30" + bytes(70)).decode()
    report, engine = _both(
        released, verifier, Subject(manifest=canonical_json(forged)), manifest=canonical_json(forged).decode()
    )
    assert report["broken_link"] == engine.first_failure.link == "manifest"
    assert "signature differs" in report["summary"]
    assert _check(report, "signature")["status"] == "fail"


@pytest.mark.django_db
def test_a_manifest_signed_by_another_key_is_caught(released: Released, verifier: Verifier) -> None:
    other = signed_by_another_key(released.works[1]["manifest"])
    report, engine = _both(
        released, verifier, Subject(manifest=canonical_json(other)), manifest=canonical_json(other).decode()
    )
    assert report["verdict"] == engine.verdict == "failed"
    signature = _check(report, "signature")
    assert signature["status"] == "fail" and "not anchored on the Ledgerline contract" in signature["reason"]
    assert engine.check("signature").reason == signature["reason"]


@pytest.mark.django_db
def test_metadata_pointing_elsewhere_breaks_the_metadata_link(released: Released, verifier: Verifier) -> None:
    first, second = released.works
    token = first["token"]["token_id"]
    doctored = {str(w["token"]["token_id"]): w for w in released.works}
    folder = {
        f"{t}.json": canonical_json(
            {"content_sha256": second["content_sha256"], "manifest": f"ipfs://{second['cid']}/manifest.json"}
        )
        for t in doctored
    }
    cid = ipfs_connect().add_directory(folder, name="doctored metadata").cid
    batch_metadata_set(ledger=Ledger.connect(), token_id=token, metadata_cid=str(cid))  # the admin key misused
    report, engine = _both(released, verifier, Subject(token_id=token), token_id=token)
    assert report["broken_link"] == engine.first_failure.link == "metadata"
    assert f"does not hold {second['content_sha256']} as the content of token {token}" in report["summary"]
    audio = ipfs_bytes(first["cid"], "work.wav")
    report, engine = _both(released, verifier, Subject(data=audio), file=_upload("work.wav", audio))
    assert report["broken_link"] == engine.first_failure.link == "metadata"
    assert f"names the content {second['content_sha256']}, not {first['content_sha256']}" in report["summary"]


@pytest.mark.django_db
def test_a_token_on_another_contract_counts_for_nothing(released: Released, verifier: Verifier) -> None:
    ledger = Ledger.connect()
    data = artifact("LedgerlineWorks")
    factory = ledger.w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"])
    deploy = factory.constructor("Forged Works", "FGD", ledger.account.address).data_in_transaction
    record = _execute(ledger, kind="forged deploy", payload={}, tx={"data": deploy, "value": 0})
    forged = ledger.contract(ledger.w3.eth.get_transaction_receipt(record.tx_hash)["contractAddress"])
    fake = b"RIFF" + bytes(4) + b"WAVE" + b"a forgery nobody minted on Ledgerline's contract"
    content = verifier.chain.token_of_content  # the trusted contract's lookup
    call = forged.functions.mintBatch(
        ledger.account.address, [bytes.fromhex(keys_sha(fake))], b"", "bafyforged", ledger.account.address, 0
    )
    _execute(
        ledger,
        kind="forged mint",
        payload={},
        tx={"to": forged.address, "data": call._encode_transaction_data(), "value": 0},
    )
    assert forged.functions.tokenOfContent(bytes.fromhex(keys_sha(fake))).call() == 1 and content(keys_sha(fake)) == 0
    report, engine = _both(released, verifier, Subject(data=fake), file=_upload("forged.wav", fake))
    assert report["verdict"] == engine.verdict == "unknown"
    assert "No token on the Ledgerline contract" in report["summary"]
    # Token ids of the other contract mean nothing here: this one has no token 99.
    report = released.verify(token_id=99)
    assert report["broken_link"] == "token" and "does not exist on the Ledgerline contract" in report["summary"]


def keys_sha(data: bytes) -> str:
    from ledgerline.provenance.hashing import sha256_bytes

    return sha256_bytes(data)


@pytest.mark.django_db
def test_a_database_row_edited_behind_the_platforms_back_is_reported(released: Released, verifier: Verifier) -> None:
    work = released.works[0]
    token = work["token"]["token_id"]
    edited = dict(work["manifest"])
    edited["manifest"] = {**edited["manifest"], "licence": "CC0-1.0"}
    Work.objects.filter(pk=work["id"]).update(manifest=edited, content_sha256="ab" * 32)
    member = released.verify(released.team.auditor.client, token_id=token)
    assert member["verdict"] == "failed" and member["broken_link"] == "database"
    reason = _check(member, "database")["reason"]
    assert "content_sha256" in reason and "manifest" in reason
    # The public verdict, like the independent verifier's, rests on the chain and IPFS: still verified.
    public = released.verify(token_id=token)
    assert public["verdict"] == "verified" and all(c["link"] != "database" for c in public["checks"])
    assert verifier.verify(Subject(token_id=token)).verdict == "verified"


@pytest.mark.django_db
def test_a_corrupted_ipfs_block_is_caught(released: Released, verifier: Verifier, settings: Any) -> None:
    work = released.works[1]
    ipfs = ipfs_connect()
    manifest = ipfs.resolve(CID.parse(work["cid"]), "manifest.json")
    store = Blockstore(settings.IPFS_BLOCKS_DIR)
    path = store._path(manifest)
    block = path.read_bytes()
    path.write_bytes(block.replace(b'"seed":11', b'"seed":12') if b'"seed":11' in block else block[:-1] + b" ")
    report, engine = _both(
        released, verifier, Subject(token_id=work["token"]["token_id"]), token_id=work["token"]["token_id"]
    )
    assert report["broken_link"] == engine.first_failure.link == "manifest"
    assert "corrupt" in report["summary"] and str(manifest) in report["summary"]


@pytest.mark.django_db
def test_consent_withdrawn_after_training_is_caught(
    released: Released, verifier: Verifier, django_capture_on_commit_callbacks: Any
) -> None:
    trained = DatasetFile.objects.get(path=released.files[0].name)
    with django_capture_on_commit_callbacks(execute=True):
        response = released.team.owner.client.put(
            f"/api/v1/dataset-files/{trained.pk}/consent/",
            {"consent": {"cawg.ai_training": "notAllowed"}},
            format="json",
        )
    assert response.status_code == 200, response.json()
    token = released.works[0]["token"]["token_id"]
    report, engine = _both(released, verifier, Subject(token_id=token), token_id=token)
    assert report["broken_link"] == engine.first_failure.link == "consent"
    assert trained.blob.sha256 in report["summary"] and "after the model was anchored" in report["summary"]


@pytest.mark.django_db
def test_consent_is_changed_by_writers_only(released: Released) -> None:
    trained = DatasetFile.objects.get(path=released.files[1].name)
    url = f"/api/v1/dataset-files/{trained.pk}/consent/"
    body = {"consent": {"cawg.ai_training": "notAllowed"}}
    assert released.team.auditor.client.put(url, body, format="json").status_code == 403
    assert released.team.outsider.client.put(url, body, format="json").status_code == 404
    bad = released.team.owner.client.put(url, {"consent": {"ai_training": "perhaps"}}, format="json")
    assert bad.status_code == 400 and "use" in bad.json()["error"]["message"]
    assert DatasetFile.objects.get(pk=trained.pk).consent["cawg.ai_training"]["use"] == "allowed"


@pytest.mark.django_db
def test_a_rotated_key_keeps_its_signatures_and_signs_nothing_after(
    released: Released, verifier: Verifier, django_capture_on_commit_callbacks: Any
) -> None:
    work = released.works[0]
    old = work["manifest"]["signature"]["key_id"]
    with django_capture_on_commit_callbacks(execute=True):  # the rotation publishes both keys on chain
        rotated = released.team.owner.client.post("/api/v1/organisations/acme-records/keys/rotate/")
    assert rotated.status_code == 201
    history = verifier.chain.signing_key(old)
    assert history is not None and history.retired_at >= history.anchored_at > 0
    assert verifier.chain.signing_key(rotated.json()["key_id"]) is not None
    report = released.verify(token_id=work["token"]["token_id"])
    assert report["verdict"] == "verified"  # signed while the key was in use
    assert _check(report, "signature")["details"]["retired_at"] is not None

    # The retired key (stolen, say) signing a manifest dated after its retirement.
    late = copy.deepcopy(work["manifest"]["manifest"])
    late["signed_at"] = "2999-01-01T00:00:00+00:00"
    private = keys.KeyStore.default().load(old)
    signed = {
        "manifest": late,
        "signature": {**work["manifest"]["signature"], "value": keys.sign(private, canonical_json(late))},
    }
    report = verifier.verify(Subject(manifest=canonical_json(signed)))
    assert "after the key was retired" in report.check("signature").reason
