"""Works per minute through the default queue's steps (check, sign, pin, mint, confirm) with one
and with two default workers, on real Redis and PostgreSQL, js-ipfs and anvil, each worker a
separate process with its own var folder (as on hosts of their own, issue [17]).

Loads the demo (its prebuilt model, signed, pinned and anchored), then for each worker count:
starts the workers and waits until they are ready, generates --works works in this process (not
timed: the gpu queue's part), queues the generation's advance tasks and times until every work
is confirmed. The baseline is SHA-256 over the same works' outputs (MIDI and WAV, read from the
blob store), in this process: the pipeline's time per work is printed as a ratio to it.

    .venv/bin/python bench/pipeline.py --database-url postgres://... [--works 24] [--workers 1 2]
"""

import argparse
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT), str(ROOT / "bench")]

from django_fresh import django_fresh  # noqa: E402

from tests.daemons import celery_worker_command, redis_server  # noqa: E402
from tests.ledger.conftest import PASSPHRASE, anvil, fund, keyfile_for_new_account  # noqa: E402
from tests.storage.conftest import jsipfs_daemon  # noqa: E402


def workers_start(count: int, env: dict[str, str], folder: Path) -> list[subprocess.Popen[bytes]]:
    """``count`` default workers, each a process with its own var folder; returns once all are ready."""
    processes, logs = [], []
    for n in range(count):
        var = Path(tempfile.mkdtemp(prefix=f"worker-{n}-", dir=folder))
        log = var / "worker.log"
        with open(log, "wb") as out:
            processes.append(
                subprocess.Popen(
                    celery_worker_command("default"),
                    cwd=ROOT,
                    env={**env, "LEDGERLINE_VAR_DIR": str(var)},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
        logs.append(log)
    deadline = time.monotonic() + 120
    while not all(b"ready." in log.read_bytes() for log in logs):
        if time.monotonic() > deadline:
            raise SystemExit(f"the workers did not start; see {folder}")
        time.sleep(0.2)
    time.sleep(2)  # their start-up sweeps done
    return processes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="PostgreSQL, emptied first")
    parser.add_argument("--works", type=int, default=24)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="ledgerline-bench-pipeline-"))
    with redis_server() as broker, anvil() as chain_url, jsipfs_daemon(folder / "jsipfs") as ipfs_url:
        keyfile = folder / "secrets" / "chain.json"
        fund(chain_url, keyfile_for_new_account(keyfile))
        env = {
            "IPFS_API_URL": ipfs_url,
            "CHAIN_RPC_URL": chain_url,
            "CHAIN_ACCOUNT_KEYFILE": str(keyfile),
            "CHAIN_ACCOUNT_PASSPHRASE": PASSPHRASE,
            "CELERY_BROKER_URL": f"{broker}/0",
            "CELERY_RESULT_BACKEND": f"{broker}/1",
            "SIGNING_KEY_PASSPHRASE": "bench passphrase",
            "LEDGERLINE_LEASE_SECONDS": "15",
        }
        os.environ.update(env)
        django_fresh("ledgerline-bench-pipeline-site-", database_url=args.database_url)
        from django.core.management import call_command

        from ledgerline.datasets.blobs import blob_file
        from ledgerline.ledger.client import Ledger
        from ledgerline.ledger.services import contract_deploy
        from ledgerline.pipeline.drive import works_generate
        from ledgerline.pipeline.requests import generation_request
        from ledgerline.pipeline.tasks import ADVANCERS, advance_task
        from ledgerline.training.models import ModelArtifact
        from ledgerline.works.models import Generation, WorkOutput, WorkStatus

        contract_deploy(ledger=Ledger.connect())
        call_command("demo", verbosity=0)
        model = ModelArtifact.objects.get(run__organisation__slug="demo-label")
        worker_env = {**os.environ, "DATABASE_URL": args.database_url, "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}"}
        print(f"{args.works} works a round; demo model {model.blob.sha256[:12]}; {os.cpu_count()} cores")
        print(f"{'default workers':>15} {'seconds':>8} {'works/min':>9} {'s/work':>7} {'hash s/work':>11} {'ratio':>8}")
        for count in args.workers:
            generation = generation_request(
                organisation=model.run.organisation,
                title=f"Bench with {count}",
                model=model,
                count=args.works,
                seed=count,
                created_by=None,
                parameters={"length": 256, "temperature": 0.9, "originality_max_run": 1000},
            )
            processes = workers_start(count, worker_env, folder)  # their start-up sweeps done before the works exist
            try:
                works_generate(generation=Generation.objects.get(pk=generation.pk))
                outputs = [blob_file(o.blob.sha256) for o in WorkOutput.objects.filter(work__generation=generation)]
                hashing = min(_hash_time(outputs) for _ in range(3))
                started = time.perf_counter()
                for _ in range(ADVANCERS):
                    advance_task.delay(str(generation.pk))
                works = generation.works.all()
                while works.filter(status=WorkStatus.CONFIRMED).count() < args.works:
                    if works.filter(status__in=[WorkStatus.FAILED, WorkStatus.HELD]).exists():
                        errors = list(works.exclude(error="").values_list("error", flat=True)[:1])
                        raise SystemExit(f"a work failed: {errors}")
                    time.sleep(0.1)
                seconds = time.perf_counter() - started
            finally:
                for process in processes:
                    process.send_signal(signal.SIGTERM)
                for process in processes:
                    process.wait(timeout=60)
            per_work = seconds / args.works
            print(
                f"{count:>15} {seconds:>8.1f} {60 / per_work:>9.1f} {per_work:>7.2f} "
                f"{hashing / args.works:>11.5f} {per_work / (hashing / args.works):>7.0f}x"
            )


def _hash_time(paths: list[Path]) -> float:
    started = time.perf_counter()
    for path in paths:
        hashlib.sha256(path.read_bytes()).hexdigest()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
