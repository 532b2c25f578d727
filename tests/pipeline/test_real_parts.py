"""The same flow on the real parts: Redis as the broker with a separate Celery worker process
(both queues), anvil as the chain, the js-ipfs daemon as IPFS, and the database the suite runs
on (PostgreSQL in CI's second pass). The first worker is killed (SIGKILL) mid-training; the next one
finds the run and resumes it. The test only talks to the API and reads the results."""

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ledgerline.celery import app
from ledgerline.ledger.client import Ledger
from ledgerline.ledger.services import contract_deploy
from ledgerline.provenance.models import SigningKey
from tests.conftest import dataset_create
from tests.daemons import celery_worker_command, redis_server
from tests.ledger.conftest import anvil, chain_env, fund, keyfile_for_new_account
from tests.pipeline.conftest import TINY, forget_connections, model_signing_verify, upload_files, work_links_check
from tests.pipeline.test_faults import _settings_env
from tests.storage.conftest import jsipfs_daemon

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def celery_worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A worker of both queues in its own process, as `docker-compose up` would run one."""
    with open(log, "wb") as out:
        process = subprocess.Popen(
            celery_worker_command("default,gpu"),
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_for(check: Callable[[], Any], *, what: str, timeout: float, log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(1)
    raise AssertionError(f"{what} did not happen in {timeout:.0f} s; worker log:\n{log.read_text()[-4000:]}")


@pytest.mark.django_db(transaction=True)
def test_the_flow_on_redis_a_worker_process_anvil_and_jsipfs(
    team: Any, chorale_files: list[Path], settings: Any, tmp_path: Path
) -> None:
    with redis_server() as broker, anvil() as chain_url, jsipfs_daemon(tmp_path / "jsipfs") as ipfs_url:
        for name, value in chain_env("anvil", tmp_path, chain_url).items():
            setattr(settings, name, Path(value) if name in ("CHAIN_STATE_DIR", "CHAIN_ACCOUNT_KEYFILE") else value)
        fund(chain_url, keyfile_for_new_account(Path(settings.CHAIN_ACCOUNT_KEYFILE)))
        settings.IPFS_API_URL = ipfs_url
        settings.LEDGERLINE_RUNS_DIR = tmp_path / "runs"
        contract_deploy(ledger=Ledger.connect())  # once per chain, as `manage.py chain deploy`
        env = {**_settings_env(settings), "CELERY_BROKER_URL": f"{broker}/0", "CELERY_RESULT_BACKEND": f"{broker}/1"}
        previous = app.conf.broker_url, app.conf.result_backend, app.conf.task_always_eager
        app.conf.update(
            broker_url=env["CELERY_BROKER_URL"], result_backend=env["CELERY_RESULT_BACKEND"], task_always_eager=False
        )
        forget_connections()  # an earlier test may have connected to the default broker
        log = tmp_path / "worker.log"
        client = team.owner.client
        try:
            with celery_worker(env, tmp_path / "killed-worker.log") as first:
                dataset = dataset_create(team)
                upload_files(client, dataset, chorale_files[:8])
                version = client.post(f"/api/v1/datasets/{dataset}/versions/", {}, format="json").json()
                config = {**TINY, "max_steps": 200, "eval_every": 20}
                run = client.post(
                    "/api/v1/training-runs/",
                    {"name": "tiny", "config": config, "dataset_versions": [version["id"]]},
                    format="json",
                )
                assert run.status_code == 201, run.json()
                url = f"/api/v1/training-runs/{run.json()['id']}/"
                wait_for(
                    lambda: client.get(url).json()["progress"].get("step", 0) >= 40,
                    what="training to start",
                    timeout=300,
                    log=tmp_path / "killed-worker.log",
                )
                first.kill()  # kill -9, mid-training: the message is not acknowledged, the run is `running`
                first.wait()
            assert client.get(url).json()["status"] == "running"
            with celery_worker(env, log):  # its start-up sweep queues the run again, which resumes
                run = wait_for(
                    lambda: (r := client.get(url).json())["status"] in ("succeeded", "failed") and r,
                    what="training",
                    timeout=300,
                    log=log,
                )
                assert run["status"] == "succeeded", run["error"]
                steps = [point["step"] for point in run["progress"]["curve"]]
                assert steps[-1] == 200 and steps == sorted(set(steps)), steps  # resumed, not started over
                model = run["artifacts"][0]
                key = SigningKey.objects.get(key_id=model["key_id"])
                folder = Path(settings.LEDGERLINE_RUNS_DIR) / run["id"] / "train" / "checkpoint"
                assert model_signing_verify(folder, key.public_key_pem, tmp_path).returncode == 0

                created = client.post(
                    "/api/v1/generations/",
                    {
                        "title": "Real",
                        "model": model["id"],
                        "count": 2,
                        "parameters": {"length": 64, "originality_max_run": 1000},
                    },
                    format="json",
                )
                assert created.status_code == 201, created.json()
                url = f"/api/v1/generations/{created.json()['id']}/"
                generation = wait_for(
                    lambda: (g := client.get(url).json())["progress"]["confirmed"] == 2 and g,
                    what="two confirmed works",
                    timeout=300,
                    log=log,
                )
        finally:
            app.conf.update(broker_url=previous[0], result_backend=previous[1], task_always_eager=previous[2])
            forget_connections()
        tokens = {work_links_check(w, model, [version], key.public_key_pem) for w in generation["works"]}
        assert len(tokens) == 2
