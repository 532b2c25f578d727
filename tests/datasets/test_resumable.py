"""Resumable uploads (tus 1.0) at /api/v1/uploads/: tuspy, the protocol's own Python client,
against a live site; and what a client that breaks the protocol, or a file that is not media,
gets back."""

import base64
import fcntl
import hashlib
import io
import os
import tracemalloc
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from django.core.management import call_command
from django.test.client import ClientHandler
from django.utils import timezone
from rest_framework.test import APIClient
from tusclient import client as tus

from ledgerline.datasets import resumable
from ledgerline.datasets.models import Blob, DatasetFile, Upload
from ledgerline.datasets.samples import pcm16_wav_header
from tests.conftest import Team, dataset_create

MiB = 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}


def _metadata(**values: str) -> str:
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items())


def _stored(dataset_id: str, path: str) -> DatasetFile:
    return DatasetFile.objects.select_related("blob").get(dataset_id=dataset_id, path=path)


def _blobs(settings: Any) -> list[Path]:
    return [p for p in Path(settings.LEDGERLINE_BLOB_DIR).glob("??/??/*")]


@pytest.mark.django_db(transaction=True)
def test_tuspy_uploads_in_chunks_and_resumes_where_it_stopped(team: Team, live_server: Any, media_dir: Path) -> None:
    dataset_id = dataset_create(team)
    endpoint = f"{live_server.url}/api/v1/uploads/"
    client = tus.TusClient(endpoint, headers={"Authorization": f"Bearer {team.owner.token}"})
    wav = media_dir / "tone.wav"  # about 520 KB: several chunks

    first = client.uploader(
        str(wav), chunk_size=64 * 1024, metadata={"dataset": dataset_id, "filename": "tone.wav", "tags": "sine, test"}
    )
    first.upload_chunk()
    first.upload_chunk()
    assert Upload.objects.get().offset == 128 * 1024  # then the client is gone

    again = client.uploader(str(wav), chunk_size=64 * 1024, url=first.url, upload_checksum=True)  # sha1 per chunk
    assert again.offset == 128 * 1024  # asked with HEAD: it goes on from there
    again.upload()
    stored = _stored(dataset_id, "tone.wav")
    assert stored.blob.sha256 == hashlib.sha256(wav.read_bytes()).hexdigest()
    assert stored.tags == ["sine", "test"] and stored.uploaded_by == team.owner.user
    listed = requests.get(endpoint, headers={"Authorization": f"Bearer {team.owner.token}"}, timeout=30).json()
    assert [(u["state"], u["file"], u["offset"]) for u in listed["results"]] == [
        ("complete", str(stored.pk), wav.stat().st_size)
    ]

    # A MIDI file in one request, with its path in the dataset given apart from its name.
    midi = media_dir / "melody.mid"
    client.uploader(
        str(midi), metadata={"dataset": dataset_id, "filename": "melody.mid", "path": "midi/a.mid"}
    ).upload()
    assert _stored(dataset_id, "midi/a.mid").blob.sha256 == hashlib.sha256(midi.read_bytes()).hexdigest()


@pytest.mark.django_db(transaction=True)
def test_creation_with_upload_and_what_the_server_offers(team: Team, live_server: Any, media_dir: Path) -> None:
    dataset_id = dataset_create(team)
    options = requests.options(f"{live_server.url}/api/v1/uploads/", timeout=30)
    assert options.status_code == 204 and options.headers["Tus-Version"] == "1.0.0"
    assert set(options.headers["Tus-Extension"].split(",")) == {
        "creation",
        "creation-with-upload",
        "termination",
        "checksum",
        "expiration",
    }
    assert options.headers["Tus-Checksum-Algorithm"] == "sha1,sha256"

    data = (media_dir / "melody.mid").read_bytes()
    created = requests.post(
        f"{live_server.url}/api/v1/uploads/",
        data=data,
        headers={
            **TUS,
            "Authorization": f"Bearer {team.owner.token}",
            "Upload-Length": str(len(data)),
            "Upload-Metadata": _metadata(dataset=dataset_id, filename="whole.mid"),
            "Content-Type": "application/offset+octet-stream",
            "Upload-Checksum": "sha256 " + base64.b64encode(hashlib.sha256(data).digest()).decode(),
        },
        timeout=30,
    )
    assert created.status_code == 201, created.text
    assert created.headers["Upload-Offset"] == str(len(data)) and created.headers["Upload-Expires"]
    assert created.headers["Location"].startswith(f"{live_server.url}/api/v1/uploads/")
    assert created.headers["Ledgerline-Dataset-File"] == str(_stored(dataset_id, "whole.mid").pk)


def _creation(team: Team, dataset_id: str, length: int | str, filename: str) -> Any:
    return team.owner.client.post(
        "/api/v1/uploads/",
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_LENGTH=str(length),
        HTTP_UPLOAD_METADATA=_metadata(dataset=dataset_id, filename=filename),
    )


def _create(team: Team, dataset_id: str, length: int, filename: str = "take.wav") -> str:
    response = _creation(team, dataset_id, length, filename)
    assert response.status_code == 201, response.content
    return str(response["Location"]).rstrip("/").rsplit("/", 1)[1]


def _environ(team: Team, upload_id: str, body: Any, length: int, offset: int) -> dict[str, Any]:
    """A PATCH as a WSGI server hands it over, its body read from ``body`` as it goes."""
    return {
        "REQUEST_METHOD": "PATCH",
        "PATH_INFO": f"/api/v1/uploads/{upload_id}/",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": body,
        "CONTENT_LENGTH": str(length),
        "CONTENT_TYPE": "application/offset+octet-stream",
        "HTTP_AUTHORIZATION": f"Bearer {team.owner.token}",
        "HTTP_TUS_RESUMABLE": "1.0.0",
        "HTTP_UPLOAD_OFFSET": str(offset),
    }


def _patch(team: Team, upload_id: str, data: bytes, offset: int, **headers: str) -> Any:
    return team.owner.client.generic(
        "PATCH",
        f"/api/v1/uploads/{upload_id}/",
        data,
        content_type="application/offset+octet-stream",
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_OFFSET=str(offset),
        **headers,
    )


def _offset(team: Team, upload_id: str) -> int:
    response = team.owner.client.head(f"/api/v1/uploads/{upload_id}/", HTTP_TUS_RESUMABLE="1.0.0")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    return int(response["Upload-Offset"])


@pytest.mark.django_db
def test_a_chunk_with_the_wrong_checksum_is_refused_and_the_offset_stays(team: Team, media_dir: Path) -> None:
    dataset_id = dataset_create(team)
    data = (media_dir / "tone.wav").read_bytes()
    upload_id = _create(team, dataset_id, len(data))
    assert _patch(team, upload_id, data[:1000], 0).status_code == 204
    chunk = data[1000:5000]
    wrong = "sha256 " + base64.b64encode(hashlib.sha256(chunk + b"x").digest()).decode()
    refused = _patch(team, upload_id, chunk, 1000, HTTP_UPLOAD_CHECKSUM=wrong)
    assert refused.status_code == 460 and "do not match" in refused.json()["error"]["message"]
    assert _offset(team, upload_id) == 1000
    assert resumable.part_path(Upload.objects.get()).stat().st_size == 1000
    right = "sha1 " + base64.b64encode(hashlib.sha1(data[1000:]).digest()).decode()
    assert _patch(team, upload_id, data[1000:], 1000, HTTP_UPLOAD_CHECKSUM=right).status_code == 204
    assert _stored(dataset_id, "take.wav").blob.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.django_db
def test_a_finished_upload_that_is_not_valid_media_is_refused_and_nothing_is_kept(
    team: Team, media_dir: Path, settings: Any
) -> None:
    dataset_id = dataset_create(team)
    data = (media_dir / "truncated.wav").read_bytes()  # a WAV header that promises more than follows
    upload_id = _create(team, dataset_id, len(data))
    assert _patch(team, upload_id, data[:100], 0).status_code == 204
    refused = _patch(team, upload_id, data[100:], 100)
    reason = refused.json()["error"]["message"]
    assert refused.status_code == 400 and "take.wav" in reason and "Nothing was added" in reason
    upload = Upload.objects.get()
    assert upload.state == "refused" and upload.error == reason
    assert not resumable.part_path(upload).exists() and not _blobs(settings) and not DatasetFile.objects.exists()
    gone = team.owner.client.head(f"/api/v1/uploads/{upload_id}/", HTTP_TUS_RESUMABLE="1.0.0")
    assert gone.status_code == 410

    # Not media at all: refused at its first bytes, before the rest is sent.
    text = (media_dir / "notes.txt").read_bytes()
    upload_id = _create(team, dataset_id, 10 * MiB, filename="notes.wav")
    early = _patch(team, upload_id, text, 0)
    assert early.status_code == 400 and "not a MIDI, WAV, FLAC or MP3" in early.json()["error"]["message"]
    assert not resumable.part_path(Upload.objects.get(pk=upload_id)).exists() and not Blob.objects.exists()


@pytest.mark.django_db
def test_a_request_cut_short_keeps_what_arrived_unless_a_checksum_covers_it(team: Team, media_dir: Path) -> None:
    dataset_id = dataset_create(team)
    data = (media_dir / "tone.wav").read_bytes()
    upload_id = _create(team, dataset_id, len(data))

    def cut(sent: bytes, claimed: int, **headers: str) -> None:
        # The client went away after ``sent``.
        environ = _environ(team, upload_id, io.BytesIO(sent), claimed, _offset(team, upload_id))
        ClientHandler(enforce_csrf_checks=False)({**environ, **headers})

    cut(data[:3000], 10_000)
    assert _offset(team, upload_id) == 3000
    checksum = "sha256 " + base64.b64encode(hashlib.sha256(data[3000:13_000]).digest()).decode()
    cut(data[3000:8000], 10_000, HTTP_UPLOAD_CHECKSUM=checksum)
    assert _offset(team, upload_id) == 3000
    assert _patch(team, upload_id, data[3000:], 3000).status_code == 204
    assert _stored(dataset_id, "take.wav").blob.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.django_db
def test_protocol_mistakes_get_their_4xx(team: Team, media_dir: Path) -> None:
    dataset_id = dataset_create(team)
    data = (media_dir / "melody.mid").read_bytes()
    upload_id = _create(team, dataset_id, len(data))
    assert _patch(team, upload_id, data[:10], 5).status_code == 409  # not where the upload is
    assert _patch(team, upload_id, data + b"more", 0).status_code == 400  # past its length
    no_version = team.owner.client.generic(
        "PATCH", f"/api/v1/uploads/{upload_id}/", data, content_type="application/offset+octet-stream"
    )
    assert no_version.status_code == 412 and no_version["Tus-Version"] == "1.0.0"
    wrong_type = team.owner.client.generic(
        "PATCH",
        f"/api/v1/uploads/{upload_id}/",
        data,
        content_type="application/json",
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_OFFSET="0",
    )
    assert wrong_type.status_code == 415
    assert _patch(team, upload_id, data, 0, HTTP_UPLOAD_CHECKSUM="md5 AAAA").status_code == 400
    for metadata in ("dataset", "dataset !!!,filename eA==", _metadata(filename="a.mid"), "dataset eA== x y"):
        created = team.owner.client.post(
            "/api/v1/uploads/", HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_LENGTH="10", HTTP_UPLOAD_METADATA=metadata
        )
        assert created.status_code in (400, 404), (metadata, created.status_code)
    for length in ("-1", "ten", "9" * 30, ""):
        assert _creation(team, dataset_id, length, "a.mid").status_code == 400, length
    taken = _create(team, dataset_id, len(data), filename="first.mid")
    assert _patch(team, taken, data, 0).status_code == 204
    again = _creation(team, dataset_id, 100, "first.mid")
    assert again.status_code == 400 and "already in this dataset" in again.json()["error"]["message"]

    with open(resumable.part_path(Upload.objects.get(pk=upload_id)), "rb") as part:  # another request writing
        fcntl.flock(part.fileno(), fcntl.LOCK_EX)
        assert _patch(team, upload_id, data, 0).status_code == 423


@pytest.mark.django_db
def test_uploads_are_their_uploaders_alone(team: Team, media_dir: Path) -> None:
    dataset_id = dataset_create(team)
    data = (media_dir / "melody.mid").read_bytes()
    upload_id = _create(team, dataset_id, len(data))
    url = f"/api/v1/uploads/{upload_id}/"
    for member in (team.outsider, team.teammate):
        assert member.client.get(url).status_code == 404
        assert member.client.head(url, HTTP_TUS_RESUMABLE="1.0.0").status_code == 404
        assert member.client.delete(url, HTTP_TUS_RESUMABLE="1.0.0").status_code == 404
        assert member.client.get("/api/v1/uploads/").json()["results"] == []
    creation = {"HTTP_TUS_RESUMABLE": "1.0.0", "HTTP_UPLOAD_LENGTH": "10"}
    into = _metadata(dataset=dataset_id, filename="x.mid")
    outsider = team.outsider.client.post("/api/v1/uploads/", HTTP_UPLOAD_METADATA=into, **creation)
    assert outsider.status_code == 404
    auditor = team.auditor.client.post("/api/v1/uploads/", HTTP_UPLOAD_METADATA=into, **creation)
    assert auditor.status_code == 403
    assert APIClient().post("/api/v1/uploads/", HTTP_UPLOAD_METADATA=into, **creation).status_code == 401
    assert Upload.objects.count() == 1


@pytest.mark.django_db
def test_termination_expiry_and_the_quota(
    team: Team, media_dir: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset_id = dataset_create(team)
    data = (media_dir / "tone.wav").read_bytes()
    ended = _create(team, dataset_id, len(data), filename="ended.wav")
    assert _patch(team, ended, data[:4096], 0).status_code == 204
    part = resumable.part_path(Upload.objects.get(pk=ended))
    assert team.owner.client.delete(f"/api/v1/uploads/{ended}/", HTTP_TUS_RESUMABLE="1.0.0").status_code == 204
    assert not part.exists()
    assert team.owner.client.head(f"/api/v1/uploads/{ended}/", HTTP_TUS_RESUMABLE="1.0.0").status_code == 404

    stale = _create(team, dataset_id, len(data), filename="stale.wav")
    assert _patch(team, stale, data[:4096], 0).status_code == 204
    Upload.objects.filter(pk=stale).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _patch(team, stale, data[4096:], 4096).status_code == 410
    assert not Upload.objects.filter(pk=stale).exists() and not resumable.part_path(Upload(pk=stale)).exists()

    settings.LEDGERLINE_UPLOAD_QUOTA_BYTES = 3 * len(data)
    kept = [_create(team, dataset_id, len(data), filename=f"{i}.wav") for i in range(3)]
    over = _creation(team, dataset_id, 1, "one-too-many.wav")
    assert over.status_code == 413 and "unfinished uploads already reserve" in over.json()["error"]["message"]
    Upload.objects.filter(pk=kept[0]).update(expires_at=timezone.now() - timedelta(seconds=1))
    _create(team, dataset_id, 1, filename="room-again.wav")  # the expired one no longer counts

    monkeypatch.setattr(resumable, "MAX_UNFINISHED", Upload.objects.filter(state="receiving").count())
    many = _creation(team, dataset_id, 1, "one-upload-too-many.wav")
    assert many.status_code == 413 and "unfinished uploads, the most" in many.json()["error"]["message"]

    orphan = Path(settings.LEDGERLINE_BLOB_DIR) / "uploads" / "no-such-upload"
    orphan.write_bytes(b"left by a crash")
    os.utime(orphan, (0, 0))
    call_command("blobs", "gc", stdout=io.StringIO())
    assert not orphan.exists() and resumable.part_path(Upload.objects.get(pk=kept[1])).exists()


@pytest.mark.django_db
def test_bytes_this_host_may_have_lost_are_asked_again(team: Team, media_dir: Path) -> None:
    dataset_id = dataset_create(team)
    data = (media_dir / "tone.wav").read_bytes()
    upload_id = _create(team, dataset_id, len(data))
    assert _patch(team, upload_id, data[:50_000], 0).status_code == 204
    Upload.objects.filter(pk=upload_id).update(boot_id="a boot before a power cut")
    assert _offset(team, upload_id) == 0  # its page cache may not have reached the disk
    assert _patch(team, upload_id, data, 0).status_code == 204
    assert _stored(dataset_id, "take.wav").blob.sha256 == hashlib.sha256(data).hexdigest()


def _tone_blocks(count: int) -> Iterator[bytes]:
    t = np.arange(MiB // 4) / 44100
    block = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").repeat(2).tobytes()
    for _ in range(count):
        yield block


class _Body(io.RawIOBase):
    """A request body made as it is read."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self.blocks, self.left = blocks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self.left:
            self.left = next(self.blocks, b"")
        n = min(len(buffer), len(self.left))
        buffer[:n], self.left = self.left[:n], self.left[n:]
        return n


@pytest.mark.slow
@pytest.mark.django_db
def test_a_multi_gigabyte_upload_in_chunks_keeps_memory_flat(team: Team) -> None:
    dataset_id = dataset_create(team)
    blocks, per_request = 2048, 512  # 2 GiB of audio in four requests of 512 MiB
    header = pcm16_wav_header(blocks * MiB)
    digest = hashlib.sha256(header)
    for block in _tone_blocks(blocks):
        digest.update(block)
    upload_id = _create(team, dataset_id, len(header) + blocks * MiB, filename="long.wav")
    assert _patch(team, upload_id, header, 0).status_code == 204
    handler = ClientHandler(enforce_csrf_checks=False)
    Path("/proc/self/clear_refs").write_text("5")  # the peak resident size starts again from now
    resident = _status_kib("VmRSS")
    tracemalloc.start()
    try:
        for start in range(0, blocks, per_request):
            body = io.BufferedReader(_Body(_tone_blocks(per_request)), MiB)
            response = handler(_environ(team, upload_id, body, per_request * MiB, len(header) + start * MiB))
            assert response.status_code == 204, response.content
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    stored = _stored(dataset_id, "long.wav")
    assert stored.blob.sha256 == digest.hexdigest() and stored.blob.size == len(header) + blocks * MiB
    assert peak < 40 * MiB, f"Python's allocations peaked at {peak / MiB:.0f} MiB for a 2 GiB upload"
    grown = (_status_kib("VmHWM") - resident) * 1024  # the process's own memory, buffers included
    assert grown < 64 * MiB, f"the process grew by {grown / MiB:.0f} MiB for a 2 GiB upload"


def _status_kib(field: str) -> int:
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field))
    return int(line.split()[1])
