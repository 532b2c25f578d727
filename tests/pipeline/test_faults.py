"""Nothing lost, nothing minted twice: a worker killed (as by `kill -9`) while pinning and while
minting, then run again; the chain node and the IPFS daemon stopped and started again between
steps of a batch. Afterwards every work is confirmed with exactly one token."""

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from ledgerline.ledger.client import ChainUnavailable, Ledger
from ledgerline.ledger.models import ChainTransaction
from ledgerline.ledger.services import works_contract
from ledgerline.pipeline import drive
from ledgerline.storage.client import IpfsUnavailable
from ledgerline.works.models import Generation, Work, WorkStatus
from tests.conftest import dataset_create
from tests.ledger.conftest import anvil, chain_env, fund, keyfile_for_new_account
from tests.pipeline.conftest import TINY, upload_files
from tests.storage.conftest import jsipfs_daemon

ROOT = Path(__file__).resolve().parents[2]
COUNT = 3


def _generated_works(team: Any, chorale_files: list[Path], capture: Any) -> Generation:
    """A tiny model and COUNT works generated, waiting at `generated`."""
    client = team.owner.client
    dataset = dataset_create(team)
    upload_files(client, dataset, chorale_files[:6])
    version = client.post(f"/api/v1/datasets/{dataset}/versions/", {}, format="json").json()
    with capture(execute=True):
        run = client.post(
            "/api/v1/training-runs/",
            {"name": "tiny", "config": {**TINY, "max_steps": 20}, "dataset_versions": [version["id"]]},
            format="json",
        ).json()
    model = client.get(f"/api/v1/training-runs/{run['id']}/").json()["artifacts"][0]
    assert model["anchored_at"], "the model was not published"
    with patch("ledgerline.works.requests.enqueue"):  # generated here, not by a queued task
        response = client.post(
            "/api/v1/generations/",
            {
                "title": "w",
                "model": model["id"],
                "count": COUNT,
                "seed": 5,
                "parameters": {"length": 64, "originality_max_run": 1000},
            },
            format="json",
        )
    generation = Generation.objects.get(pk=response.json()["id"])
    assert drive.works_generate(generation=generation) == COUNT
    return generation


def _settings_env(settings: Any) -> dict[str, str]:
    """This test's settings, for a worker process."""
    env = {
        name: str(getattr(settings, name))
        for name in (
            "CHAIN_STATE_DIR",
            "CHAIN_ACCOUNT_KEYFILE",
            "CHAIN_ACCOUNT_PASSPHRASE",
            "CHAIN_RPC_URL",
            "IPFS_API_URL",
            "IPFS_BLOCKS_DIR",
            "SIGNING_KEYS_DIR",
            "SIGNING_KEY_PASSPHRASE",
            "LEDGERLINE_BLOB_DIR",
            "LEDGERLINE_RUNS_DIR",
            "LEDGERLINE_LEASE_SECONDS",
        )
    }
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        env["DATABASE_URL"] = f"sqlite:///{database['NAME']}"
    else:
        env["DATABASE_URL"] = (
            f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:"
            f"{database['PORT']}/{database['NAME']}"
        )
    return env


def _worker(env: dict[str, str], fault: str = "") -> subprocess.CompletedProcess[str]:
    """`manage.py pipeline advance` in its own process: a worker's step, killed at ``fault``."""
    full = {**os.environ, **env, "LEDGERLINE_FAULT": fault}
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "pipeline", "advance"],
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _assert_confirmed_once(generation: Generation) -> None:
    works = list(generation.works.select_related("token"))
    assert [w.status for w in works] == [WorkStatus.CONFIRMED] * COUNT, [(w.status, w.error) for w in works]
    contract = works_contract(ledger=Ledger.connect())
    assert contract.functions.totalMinted().call() == COUNT  # never a second token for a work
    token_ids = {w.token.token_id for w in works if w.token}
    assert token_ids == set(range(1, COUNT + 1))
    for work in works:
        assert contract.functions.tokenOfContent(bytes.fromhex(work.content_sha256)).call() == work.token.token_id


@pytest.mark.parametrize("fault", ["work_pin", "after_broadcast", "after_mint"])
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_step_loses_nothing_and_mints_once(
    fault: str,
    team: Any,
    chorale_files: list[Path],
    embedded: None,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.LEDGERLINE_LEASE_SECONDS = 3  # the leases the killed worker held lapse soon
    generation = _generated_works(team, chorale_files, django_capture_on_commit_callbacks)
    env = _settings_env(settings)
    killed = _worker(env, fault)
    assert killed.returncode == 137, killed.stderr[-2000:]
    statuses = set(generation.works.values_list("status", flat=True))
    assert WorkStatus.CONFIRMED not in statuses
    if fault == "after_broadcast":  # sent, its outcome never recorded
        assert ChainTransaction.objects.filter(kind="mint", status="pending").count() == 1
    if fault == "after_mint":  # mined and recorded, the works not yet told
        assert ChainTransaction.objects.filter(kind="mint", status="confirmed").count() == 1
        assert statuses == {WorkStatus.PINNED}
    time.sleep(settings.LEDGERLINE_LEASE_SECONDS)  # the leases it held lapse (a worker that comes sooner waits)
    finished = _worker(env)
    assert finished.returncode == 0, finished.stderr[-2000:]
    _assert_confirmed_once(generation)
    again = _worker(env)  # a worker run once more finds nothing to do
    assert again.returncode == 0 and ChainTransaction.objects.filter(kind="mint").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_chain_node_and_ipfs_daemon_stopped_mid_batch(
    team: Any,
    chorale_files: list[Path],
    embedded: None,
    settings: Any,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """anvil and js-ipfs, each stopped between the batch's steps and started again on the same
    state: the step that needs it fails with a 503-kind error, and the next run finishes."""
    state, repo = tmp_path / "anvil.json", tmp_path / "jsipfs"
    with anvil(state=state) as url, jsipfs_daemon(repo) as ipfs_url:
        port = int(url.rsplit(":", 1)[1])
        for name, value in chain_env("anvil", tmp_path, url).items():
            setattr(settings, name, Path(value) if name in ("CHAIN_STATE_DIR", "CHAIN_ACCOUNT_KEYFILE") else value)
        fund(url, keyfile_for_new_account(Path(settings.CHAIN_ACCOUNT_KEYFILE)))
        settings.IPFS_API_URL = ipfs_url
        from ledgerline.ledger.services import contract_deploy

        contract_deploy(ledger=Ledger.connect())
        generation = _generated_works(team, chorale_files, django_capture_on_commit_callbacks)
    # Both are down now: checking still works; signing cannot, since the signed file goes to the
    # IPFS node for the other hosts (IPFS_API_URL: hosts share no disk), nor can pinning.
    with pytest.raises(IpfsUnavailable):
        drive.works_advance()
    assert set(generation.works.values_list("status", flat=True)) == {WorkStatus.CHECKED}
    with jsipfs_daemon(repo, port=int(ipfs_url.rsplit(":", 1)[1])):
        with pytest.raises(ChainUnavailable):
            drive.works_advance()
        assert set(generation.works.values_list("status", flat=True)) == {WorkStatus.PINNED}
        with anvil(state=state, port=port):
            counts = drive.works_advance()
            assert counts == {WorkStatus.CONFIRMED: COUNT}
            _assert_confirmed_once(generation)
    assert Work.objects.count() == COUNT


@pytest.mark.django_db(transaction=True)
def test_another_minter_taking_the_expected_token_ids_gets_the_metadata_corrected(
    team: Any, chorale_files: list[Path], embedded: None, django_capture_on_commit_callbacks: Any
) -> None:
    """A mint by someone else lands between predicting the token ids and minting: the batch's
    metadata folder is re-pinned for the ids the chain gave, and confirmation reads it back."""
    from ledgerline.faults import fault_point
    from ledgerline.ledger.services import contents_mint

    generation = _generated_works(team, chorale_files, django_capture_on_commit_callbacks)
    ledger = Ledger.connect()

    def race(name: str) -> None:
        if name == "before_mint":
            contents_mint(
                ledger=ledger,
                content_hashes=["ab" * 32],
                metadata_cid="someone-else",
                to=ledger.account.address,
                royalty_receiver=ledger.account.address,
                royalty_bps=0,
            )
        fault_point(name)

    with patch("ledgerline.works.minting.fault_point", race):
        assert drive.works_advance() == {WorkStatus.CONFIRMED: COUNT}
    contract = works_contract(ledger=ledger)
    ids = sorted(w.token.token_id for w in generation.works.select_related("token") if w.token)
    assert ids == [2, 3, 4] and contract.functions.totalMinted().call() == COUNT + 1
    assert ChainTransaction.objects.filter(kind="set_metadata", status="confirmed").count() == 1
