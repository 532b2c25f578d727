"""`make run`'s server (tools/serve.py: gunicorn and the Celery worker, supervised) on loopback:
it survives the request that used to kill it, and a worker that dies is started again."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.daemons import ledgerline_env, ledgerline_served

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

pytestmark = pytest.mark.slow


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def said(self) -> str:
        return self.log.read_text()


def request(
    url: str, body: bytes | None = None, content_type: str = "application/json"
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": content_type} if body else {})
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = ledgerline_env(tmp_path_factory.mktemp("serve-var"), SIGNING_KEY_PASSPHRASE="serve test passphrase")
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True)
    with ledgerline_served(env, "--web-workers", "1") as (url, process, log):
        yield Server(url, process, log)


def test_it_serves_with_a_production_server(server: Server) -> None:
    status, headers, _ = request(f"{server.url}/healthz")
    assert status == 200
    assert "WSGIServer" not in headers.get("Server", "")
    assert "gunicorn" in headers.get("Server", "").lower()


def test_a_deeply_nested_body_is_refused_and_the_site_keeps_serving(server: Server) -> None:
    booted = server.said().count("Booting worker")
    deep = b"[" * 100_000 + b"]" * 100_000
    status, _, body = request(f"{server.url}/api/v1/verify", deep)
    assert status == 400
    assert "deeper than 64 levels" in json.loads(body)["error"]["message"]
    status, _, body = request(f"{server.url}/api/v1/keys/")
    assert status == 200
    assert server.said().count("Booting worker") == booted  # no request worker died and was replaced


def test_a_worker_that_dies_is_started_again(server: Server) -> None:
    worker = int(re.findall(r"worker started \(pid (\d+)\)", server.said())[-1])
    os.kill(worker, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(re.findall(r"worker started", server.said())) < 2:
        time.sleep(0.2)
    assert "worker exited with status -9" in server.said()
    assert len(re.findall(r"worker started", server.said())) == 2
    status, _, _ = request(f"{server.url}/healthz")
    assert status == 200  # the site never went down with it
