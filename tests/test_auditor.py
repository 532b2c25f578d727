"""An outside auditor against `make run`: the site (tools/serve.py, embedded chain and IPFS, the
demo loaded) serves its chain read-only at /chain/rpc and its IPFS blocks at /ipfs; in a fresh
virtualenv holding only `pip install ./ledgerline_verify`, the auditor's `ledgerline-verify`
verifies a minted work (C2PA Trusted through the CA the contract holds), fails it with one byte
changed, and recognises a chorale of the demo's dataset from its inclusion proof."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from web3 import HTTPProvider, Web3

from ledgerline_verify.chain import ABI
from tests.audit.test_tampering import flip_audio_byte
from tests.daemons import ledgerline_env, ledgerline_served

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.slow,
    # Its site runs on SQLite of its own whatever the suite's database: once, in the SQLite pass.
    pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="runs its own SQLite site; the SQLite pass has it"),
]


@dataclass
class Site:
    url: str
    env: dict[str, str]


@dataclass
class Auditor:
    """A virtualenv with ledgerline-verify alone in it."""

    venv: Path

    @staticmethod
    def site_args(site: Site) -> list[str]:
        return ["--rpc", f"{site.url}/chain/rpc", "--gateway", f"{site.url}/ipfs", "--json"]

    def verify(self, site: Site, *args: str) -> tuple[int, dict[str, Any]]:
        done = subprocess.run(
            [str(self.venv / "bin" / "ledgerline-verify"), *args, *self.site_args(site)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=self.venv,  # nowhere near the repository: only the installed package can be imported
            env={"PATH": os.environ["PATH"], "HOME": str(self.venv)},
        )
        assert done.stdout, done.stderr
        return done.returncode, json.loads(done.stdout)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    env = ledgerline_env(tmp_path_factory.mktemp("auditor-var"))
    for step in (["migrate", "--noinput"], ["demo"]):
        subprocess.run([sys.executable, "manage.py", *step], cwd=ROOT, env=env, check=True, capture_output=True)
    with ledgerline_served(env, "--web-workers", "1") as (url, _process, _log):
        yield Site(url, env)


@pytest.fixture(scope="module")
def auditor(tmp_path_factory: pytest.TempPathFactory) -> Auditor:
    home = tmp_path_factory.mktemp("auditor")
    source = home / "ledgerline_verify"
    shutil.copytree(
        ROOT / "ledgerline_verify", source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
    )
    subprocess.run([sys.executable, "-m", "venv", str(home / "venv")], check=True)
    pip = [str(home / "venv" / "bin" / "pip"), "install", "--quiet", str(source)]
    subprocess.run(pip, check=True, capture_output=True, timeout=900)
    installed = subprocess.run([str(home / "venv" / "bin" / "pip"), "list"], capture_output=True, text=True).stdout
    assert "ledgerline-verify" in installed and "Django" not in installed and "torch" not in installed
    return Auditor(home / "venv")


def test_an_auditor_verifies_a_work_of_make_run_with_nothing_but_the_verifier(
    site: Site, auditor: Auditor, tmp_path: Path
) -> None:
    info = requests.get(f"{site.url}/chain/", timeout=30).json()
    w3 = Web3(HTTPProvider(info["rpc"]))
    contract = w3.eth.contract(address=info["contract"], abi=ABI)
    assert contract.functions.totalMinted().call() == 3  # the demo's works
    metadata_uri = contract.functions.tokenURI(1).call()
    metadata = requests.get(f"{site.url}/ipfs/{metadata_uri.removeprefix('ipfs://')}", timeout=30).json()
    wav = tmp_path / "work.wav"
    wav.write_bytes(requests.get(f"{site.url}/ipfs/{metadata['animation_url'].removeprefix('ipfs://')}").content)

    status, report = auditor.verify(site, str(wav))  # no --contract: the site's /chain/ names it
    assert (status, report["verdict"]) == (0, "verified"), report["summary"]
    assert report["subject"]["token_id"] == 1 and report["contract_named_by"] == f"{site.url}/chain/"
    credentials = next(c for c in report["checks"] if c["link"] == "credentials")
    assert credentials["details"]["state"] == "Trusted" and "a trust anchor the contract holds" in credentials["reason"]

    changed = tmp_path / "changed.wav"
    changed.write_bytes(flip_audio_byte(wav.read_bytes()))
    status, report = auditor.verify(site, str(changed), "--contract", info["contract"])
    assert (status, report["verdict"]) == (1, "failed"), report["summary"]


def test_an_auditor_recognises_a_chorale_of_the_demos_dataset(site: Site, auditor: Auditor, tmp_path: Path) -> None:
    """Both verifiers: the site's /verify finds the file in the demo's anchored dataset version and
    hands out its inclusion proof; the auditor's tool checks that proof against the chain."""
    chorale = Path(site.env["LEDGERLINE_VAR_DIR"]) / "cache" / "chorales" / "bwv269.mid"
    data = chorale.read_bytes()
    response = requests.post(f"{site.url}/api/v1/verify", files={"file": ("bwv269.mid", data)}, timeout=120)
    assert response.status_code == 201, response.text
    [found] = response.json()["training_data"]
    assert found["proof_verified"] and found["anchored_at"] and found["sha256"] == hashlib.sha256(data).hexdigest()
    assert found["stated"]["dataset"] == "Bach chorales" and found["path"] == "bwv269.mid"

    (tmp_path / "proof.json").write_text(json.dumps(found["proof"]))
    status, report = auditor.verify(site, str(chorale), "--proof", str(tmp_path / "proof.json"))
    assert (status, report["verdict"]) == (0, "verified"), report["summary"]
    match = report["match"]
    assert match["kind"] == "training_data" and match["merkle_root"] == found["merkle_root"]
    assert match["anchored_at"] == found["anchored_at"] and match["consent_withdrawn_at"] is None
    assert "Registered training data (the proof file names it Bach chorales v1)" in report["summary"]
