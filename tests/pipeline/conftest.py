"""The pipeline's fixtures: real Bach chorales uploaded through the API, the embedded chain
and IPFS (or the real ones), and Celery running tasks in the test's own process."""

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from generation.chorales import chorales_export
from ledgerline.celery import app
from ledgerline.ledger.client import Ledger
from ledgerline.ledger.services import works_contract
from ledgerline.provenance import keys
from ledgerline.provenance.canonical import canonical_json
from ledgerline.provenance.hashing import sha256_bytes
from ledgerline.storage.client import ipfs_connect
from ledgerline.works.credentials import TRAINED_ALGORITHMIC_MEDIA, credentials_read
from ledgerline_verify.unixfs import CID
from tests.ledger.conftest import chain_env

ROOT = Path(__file__).resolve().parents[2]
CHORALES = (
    "bwv253",
    "bwv269",
    "bwv347",
    "bwv392",
    "bwv393",
    "bwv395",
    "bwv414",
    "bwv11.6",
    "bwv108.6",
    "bwv10.7",
    "bwv101.7",
    "bwv102.7",
)
TINY = {"tiny": True, "tokenizer": "chorale", "max_steps": 40, "eval_every": 20}


@pytest.fixture(scope="session")
def chorale_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("chorale-midi")
    chorales_export(folder, names=CHORALES)
    return sorted(folder.glob("*.mid"))


@pytest.fixture
def embedded(settings: Any, tmp_path: Path) -> Iterator[None]:
    """Runs, chain and IPFS under this test's folder; tasks run where they are queued."""
    for name, value in chain_env("embedded", tmp_path).items():
        setattr(settings, name, Path(value) if name in ("CHAIN_STATE_DIR", "CHAIN_ACCOUNT_KEYFILE") else value)
    settings.LEDGERLINE_RUNS_DIR = tmp_path / "runs"
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = eager


def forget_connections() -> None:
    """Celery caches its producer pool with the broker it first connected to."""
    app.amqp._producer_pool = None
    app._pool = None


def upload_files(client: Any, dataset_id: str, paths: list[Path], **fields: Any) -> Any:
    with ExitStack() as stack:
        handles = [stack.enter_context(open(p, "rb")) for p in paths]
        response = client.post(f"/api/v1/datasets/{dataset_id}/files/", {"file": handles, **fields}, format="multipart")
    assert response.status_code == 201, response.json()
    return response.json()


def trained_run(
    client: Any, capture: Any, versions: list[str], config: dict[str, Any], *, name: str = "tiny", **fields: Any
) -> dict[str, Any]:
    """A run requested through the API and trained as it is queued (``capture``:
    django_capture_on_commit_callbacks); its JSON, once it has succeeded."""
    with capture(execute=True):
        created = client.post(
            "/api/v1/training-runs/",
            {"name": name, "config": config, "dataset_versions": versions, **fields},
            format="json",
        )
    assert created.status_code == 201, created.json()
    run = client.get(f"/api/v1/training-runs/{created.json()['id']}/").json()
    assert run["status"] == "succeeded", run["error"]
    return dict(run)


def model_signing_verify(folder: Path, public_key_pem: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """PyPI model-signing's own command line, as anyone would run it."""
    key = tmp_path / "org-key.pem"
    key.write_text(public_key_pem)
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "model_signing"),
            "verify",
            "key",
            str(folder),
            "--signature",
            str(folder / "model.sig"),
            "--public_key",
            str(key),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def ipfs_bytes(cid: str, path: str = "") -> bytes:
    ipfs = ipfs_connect()
    target = ipfs.resolve(CID.parse(cid), path) if path else CID.parse(cid)
    return b"".join(ipfs.read(target))


def work_links_check(
    work: dict[str, Any],
    model: dict[str, Any],
    versions: list[dict[str, Any]],
    public_key_pem: str,
    *,
    midi: bool = True,
) -> int:
    """Every link of a confirmed work, read from IPFS and the chain, not the database; its token id."""
    contract = works_contract(ledger=Ledger.connect())
    assert work["status"] == "confirmed", (work["status"], work["error"])
    outputs = {o["kind"]: o for o in work["outputs"]}
    assert set(outputs) == ({"midi", "wav", "audio"} if midi else {"wav", "audio"})
    audio = ipfs_bytes(work["cid"], "work.wav")
    assert sha256_bytes(audio) == outputs["audio"]["sha256"] == work["content_sha256"]
    if midi:
        score = ipfs_bytes(work["cid"], "work.mid")
        assert sha256_bytes(score) == outputs["midi"]["sha256"] and score.startswith(b"MThd")

    # The signed manifest, as pinned: the organisation's key over its RFC 8785 bytes.
    signed = json.loads(ipfs_bytes(work["cid"], "manifest.json"))
    manifest = signed["manifest"]
    assert keys.verify(public_key_pem, canonical_json(manifest), signed["signature"]["value"])
    assert manifest["content_sha256"] == work["content_sha256"]
    assert manifest["model"]["weights_sha256"] == model["sha256"]
    assert {d["merkle_root"] for d in manifest["datasets"]} == {v["merkle_root"] for v in versions}
    assert manifest["generation"]["seed"] == work["seed"]

    # C2PA in the WAV: valid, created by a trained model, from the model and datasets (and what
    # it varies, if anything).
    credentials = credentials_read(audio)
    assert credentials["state"] == "Valid", credentials["failures"]
    active = credentials["manifest"]
    assertions = {a["label"]: a["data"] for a in active["assertions"]}
    assert assertions["c2pa.actions.v2"]["actions"][0]["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert {i["instance_id"] for i in active["ingredients"]} == {
        f"sha256:{model['sha256']}",
        *(f"merkle:{v['merkle_root']}" for v in versions),
        *(f"sha256:{source['sha256']}" for source in manifest.get("sources", [])),
    }

    # The token: on chain for exactly this content, its metadata on IPFS pointing back.
    token_id = int(work["token"]["token_id"])
    assert contract.functions.tokenOfContent(bytes.fromhex(work["content_sha256"])).call() == token_id
    uri = contract.functions.tokenURI(token_id).call()
    folder, _, name = uri.removeprefix("ipfs://").partition("/")
    metadata = json.loads(ipfs_bytes(folder, name))
    assert metadata["content_sha256"] == work["content_sha256"]
    assert metadata["manifest"] == f"ipfs://{work['cid']}/manifest.json"
    return token_id
