"""Hosts that share nothing but the real services. One site, two default workers and gpu workers
run as separate processes, each with its own LEDGERLINE_VAR_DIR; they share only PostgreSQL,
Redis, the js-ipfs node and anvil. Through the site's API: upload, freeze, train, generate six
works, mint, verify. The gpu worker is killed (SIGKILL) mid-training and a fresh one, on a new
empty folder, resumes the run from the resume point it fetches; a default worker is killed
mid-batch and a fresh one finishes. Only the gpu workers lack the signing secrets.

PostgreSQL only: hosts cannot share the embedded SQLite file without sharing a disk."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from django.db import connection

from ledgerline.celery import app
from ledgerline.datasets.models import Blob
from ledgerline.ledger.client import Ledger
from ledgerline.ledger.models import ChainTransaction, Token
from ledgerline.ledger.services import contract_deploy
from ledgerline.provenance.models import SigningKey
from ledgerline.storage.client import ipfs_connect
from ledgerline.works.models import Work
from ledgerline_verify.unixfs import CID
from tests.daemons import celery_worker_command, free_port, redis_server, wait_until_up
from tests.ledger.conftest import anvil, chain_env, fund, keyfile_for_new_account
from tests.pipeline.conftest import TINY, forget_connections, ipfs_bytes, work_links_check
from tests.storage.conftest import jsipfs_daemon

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _needs_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("hosts share a database server: run with DATABASE_URL=postgres://... (CI's second pass)")


class Hosts:
    """Starts each process as its own host: its own var folder, the shared services' addresses,
    and the secrets its kind needs."""

    def __init__(self, root: Path, shared: dict[str, str], secrets: dict[str, str], stack: ExitStack) -> None:
        self.root, self.shared, self.secrets, self.stack = root, shared, secrets, stack
        root.mkdir(parents=True)

    def env(self, name: str, *, signs: bool, **extra: str) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "LEDGERLINE_"))}
        var = self.root / name
        var.mkdir(parents=True)
        return {
            **keep,
            **self.shared,
            **(self.secrets if signs else {}),
            "LEDGERLINE_VAR_DIR": str(var),
            "PYTHONPATH": f"{ROOT / 'platform'}{os.pathsep}{ROOT}",
            **extra,
        }

    def start(self, name: str, command: list[str], *, signs: bool, **extra: str) -> subprocess.Popen[bytes]:
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 (closed by the stack)
        self.stack.callback(log.close)
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.env(name, signs=signs, **extra), stdout=log, stderr=subprocess.STDOUT
        )
        self.stack.callback(_stop, process)
        return process

    def worker(self, name: str, queue: str, **extra: str) -> subprocess.Popen[bytes]:
        return self.start(name, celery_worker_command(queue), signs=queue == "default", **extra)

    def site(self, name: str) -> str:
        port = free_port()
        command = [sys.executable, "-m", "gunicorn", "--chdir", "platform", "--bind", f"127.0.0.1:{port}"]
        process = self.start(name, [*command, "--threads", "4", "--no-control-socket", "ledgerline.wsgi"], signs=True)
        url = f"http://127.0.0.1:{port}"
        wait_until_up(
            process,
            lambda: requests.get(f"{url}/healthz", timeout=5).raise_for_status(),
            what="the site",
            timeout=90,
            retry_on=(requests.RequestException,),
        )
        return url

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def files(self, name: str, folder: str) -> set[str]:
        return {p.name for p in (self.root / name / folder).rglob("*") if p.is_file()}


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait(check: Callable[[], Any], *, what: str, timeout: float, hosts: Hosts, logs: list[str]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.5)
    tails = "\n".join(f"--- {name}:\n{hosts.log(name)[-3000:]}" for name in logs)
    raise AssertionError(f"{what} did not happen in {timeout:.0f} s\n{tails}")


@contextmanager
def _services(tmp_path: Path, settings: Any) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    with redis_server() as broker, anvil() as chain_url, jsipfs_daemon(tmp_path / "jsipfs") as ipfs_url:
        secrets_dir = tmp_path / "secrets"  # what a deployment mounts as secrets: read, never shared as a disk
        chain = chain_env("anvil", secrets_dir, chain_url)
        fund(chain_url, keyfile_for_new_account(Path(chain["CHAIN_ACCOUNT_KEYFILE"])))
        for name in ("CHAIN_ACCOUNT_KEYFILE", "CHAIN_ACCOUNT_PASSPHRASE", "CHAIN_RPC_URL"):
            setattr(settings, name, Path(chain[name]) if name.endswith("KEYFILE") else chain[name])
        settings.IPFS_API_URL = ipfs_url
        contract_deploy(ledger=Ledger.connect())  # once per chain, as `manage.py chain deploy`
        database = settings.DATABASES["default"]
        shared = {
            "DATABASE_URL": f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:"
            f"{database['PORT']}/{database['NAME']}",
            "CELERY_BROKER_URL": f"{broker}/0",
            "CELERY_RESULT_BACKEND": f"{broker}/1",
            "IPFS_API_URL": ipfs_url,
            "CHAIN_RPC_URL": chain_url,
            "LEDGERLINE_LEASE_SECONDS": "10",
        }
        secrets = {
            "SIGNING_KEY_PASSPHRASE": settings.SIGNING_KEY_PASSPHRASE,
            "CHAIN_ACCOUNT_KEYFILE": chain["CHAIN_ACCOUNT_KEYFILE"],
            "CHAIN_ACCOUNT_PASSPHRASE": chain["CHAIN_ACCOUNT_PASSPHRASE"],
        }
        previous = app.conf.broker_url, app.conf.result_backend, app.conf.task_always_eager
        app.conf.update(broker_url=shared["CELERY_BROKER_URL"], result_backend=shared["CELERY_RESULT_BACKEND"])
        app.conf.task_always_eager = False
        forget_connections()
        try:
            yield shared, secrets
        finally:
            app.conf.update(broker_url=previous[0], result_backend=previous[1], task_always_eager=previous[2])
            forget_connections()


@pytest.mark.django_db(transaction=True)
def test_hosts_that_share_only_the_services_train_generate_and_mint(
    team: Any, chorale_files: list[Path], settings: Any, tmp_path: Path
) -> None:
    with _services(tmp_path, settings) as (shared, secrets), ExitStack() as stack:
        hosts = Hosts(tmp_path / "hosts", shared, secrets, stack)
        site = hosts.site("site")
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {team.owner.token}"

        def get(path: str) -> Any:
            response = api.get(f"{site}{path}", timeout=30)
            assert response.status_code == 200, response.text
            return response.json()

        # Upload and freeze, on the site.
        body = {"name": "Chorales", "licence_spdx": "CC-BY-4.0", "consent": {"cawg.ai_training": "allowed"}}
        dataset = api.post(f"{site}/api/v1/datasets/", json=body, timeout=30).json()["id"]
        files = [("file", (path.name, path.read_bytes(), "audio/midi")) for path in chorale_files[:8]]
        uploaded = api.post(f"{site}/api/v1/datasets/{dataset}/files/", files=files, timeout=120)
        assert uploaded.status_code == 201, uploaded.text
        version = api.post(f"{site}/api/v1/datasets/{dataset}/versions/", json={}, timeout=60).json()
        uploads = hosts.files("site", "blobs")
        assert len(uploads) == 8

        # Train on a gpu host, killed mid-training; a fresh one on an empty folder resumes.
        first_default = hosts.worker("default-1", "default")
        first_gpu = hosts.worker("gpu-1", "gpu")
        config = {**TINY, "max_steps": 200, "eval_every": 20}
        created = api.post(
            f"{site}/api/v1/training-runs/",
            json={"name": "tiny", "config": config, "dataset_versions": [version["id"]]},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        run_url = f"/api/v1/training-runs/{created.json()['id']}/"
        _wait(
            lambda: get(run_url)["progress"].get("step", 0) >= 60,
            what="training to 60 steps",
            timeout=300,
            hosts=hosts,
            logs=["gpu-1"],
        )
        first_gpu.kill()  # SIGKILL mid-training: its lease lapses, its message is never acknowledged
        first_gpu.wait()
        killed_at = get(run_url)["progress"]["step"]
        assert uploads <= hosts.files("gpu-1", "blobs")  # the training data came by hash from the IPFS node
        hosts.worker("gpu-2", "gpu")  # its start-up sweep queues the run again
        run = _wait(
            lambda: (r := get(run_url))["status"] in ("succeeded", "failed") and r,
            what="training",
            timeout=400,
            hosts=hosts,
            logs=["gpu-2", "default-1"],
        )
        assert run["status"] == "succeeded", run["error"]
        resumed = [line for line in hosts.log("gpu-2").splitlines() if "resumes from step" in line]
        assert resumed and 60 <= int(resumed[0].rsplit(" ", 1)[-1]) <= killed_at, hosts.log("gpu-2")[-3000:]
        steps = [point["step"] for point in run["progress"]["curve"]]
        assert steps[:3] == [20, 40, 60] and steps[-1] == 200 and steps == sorted(set(steps)), steps  # kept, resumed
        assert not (tmp_path / "hosts" / "gpu-2" / "keys").exists()  # it signed nothing: default-1 did,
        assert "model.safetensors" in hosts.files("default-1", f"runs/{run['id']}")  # on the checkpoint it fetched
        model = run["artifacts"][0]
        assert model["key_id"] and SigningKey.objects.filter(key_id=model["key_id"]).exists()

        # Generate six works on the gpu host. The one default worker dies at its first mint, right after
        # sending the transaction (as kill -9 would, at the one moment no timing hits reliably); two
        # fresh default workers, on empty folders, settle that mint and finish the batch.
        _stop(first_default)
        doomed = hosts.worker("default-2", "default", LEDGERLINE_FAULT="after_broadcast")
        created = api.post(
            f"{site}/api/v1/generations/",
            json={
                "title": "Hosts",
                "model": model["id"],
                "count": 6,
                "parameters": {"length": 64, "originality_max_run": 1000},
            },
            timeout=30,
        )
        assert created.status_code == 201, created.text
        generation_url = f"/api/v1/generations/{created.json()['id']}/"
        _wait(lambda: doomed.poll() is not None, what="a mint", timeout=300, hosts=hosts, logs=["gpu-2", "default-2"])
        assert doomed.returncode == 137
        assert get(generation_url)["progress"].get("confirmed", 0) == 0  # mid-batch: sent, not recorded
        assert ChainTransaction.objects.filter(kind="mint", status="pending").count() == 1
        hosts.worker("default-3", "default")
        hosts.worker("default-4", "default")
        generation = _wait(
            lambda: (g := get(generation_url))["progress"].get("confirmed", 0) == 6 and g,
            what="six confirmed works",
            timeout=400,
            hosts=hosts,
            logs=["default-3", "default-4"],
        )
        outputs = {o["sha256"] for w in generation["works"] for o in w["outputs"]}
        assert outputs & hosts.files("default-2", "blobs")  # the works' outputs came from the gpu host by CID

        # Verified, through the site and independently; one token per work, one mint transaction per batch.
        work = generation["works"][0]
        audio = ipfs_bytes(work["cid"], "work.wav")
        report = api.post(f"{site}/api/v1/verify", files={"file": ("work.wav", audio, "audio/wav")}, timeout=120)
        assert report.status_code == 201 and report.json()["verdict"] == "verified", report.text
        # The site's gateway serves what was published, block by block as a verifier reads it, and
        # not the dataset's files that went to the same node for the gpu host.
        assert requests.get(f"{site}/ipfs/{work['cid']}/work.wav", timeout=30).content == audio
        audio_cid = ipfs_connect().resolve(CID.parse(work["cid"]), "work.wav")
        assert requests.get(f"{site}/ipfs/{audio_cid}?format=raw", timeout=30).status_code == 200
        upload = Blob.objects.get(sha256=sorted(uploads)[0])
        assert requests.get(f"{site}/ipfs/{upload.cid}", timeout=30).status_code == 404
        key = SigningKey.objects.get(key_id=model["key_id"])
        tokens = {work_links_check(w, model, [version], key.public_key_pem) for w in generation["works"]}
        assert len(tokens) == 6 and Token.objects.count() == 6
        mints = ChainTransaction.objects.filter(kind="mint")
        assert all(m.status == "confirmed" for m in mints), [(m.status, m.error) for m in mints]
        assert len(mints) == 1 and len(mints[0].payload["content_hashes"]) == 6  # the one sent before the crash
        assert Work.objects.filter(status="confirmed").count() == 6
