"""Starting real servers (anvil, js-ipfs, Ledgerline itself) on loopback for the tests that need them."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(
    process: subprocess.Popen[bytes],
    probe: Callable[[], object],
    *,
    what: str,
    timeout: float,
    retry_on: type[BaseException] | tuple[type[BaseException], ...],
    interval: float = 0.2,
) -> None:
    """Call ``probe`` until it succeeds; fail if ``process`` exits or ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            probe()
            return
        except retry_on:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(interval)


def celery_worker_command(queues: str) -> list[str]:
    """A Celery worker of ``queues`` ("default", "gpu" or both) in one process, logging when it is ready."""
    celery = [sys.executable, "-m", "celery", "--workdir", "platform", "-A", "ledgerline", "worker"]
    return [*celery, "--queues", queues, "--pool", "solo", "--loglevel", "INFO", "--without-gossip", "--without-mingle"]


def ledgerline_env(var: Path, **extra: str) -> dict[str, str]:
    """The environment of a Ledgerline of its own, on SQLite under ``var``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DATABASE_URL"))}
    return env | {"LEDGERLINE_VAR_DIR": str(var), "PYTHONPATH": f"{ROOT / 'platform'}{os.pathsep}{ROOT}", **extra}


@contextmanager
def ledgerline_served(env: dict[str, str], *args: str) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """`make run`'s server (tools/serve.py) on a free port: its URL, its process and its log."""
    port = free_port()
    log = Path(env["LEDGERLINE_VAR_DIR"]) / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "tools/serve.py", "--port", str(port), *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(
            process,
            lambda: urllib.request.urlopen(f"{url}/healthz", timeout=5),
            what="tools/serve.py",
            timeout=90,
            retry_on=(OSError,),
        )
        yield url, process, log
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


@contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    assert Path(binary).exists(), "redis-server is missing: apt-get install redis-server (.ci/run installs it)"
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(
            process, redis.Redis(port=port).ping, what="redis-server", timeout=30, retry_on=redis.ConnectionError
        )
        yield f"redis://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
