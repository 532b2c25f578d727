"""The independent verifier in its own process, with Django unimportable and Ledgerline's
database deleted, against a real chain node (anvil) and a real IPFS daemon (js-ipfs): it
reaches each verdict from the file, the chain and IPFS alone, trusting only the contract."""

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from eth_account import Account
from web3 import HTTPProvider, Web3

from ledgerline.celery import app
from ledgerline.datasets import samples
from ledgerline.ledger.artifacts import artifact
from ledgerline.ledger.client import Ledger
from ledgerline.ledger.services import contract_address, contract_deploy
from ledgerline.provenance.canonical import canonical_json
from ledgerline.provenance.hashing import sha256_bytes
from ledgerline.storage.client import ipfs_connect
from tests.audit.conftest import release
from tests.audit.test_copies import stripped_mp3_trimmed
from tests.audit.test_tampering import flip_audio_byte, signed_by_another_key
from tests.conftest import dataset_create
from tests.ledger.conftest import PASSPHRASE, anvil, chain_env, fund, keyfile_for_new_account
from tests.pipeline.conftest import ipfs_bytes, trained_run, upload_files
from tests.pipeline.test_audio import SMALL
from tests.storage.conftest import jsipfs_daemon

ROOT = Path(__file__).resolve().parents[2]
# Django made unimportable: the verifier must not need it.
NO_DJANGO = (
    "import runpy, sys; sys.modules['django'] = None; runpy.run_module('ledgerline_verify', run_name='__main__')"
)


def verifier(chain: str, ipfs: str, contract: str, *args: str, source: str = "--ipfs") -> tuple[int, dict[str, Any]]:
    """The verifier's exit status and JSON report; ``ipfs`` is a Kubo RPC API (``source``
    "--ipfs") or a gateway ("--gateway")."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE"))}
    done = subprocess.run(
        [sys.executable, "-c", NO_DJANGO, *args, "--rpc", chain, source, ipfs, "--contract", contract, "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def send(w3: Web3, keyfile: Path, call: Any) -> None:
    """A transaction from the platform's own account, signed here (its database is gone)."""
    account = Account.from_key(Account.decrypt(json.loads(keyfile.read_text()), PASSPHRASE))
    tx = call.build_transaction({"from": account.address, "nonce": w3.eth.get_transaction_count(account.address)})
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    )
    assert receipt["status"] == 1


@contextmanager
def real_parts(settings: Any, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The platform on anvil and js-ipfs, its tasks run as they are queued: (chain URL, IPFS URL)."""
    with anvil() as chain, jsipfs_daemon(tmp_path / "jsipfs") as ipfs:
        for name, value in chain_env("anvil", tmp_path, chain).items():
            setattr(settings, name, Path(value) if name in ("CHAIN_STATE_DIR", "CHAIN_ACCOUNT_KEYFILE") else value)
        fund(chain, keyfile_for_new_account(Path(settings.CHAIN_ACCOUNT_KEYFILE)))
        settings.IPFS_API_URL, settings.LEDGERLINE_RUNS_DIR = ipfs, tmp_path / "runs"
        contract_deploy(ledger=Ledger.connect())
        eager = app.conf.task_always_eager
        app.conf.task_always_eager = True
        try:
            yield chain, ipfs
        finally:
            app.conf.task_always_eager = eager


@pytest.mark.django_db(transaction=True)
def test_the_independent_verifier_needs_only_the_chain_and_ipfs(
    team: Any, chorale_files: list[Path], settings: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    with real_parts(settings, tmp_path) as (chain, ipfs):
        released = release(team, chorale_files[:8], django_capture_on_commit_callbacks)
        address = contract_address(ledger=Ledger.connect())
        work = released.works[0]
        files = tmp_path / "handed-in"
        files.mkdir()
        audio = ipfs_bytes(work["cid"], "work.wav")
        (files / "work.wav").write_bytes(audio)
        (files / "work.mid").write_bytes(ipfs_bytes(work["cid"], "work.mid"))
        (files / "changed.wav").write_bytes(flip_audio_byte(audio))
        # Its sound alone (the credentials gone with the bytes) as an MP3, the first 1.3 s cut off.
        copy_mp3 = stripped_mp3_trimmed(audio, 1.3)
        (files / "copy.mp3").write_bytes(copy_mp3)
        platform = released.verify(file=SimpleUploadedFile("copy.mp3", copy_mp3))
        assert (platform["verdict"], platform["match"]["kind"]) == ("unknown", "watermark"), platform["summary"]
        assert platform["match"]["token_id"] == work["token"]["token_id"]
        other_key = signed_by_another_key(work["manifest"])
        (files / "other-key.json").write_bytes(canonical_json(other_key))
        edited = copy.deepcopy(work["manifest"])
        edited["manifest"]["licence"] = "CC0-1.0"
        (files / "edited.json").write_bytes(canonical_json(edited))
        pieces = {
            p["sha256"]
            for p in json.loads(ipfs_bytes(released.model["cid"], "config.json"))["data"]["pieces"]
            if p["side"] == "train"
        }
        trained_root = released.versions[0]["merkle_root"]
        keyfile = Path(settings.CHAIN_ACCOUNT_KEYFILE)

        call_command("flush", interactive=False, verbosity=0)  # Ledgerline's database, gone

        def run(*args: str) -> tuple[int, dict[str, Any]]:
            return verifier(chain, ipfs, address, *args)

        status, report = run(str(files / "work.wav"))
        assert (status, report["verdict"]) == (0, "verified"), report["summary"]
        assert {c["link"] for c in report["checks"] if c["status"] == "pass"} >= {
            "content",
            "token",
            "metadata",
            "manifest",
            "signature",
            "model",
            "datasets",
            "consent",
            "licence",
            "credentials",
            "originality",
        }
        assert run("--token", str(work["token"]["token_id"]))[1]["verdict"] == "verified"
        assert run(str(files / "work.mid"), "--token", str(work["token"]["token_id"]))[1]["verdict"] == "verified"

        status, report = run(str(files / "changed.wav"))
        assert (status, report["broken_link"]) == (1, "content") and "changed after it was signed" in report["summary"]
        status, report = run(str(files / "copy.mp3"))  # its bytes were never minted: unknown, but whose it is
        assert (status, report["verdict"], report["match"]["kind"]) == (3, "unknown", "watermark"), report["summary"]
        assert report["match"]["token_id"] == work["token"]["token_id"]
        assert report["match"]["registered"]["verdict"] == "verified"
        assert f"a copy of token {work['token']['token_id']}" in report["summary"]
        status, report = run("--manifest", str(files / "other-key.json"))
        signature = next(c for c in report["checks"] if c["link"] == "signature")
        assert status == 1 and "not anchored on the Ledgerline contract" in signature["reason"]
        status, report = run("--manifest", str(files / "edited.json"))
        assert (status, report["broken_link"]) == (1, "manifest") and "differs in licence" in report["summary"]

        # A token minted on another contract (the same code, deployed by anyone) counts for nothing.
        w3 = Web3(HTTPProvider(chain))
        data = artifact("LedgerlineWorks")
        deployer = w3.eth.accounts[0]
        tx = (
            w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"])
            .constructor("Forged", "FGD", deployer)
            .transact({"from": deployer})
        )
        forged = w3.eth.contract(address=w3.eth.get_transaction_receipt(tx)["contractAddress"], abi=data["abi"])
        fake = b"RIFF" + bytes(4) + b"WAVE" + b"minted on a forged contract"
        (files / "fake.wav").write_bytes(fake)
        forged.functions.mintBatch(
            deployer, [bytes.fromhex(sha256_bytes(fake))], b"", "bafyforged", deployer, 0
        ).transact({"from": deployer})
        status, report = run(str(files / "fake.wav"))
        assert (status, report["verdict"]) == (3, "unknown")
        assert "No token on the Ledgerline contract" in report["summary"]

        # The second work's batch re-pointed (the admin key misused) at metadata naming the first work.
        contract = w3.eth.contract(address=address, abi=data["abi"])
        second = released.works[1]
        (files / "second.wav").write_bytes(ipfs_bytes(second["cid"], "work.wav"))
        doctored = ipfs_connect().add_directory(
            {
                f"{w['token']['token_id']}.json": canonical_json(
                    {"content_sha256": work["content_sha256"], "manifest": f"ipfs://{work['cid']}/manifest.json"}
                )
                for w in released.works
            },
            name="doctored",
        )
        batch, _ = contract.functions.batchOf(second["token"]["token_id"]).call()
        send(w3, keyfile, contract.functions.setBatchMetadata(batch, str(doctored.cid)))
        status, report = run(str(files / "second.wav"))
        assert (status, report["broken_link"]) == (1, "metadata")
        assert f"names the content {work['content_sha256']}" in report["summary"]
        # ... and at metadata that names its own content but no manifest: a broken link, not a traceback.
        bare = ipfs_connect().add_directory(
            {
                f"{w['token']['token_id']}.json": canonical_json({"content_sha256": w["content_sha256"]})
                for w in released.works
            },
            name="bare",
        )
        send(w3, keyfile, contract.functions.setBatchMetadata(batch, str(bare.cid)))
        status, report = run(str(files / "second.wav"))
        assert (status, report["broken_link"]) == (1, "metadata") and "names no manifest" in report["summary"]
        send(w3, keyfile, contract.functions.setBatchMetadata(batch, str(doctored.cid)))

        # Consent withdrawn after training, recorded on chain (as the platform does on withdrawal).
        withdrawn = sorted(pieces)[0]
        send(w3, keyfile, contract.functions.withdrawConsent(bytes.fromhex(trained_root), bytes.fromhex(withdrawn)))
        status, report = run(str(files / "work.wav"))
        assert (status, report["broken_link"]) == (1, "consent")
        assert withdrawn in report["summary"] and "after the model was anchored" in report["summary"]

        # A corrupted block in the IPFS daemon's own repository: the manifest no longer hashes to its CID.
        manifest = canonical_json(work["manifest"])  # as pinned: one raw block
        blocks = [p for p in (tmp_path / "jsipfs").rglob("*.data") if p.read_bytes() == manifest]
        assert len(blocks) == 1, "the manifest's block was not found in the js-ipfs repo"
        blocks[0].write_bytes(manifest.replace(b'"seed":', b'"seeD":'))
        status, report = run("--token", str(work["token"]["token_id"]))
        assert (status, report["broken_link"]) == (1, "manifest") and "corrupt" in report["summary"]


@pytest.mark.django_db(transaction=True)
def test_the_independent_verifier_follows_a_continued_model_to_the_one_it_continues(
    team: Any, settings: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    client, capture = team.owner.client, django_capture_on_commit_callbacks
    with real_parts(settings, tmp_path) as (chain, ipfs):
        tones = dataset_create(team, name="Tones")
        upload_files(client, tones, [samples.tone_audio(tmp_path / "low.wav", seconds=2.0, frequency=220)])
        pretraining = client.post(f"/api/v1/datasets/{tones}/versions/", {}, format="json").json()
        [base] = trained_run(client, capture, [pretraining["id"]], SMALL, name="pretrained")["artifacts"]
        voices = dataset_create(team, name="Voices")
        upload_files(client, voices, [samples.tone_audio(tmp_path / "mid.wav", seconds=2.0, frequency=440)])
        own = client.post(f"/api/v1/datasets/{voices}/versions/", {}, format="json").json()
        [model] = trained_run(client, capture, [own["id"]], SMALL, name="continued", base_model=base["id"])["artifacts"]
        with capture(execute=True):
            generation = client.post(
                "/api/v1/generations/",
                {"title": "Glide", "model": model["id"], "parameters": {"between": ["mid0", "mid1"]}},
                format="json",
            )
        [work] = client.get(f"/api/v1/generations/{generation.json()['id']}/").json()["works"]
        assert work["status"] == "confirmed", work["error"]
        address = contract_address(ledger=Ledger.connect())
        (tmp_path / "work.wav").write_bytes(ipfs_bytes(work["cid"], "work.wav"))
        hidden = copy.deepcopy(work["manifest"])
        hidden["manifest"]["model"]["bases"] = []
        (tmp_path / "hidden.json").write_bytes(canonical_json(hidden))

        call_command("flush", interactive=False, verbosity=0)  # Ledgerline's database, gone

        status, report = verifier(chain, ipfs, address, str(tmp_path / "work.wav"))
        assert (status, report["verdict"]) == (0, "verified"), report["summary"]
        checks = {c["link"]: c for c in report["checks"]}
        assert checks["model"]["details"]["bases"] == [base["sha256"]]
        assert set(checks["datasets"]["details"]["roots"]) == {pretraining["merkle_root"], own["merkle_root"]}
        status, report = verifier(chain, ipfs, address, "--manifest", str(tmp_path / "hidden.json"))
        model_check = next(c for c in report["checks"] if c["link"] == "model")
        assert status == 1 and "missing from the lineage" in model_check["reason"]
