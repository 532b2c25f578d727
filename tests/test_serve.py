"""`make run`'s server (tools/serve.py: gunicorn and the Celery worker, supervised) on loopback:
it survives the request that used to kill it, and a worker that dies is started again."""

import base64
import hashlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ledgerline.datasets import samples
from ledgerline.datasets.samples import pcm16_wav_header
from tests.daemons import ledgerline_env, ledgerline_served

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
MiB = 1024 * 1024

pytestmark = pytest.mark.slow


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str]

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
        yield Server(url, process, log, env)


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


def _uploader(server: Server) -> tuple[str, str]:
    """An API token of a label's admin and the id of an empty dataset of the label's."""
    script = (
        "from ledgerline.accounts import services as a; from ledgerline.accounts.models import Membership; "
        "from ledgerline.datasets import services as d; "
        "u = a.user_create(username='uploader', password='uploader password 123'); "
        "o = a.organisation_create(name='Served Label', admin=u); "
        "_, t = a.api_token_create(membership=Membership.objects.get(user=u), name='t'); "
        "s = d.dataset_create(organisation=o, name='s', licence=d.Licence('MIT'), consent={}, rights=[], "
        "created_by=u); "
        "print(t, s.pk)"
    )
    made = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", script], cwd=ROOT, env=server.env, check=True, capture_output=True
    )
    token, dataset = made.stdout.decode().split()[-2:]
    return token, dataset


def _wav(size: int, seed: int) -> bytes:
    return pcm16_wav_header(size - 44) + random.Random(seed).randbytes(size - 44)


def _responses(sock: socket.socket, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """``count`` HTTP responses read off one connection: status, headers, body."""
    data, answers = b"", []
    while len(answers) < count:
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536) or pytest.fail(f"the connection closed after {answers!r} {data!r}")
        head, data = data.split(b"\r\n\r\n", 1)
        status, *lines = head.decode().split("\r\n")
        headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
        while len(data) < int(headers.get("content-length", "0")):
            data += sock.recv(65536)
        length = int(headers.get("content-length", "0"))
        answers.append((int(status.split()[1]), headers, data[:length]))
        data = data[length:]
    return answers


def test_bodies_are_read_from_gunicorns_socket_and_the_connection_goes_on(server: Server, tmp_path: Path) -> None:
    """The upload views read a body straight from gunicorn's socket (api.views.RequestBody): what
    gunicorn read ahead with the headers comes first, a request pipelined behind the body is left
    for gunicorn, and a body cut short keeps, in a resumable upload, what arrived."""
    token, dataset = _uploader(server)
    port = int(server.url.rsplit(":", 1)[1])
    auth = f"Authorization: Bearer {token}\r\n"

    take = _wav(9 * MiB + 124, seed=1)  # over two of the relay's chunks, and not a whole one
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        head = (
            f"PUT /api/v1/datasets/{dataset}/files/take.wav HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(take)}\r\n\r\n"
        ).encode()
        sock.sendall(head + take[:1000])  # gunicorn reads these with the headers
        time.sleep(0.2)
        for start in range(1000, len(take) - 5000, 1 << 20):
            sock.sendall(take[start : min(start + (1 << 20), len(take) - 5000)])
        sock.sendall(take[-5000:] + f"GET /api/v1/uploads/ HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode())
        (put_status, _, put_body), (list_status, _, _) = _responses(sock, 2)
    assert put_status == 201, put_body
    stored = json.loads(put_body)
    assert (stored["sha256"], stored["size"]) == (hashlib.sha256(take).hexdigest(), len(take))
    assert list_status == 200  # the pipelined request was read from where the body ended

    melody = samples.melody_midi(tmp_path / "melody.mid", seed=3).read_bytes()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(  # a body gunicorn reads whole with the headers, and the next request with it
            f"PUT /api/v1/datasets/{dataset}/files/melody.mid HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(melody)}\r\n\r\n".encode()
            + melody
            + f"GET /api/v1/uploads/ HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode()
        )
        (put_status, _, put_body), (list_status, _, _) = _responses(sock, 2)
    assert put_status == 201 and json.loads(put_body)["sha256"] == hashlib.sha256(melody).hexdigest()
    assert list_status == 200

    other = _wav(6 * MiB + 8, seed=2)
    tus = f"Tus-Resumable: 1.0.0\r\n{auth}"
    metadata = (
        f"dataset {base64.b64encode(dataset.encode()).decode()},filename {base64.b64encode(b'other.wav').decode()}"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(
            f"POST /api/v1/uploads/ HTTP/1.1\r\nHost: 127.0.0.1\r\n{tus}Upload-Length: {len(other)}\r\n"
            f"Upload-Metadata: {metadata}\r\nContent-Length: 0\r\n\r\n".encode()
        )
        [(status, headers, _)] = _responses(sock, 1)
        assert status == 201
        location = urlsplit(headers["location"]).path
        sock.sendall(
            f"PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1\r\n{tus}Upload-Offset: 0\r\n"
            f"Content-Type: application/offset+octet-stream\r\nContent-Length: {len(other)}\r\n\r\n".encode()
            + other[: 5 * MiB + 11]
        )
    # The client went away 5 MiB and 11 bytes in: the upload keeps them, once that request has ended.
    deadline, offset = time.monotonic() + 30, 0
    while offset != 5 * MiB + 11 and time.monotonic() < deadline:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sock.sendall(f"HEAD {location} HTTP/1.1\r\nHost: 127.0.0.1\r\n{tus}\r\n".encode())
            [(status, headers, _)] = _responses(sock, 1)
        offset = int(headers["upload-offset"])
        time.sleep(0.1)
    assert offset == 5 * MiB + 11
    rest = other[offset:]
    checksum = base64.b64encode(hashlib.sha256(rest).digest()).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(
            f"PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1\r\n{tus}Upload-Offset: {offset}\r\n"
            f"Upload-Checksum: sha256 {checksum}\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Content-Length: {len(rest)}\r\n\r\n".encode()
            + rest
            + f"GET /api/v1/datasets/{dataset}/files/ HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode()
        )
        (status, headers, _), (_, _, listing) = _responses(sock, 2)
    assert status == 204 and headers["upload-offset"] == str(len(other))
    files = {f["path"]: f["sha256"] for f in json.loads(listing)["results"]}
    assert files == {
        "take.wav": hashlib.sha256(take).hexdigest(),
        "melody.mid": hashlib.sha256(melody).hexdigest(),
        "other.wav": hashlib.sha256(other).hexdigest(),
    }


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
